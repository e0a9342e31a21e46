"""`skinxai calibrate`: fit, on validation data only, the probability scaling (temperature, or
temperature and bias when that predicts held-out validation halves better), the operating
threshold for a stated goal and the "uncertain" band, and record them in the model's config."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from skinxai.data.specs import resolve_specs, stratified_subset
from skinxai.evaluation.report import RawPredictions, predict_logits
from skinxai.metrics.calibration import (
    SCALINGS,
    calibration_quality,
    coverage_and_accuracy,
    cross_validated_nll,
    fit_uncertain_band,
    p_malignant,
    rates_at,
    threshold_for_goal,
)
from skinxai.model import SkinClassifier
from skinxai.model_config import ModelConfig
from skinxai.ood_gate import DEFAULT_GATE_BLOCK, DEFAULT_QUANTILE, FeatureGate


def _usable(raw: RawPredictions, what: str) -> RawPredictions:
    if raw.failures:
        first = next(iter(raw.failures.values()))
        raise ValueError(f"{len(raw.failures)} {what} images are not usable, e.g. {first}")
    return raw


def fit_gate(
    model: SkinClassifier,
    train_specs: Sequence[str],
    validation_pooled: np.ndarray,
    limit: int = 3000,
    batch_size: int = 64,
) -> tuple[FeatureGate, dict]:
    """The "not dermoscopic" gate on the pooled features of two thirds of a stratified subset
    of ``limit`` training images; its limit at the 99.5th percentile of the scores of the
    validation images and of the held-out third (so every training source sets it)."""
    samples = stratified_subset(resolve_specs(list(train_specs)), limit, seed=0)
    pooled = _usable(predict_logits(model, samples, batch_size), "gate-fitting").pooled
    held_out = np.arange(len(pooled)) % 3 == 2
    gate = FeatureGate.fit(pooled[~held_out])
    limit_pool = np.concatenate([validation_pooled, pooled[held_out]])
    gate.set_limit(limit_pool)
    report = {
        "method": "probabilistic-PCA distance of pooled backbone features",
        "components": int(gate.components.shape[0]),
        "fitted_on": list(train_specs),
        "n_fitted": int((~held_out).sum()),
        "n_held_out_for_limit": int(held_out.sum()),
        "limit": gate.limit,
        "limit_quantile_of_validation": DEFAULT_QUANTILE,
        "validation_rejection_rate": gate.refusals(validation_pooled)["rejection_rate"],
    }
    return gate, report


def calibrated_config(
    model: SkinClassifier,
    val_specs: Sequence[str],
    goal: str = "sensitivity",
    value: float = 0.90,
    target_accuracy: float = 0.95,
    gate_train_specs: Sequence[str] = (),
    gate_val_specs: Sequence[str] = (),
    gate_limit: int = 3000,
    batch_size: int = 64,
    gate_block: int | None = DEFAULT_GATE_BLOCK,
) -> tuple[ModelConfig, FeatureGate | None]:
    """A copy of the model's config with temperature, threshold, operating point, uncertain
    band and a calibration report, all fitted on ``val_specs``; and, when
    ``gate_train_specs`` are given, a new "not dermoscopic" gate (else the model's own) whose
    limit also sees the validation sets ``gate_val_specs`` and which reads backbone block
    ``gate_block`` (None: the last feature map)."""
    if gate_train_specs:
        model.read_gate_from(gate_block)
    samples = resolve_specs(list(val_specs))
    raw = _usable(predict_logits(model, samples, batch_size), "validation")
    logits = raw.logits
    gate, gate_report = model.gate, model.config.ood_gate
    if gate_train_specs:
        extra = [s for s in gate_val_specs if s not in val_specs]
        pooled = raw.pooled
        if extra:
            more = _usable(predict_logits(model, resolve_specs(extra), batch_size), "validation")
            pooled = np.concatenate([pooled, more.pooled])
        gate, gate_report = fit_gate(model, gate_train_specs, pooled, gate_limit, batch_size)
        gate_report["block"] = gate_block
        gate_report["limit_fitted_on"] = [*val_specs, *extra]
    labels = np.array([s.label for s in samples])
    if len(np.unique(labels)) != 2:
        raise ValueError("the validation data must hold benign and malignant images")
    compared = {name: cross_validated_nll(logits, labels, name) for name in SCALINGS}
    chosen = min(compared, key=compared.get)
    temperature, bias = SCALINGS[chosen](logits, labels)
    before, p = p_malignant(logits), p_malignant(logits, temperature, bias)
    threshold = threshold_for_goal(p, labels, goal, value)
    band = fit_uncertain_band(p, labels, threshold, target_accuracy)
    config = dataclasses.replace(
        model.config,
        ood_gate=gate_report,
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
            "before": calibration_quality(before, labels),
            "after": calibration_quality(p, labels),
            **coverage_and_accuracy(p, labels, band),
        },
    )
    return config, gate
