"""`skinxai calibrate`: fit, on validation data only, the probability scaling (temperature, or
temperature and bias when that predicts held-out validation halves better), the operating
threshold for a stated goal and the "uncertain" band, and record them in the model's config."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from skinxai.data.specs import resolve_specs
from skinxai.evaluation.report import predict_logits
from skinxai.metrics.calibration import (
    SCALINGS,
    brier_score,
    coverage_and_accuracy,
    cross_validated_nll,
    expected_calibration_error,
    fit_uncertain_band,
    negative_log_likelihood,
    p_malignant,
    rates_at,
    threshold_for_goal,
)
from skinxai.model import SkinClassifier
from skinxai.model_config import ModelConfig


def _quality(p: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {
        "ece_15_bins": expected_calibration_error(p, labels),
        "brier": brier_score(p, labels),
        "nll": negative_log_likelihood(p, labels),
    }


def calibrated_config(
    model: SkinClassifier,
    val_specs: Sequence[str],
    goal: str = "sensitivity",
    value: float = 0.90,
    target_accuracy: float = 0.95,
    batch_size: int = 64,
) -> ModelConfig:
    """A copy of the model's config with temperature, threshold, operating point, uncertain
    band and a calibration report, all fitted on ``val_specs``."""
    samples = resolve_specs(list(val_specs))
    logits, failures = predict_logits(model, samples, batch_size)
    if failures:
        first = next(iter(failures.values()))
        raise ValueError(f"{len(failures)} validation images are not usable, e.g. {first}")
    labels = np.array([s.label for s in samples])
    if len(np.unique(labels)) != 2:
        raise ValueError("the validation data must hold benign and malignant images")
    compared = {name: cross_validated_nll(logits, labels, name) for name in SCALINGS}
    chosen = min(compared, key=compared.get)
    temperature, bias = SCALINGS[chosen](logits, labels)
    before, p = p_malignant(logits), p_malignant(logits, temperature, bias)
    threshold = threshold_for_goal(p, labels, goal, value)
    band = fit_uncertain_band(p, labels, threshold, target_accuracy)
    return dataclasses.replace(
        model.config,
        temperature=temperature,
        bias=bias,
        threshold=threshold,
        operating_point={
            "goal": goal,
            "value": value,
            "fitted_on": list(val_specs),
            **rates_at(p, labels, threshold),
        },
        uncertain_band=(band.low, band.high),
        calibration={
            "method": chosen,
            "two_fold_nll_by_method": compared,
            "fitted_on": list(val_specs),
            "n": len(labels),
            "target_accuracy_of_confident_answers": target_accuracy,
            "before": _quality(before, labels),
            "after": _quality(p, labels),
            **coverage_and_accuracy(p, labels, band),
        },
    )
