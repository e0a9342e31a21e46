"""Per-image scores -> one summary per method, target and metric, with bootstrap CIs."""

from __future__ import annotations

import numpy as np

from skinxai.explanation_quality.run import QualityScores
from skinxai.metrics.bootstrap import bootstrap_mean
from skinxai.metrics.localization import IOU_THRESHOLDS
from skinxai.metrics.sanity import CASCADE, LABELS_STAGE, PASS_BELOW, cascade_stage_names

# (key, column title, direction: +1 higher is better, -1 lower is better)
METRICS: tuple[tuple[str, str, int], ...] = (
    ("pointing_game", "pointing", 1),
    ("pointing_game_tolerant", "pointing ±15px", 1),
    ("energy_inside", "energy in lesion", 1),
    ("iou_at_0.5", "IoU@0.5", 1),
    ("best_iou", "best IoU", 1),
    ("deletion_auc", "deletion AUC", -1),
    ("insertion_auc", "insertion AUC", 1),
    ("average_drop", "avg drop %", -1),
    ("increase_in_confidence", "increase", 1),
    ("road_morf", "ROAD MoRF", -1),
    ("road_lerf", "ROAD LeRF", 1),
)
PAIRED = ("deletion_auc", "insertion_auc", "average_drop", "road_morf", "road_lerf")
RANDOM = "baseline:random"
LOCALISATION = ("pointing_game", "pointing_game_tolerant", "energy_inside", "best_iou")
TARGETS = ("predicted", "true")
REFERENCE = "baseline:centred-gaussian"


def for_target(values: np.ndarray, quality: QualityScores, target: str) -> np.ndarray:
    """Each image's value for its predicted or its true class (NaN where it has no label)."""
    chosen = quality.predicted if target == "predicted" else quality.labels
    rows = np.arange(len(chosen))
    picked = values[rows, np.clip(chosen, 0, 1)]
    picked[chosen < 0] = np.nan
    return picked


def _best_iou(per_threshold: np.ndarray) -> tuple[np.ndarray, float]:
    """The IoU at the one threshold with the best mean over the set, and that threshold."""
    means = np.nanmean(per_threshold, axis=0) if np.isfinite(per_threshold).any() else None
    if means is None:
        return per_threshold[:, 0], float("nan")
    best = int(np.nanargmax(means))
    return per_threshold[:, best], IOU_THRESHOLDS[best]


def _sanity(quality: QualityScores, name: str, target: str) -> dict | None:
    scores = quality.scores[name]
    if "sanity_spearman" not in scores:
        return None
    rho = for_target(scores["sanity_spearman"], quality, target)
    sim = for_target(scores["sanity_ssim"], quality, target)
    last = bootstrap_mean(rho[:, len(CASCADE) - 1])
    return {
        "stages": [*cascade_stage_names(CASCADE), LABELS_STAGE],
        "spearman": [bootstrap_mean(rho[:, s]) for s in range(rho.shape[1])],
        "ssim": [bootstrap_mean(sim[:, s]) for s in range(sim.shape[1])],
        "passed": None if last["mean"] is None else bool(last["mean"] < PASS_BELOW),
    }


def _method_summary(quality: QualityScores, name: str, target: str) -> dict:
    scores = quality.scores[name]
    summary: dict = {}
    for key, _, _ in METRICS:
        if key == "best_iou":
            values, threshold = _best_iou(for_target(scores["iou_per_threshold"], quality, target))
            summary[key] = {**bootstrap_mean(values), "threshold": threshold}
        elif key in scores:
            summary[key] = bootstrap_mean(for_target(scores[key], quality, target))
    summary["sanity"] = _sanity(quality, name, target)
    summary["paired_with_random_map"] = _paired_with_random(quality, name, target)
    return summary


def _paired_with_random(quality: QualityScores, name: str, target: str) -> dict:
    """Faithfulness differences to the random map on the same images: the image's own
    P(class) cancels out, so the interval is about the method, not about which images."""
    random_scores = quality.scores.get(RANDOM, {})
    if name == RANDOM:
        return {}
    paired = {}
    for key in PAIRED:
        if key in quality.scores[name] and key in random_scores:
            ours = for_target(quality.scores[name][key], quality, target)
            theirs = for_target(random_scores[key], quality, target)
            paired[key] = bootstrap_mean(ours - theirs)
    return paired


def _short_of_reference(summary: dict) -> dict[str, list[str]]:
    """Per method, the localisation metrics where it does not beat the centred Gaussian."""
    reference = summary.get(REFERENCE, {})
    verdicts = {}
    for name, metrics in summary.items():
        if name == REFERENCE:
            continue
        verdicts[name] = [
            key
            for key in LOCALISATION
            if metrics.get(key, {}).get("mean") is not None
            and reference.get(key, {}).get("mean") is not None
            and metrics[key]["mean"] <= reference[key]["mean"]
        ]
    return verdicts


def summarise(quality: QualityScores) -> dict:
    """Everything ``metrics.json`` holds: per target, per method (and baseline), per metric,
    the mean with its 95% bootstrap interval; sanity per stage; cost per image."""
    targets = {}
    for target in TARGETS:
        if target == "true" and (quality.labels < 0).all():
            continue
        per_method = {name: _method_summary(quality, name, target) for name in quality.scores}
        targets[target] = {
            "methods": per_method,
            "not_better_than_centred_gaussian": _short_of_reference(per_method),
        }
    scored = int((quality.predicted >= 0).sum())
    return {
        "n_images": scored,
        "n_failed": len(quality.failed),
        "failed": quality.failed,
        "methods": quality.methods,
        "targets": targets,
        "seconds": dict(quality.seconds),
        "seconds_per_image": {
            key: quality.seconds[key] / quality.counts[key]
            for key in quality.seconds
            if quality.counts.get(key)
        },
        "images_per_metric": dict(quality.counts),
    }
