"""`skinxai calibrate`: fit, on validation data only, the probability scaling (temperature,
Platt or beta: whichever predicts held-out validation halves best), the operating threshold
for a stated goal (with confidence over lesions) and the "uncertain" band, and record them in
the model's config."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from skinxai.data.specs import lesion_groups, resolve_spec, resolve_specs, stratified_subset
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
from skinxai.metrics.operating_point import confident_threshold, per_source_threshold
from skinxai.model import SkinClassifier
from skinxai.model_config import ModelConfig
from skinxai.ood_gate import DEFAULT_GATE_BLOCK, DEFAULT_QUANTILE, FeatureGate

DEFAULT_GOAL_CONFIDENCE = 0.95


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
    validation images and of the held-out third (so every training source sets it). The gate
    reads the upright view alone, so these images go through a one-view copy: under D4 the
    same features for an eighth of the passes."""
    samples = stratified_subset(resolve_specs(list(train_specs)), limit, seed=0)
    upright = model.with_symmetry("none") if model.config.symmetry != "none" else model
    pooled = _usable(predict_logits(upright, samples, batch_size), "gate-fitting").pooled
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
    goal_confidence: float | None = DEFAULT_GOAL_CONFIDENCE,
    gate_train_specs: Sequence[str] = (),
    gate_val_specs: Sequence[str] = (),
    gate_limit: int = 3000,
    batch_size: int = 64,
    gate_block: int | None = DEFAULT_GATE_BLOCK,
    goal_per_source: bool = False,
) -> tuple[ModelConfig, FeatureGate | None]:
    """A copy of the model's config with probability scaling, threshold, operating point,
    uncertain band and a calibration report, all fitted on ``val_specs``; and, when
    ``gate_train_specs`` are given, a new "not dermoscopic" gate (else the model's own) whose
    limit also sees the validation sets ``gate_val_specs`` and which reads backbone block
    ``gate_block`` (None: the last feature map). The threshold reaches ``goal`` >= ``value``
    at the ``goal_confidence`` lower bound of a bootstrap over lesions (None: on the
    validation images themselves): on the pooled ``val_specs``, or with ``goal_per_source`` on
    each of them (the strictest of their thresholds; the scaling is fitted on the pool)."""
    if gate_train_specs:
        model.read_gate_from(gate_block)
    parts = [resolve_spec(spec) for spec in val_specs]  # once each: A~B runs an audit
    samples = [sample for part in parts for sample in part]
    sources = [spec for spec, part in zip(val_specs, parts, strict=True) for _ in part]
    raw = _usable(predict_logits(model, samples, batch_size), "validation")
    gate, gate_report = model.gate, model.config.ood_gate
    if gate_train_specs:
        gate, gate_report = _refit_gate(
            model, raw.pooled, val_specs, gate_train_specs, gate_val_specs, gate_limit, batch_size
        )
        gate_report["block"] = gate_block
    labels = np.array([s.label for s in samples])
    if len(np.unique(labels)) != 2:
        raise ValueError("the validation data must hold benign and malignant images")
    scaling, report = _fit_scaling(raw.logits, labels)
    p = p_malignant(raw.logits, *scaling)
    groups = lesion_groups([s.path for s in samples])
    threshold, per_source = _fitted_threshold(
        p, labels, sources, groups, goal, value, goal_confidence, goal_per_source
    )
    band = fit_uncertain_band(p, labels, threshold, target_accuracy)
    config = dataclasses.replace(
        model.config,
        ood_gate=gate_report,
        temperature=scaling[0],
        bias=scaling[1],
        beta_shape=scaling[2],
        threshold=threshold,
        operating_point={
            "goal": goal,
            "value": value,
            "confidence": goal_confidence,
            "resampled_by": "lesion (HAM10000 lesion_id; other images alone)",
            "n_lesions": len(set(groups)),
            "fitted_on": list(val_specs),
            "holds_on": "each source" if goal_per_source else "the pooled sets",
            **rates_at(p, labels, threshold),
            **({"per_source": per_source} if per_source else {}),
        },
        uncertain_band=(band.low, band.high),
        calibration={
            **report,
            "fitted_on": list(val_specs),
            "n": len(labels),
            "target_accuracy_of_confident_answers": target_accuracy,
            "after": calibration_quality(p, labels),
            **coverage_and_accuracy(p, labels, band),
        },
    )
    return config, gate


def _fitted_threshold(
    p: np.ndarray,
    labels: np.ndarray,
    sources: Sequence[str],
    groups: Sequence[str],
    goal: str,
    value: float,
    goal_confidence: float | None,
    goal_per_source: bool,
) -> tuple[float, dict[str, dict]]:
    """The threshold reaching ``goal`` >= ``value`` on the pool or, with ``goal_per_source``,
    on each source (then also each source's rates at it; else an empty dict)."""
    if goal_per_source:
        threshold, own = per_source_threshold(
            p, labels, sources, goal, value, goal_confidence, groups
        )
        return threshold, _rates_per_source(p, labels, sources, threshold, own)
    if goal_confidence is None:
        return threshold_for_goal(p, labels, goal, value), {}
    return confident_threshold(p, labels, goal, value, goal_confidence, groups), {}


def _rates_per_source(
    p: np.ndarray,
    labels: np.ndarray,
    sources: Sequence[str],
    threshold: float,
    own: dict[str, float],
) -> dict[str, dict]:
    """Each source's n, its own threshold for the goal, and its rates at the chosen one."""
    sources = np.asarray(sources)
    report = {}
    for name, own_threshold in own.items():
        part = sources == name
        report[name] = {
            "n": int(part.sum()),
            "n_malignant": int(labels[part].sum()),
            "own_threshold": own_threshold,
            **rates_at(p[part], labels[part], threshold),
        }
    return report


def _refit_gate(
    model: SkinClassifier,
    val_pooled: np.ndarray,
    val_specs: Sequence[str],
    gate_train_specs: Sequence[str],
    gate_val_specs: Sequence[str],
    gate_limit: int,
    batch_size: int,
) -> tuple[FeatureGate, dict]:
    """:func:`fit_gate` with its limit set on the validation images and ``gate_val_specs``."""
    extra = [s for s in gate_val_specs if s not in val_specs]
    pooled = val_pooled
    if extra:
        more = _usable(predict_logits(model, resolve_specs(extra), batch_size), "validation")
        pooled = np.concatenate([pooled, more.pooled])
    gate, report = fit_gate(model, gate_train_specs, pooled, gate_limit, batch_size)
    report["limit_fitted_on"] = [*val_specs, *extra]
    return gate, report


def _fit_scaling(logits: np.ndarray, labels: np.ndarray) -> tuple[tuple[float, float, float], dict]:
    """The scaling (temperature, bias, beta shape) whose fit on one half of the validation
    images best predicts the other half (NLL), refitted on all; and the comparison."""
    compared = {name: cross_validated_nll(logits, labels, name) for name in SCALINGS}
    chosen = min(compared, key=compared.get)
    report = {
        "method": chosen,
        "two_fold_nll_by_method": compared,
        "before": calibration_quality(p_malignant(logits), labels),
    }
    return SCALINGS[chosen](logits, labels), report
