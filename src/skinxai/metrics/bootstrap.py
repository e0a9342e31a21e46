"""Percentile bootstrap confidence intervals: a mean over images, an AUROC."""

from __future__ import annotations

import numpy as np


def bootstrap_mean(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> dict:
    """Mean of the finite ``values`` with a 95% percentile-bootstrap interval over them;
    ``n`` says how many values it rests on (None everywhere when there are none)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    rng = np.random.default_rng(seed)
    means = finite[rng.integers(0, len(finite), size=(resamples, len(finite)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(finite.mean()), "low": float(low), "high": float(high), "n": len(finite)}


def bootstrap_auroc(
    labels: np.ndarray, scores: np.ndarray, resamples: int = 1000, seed: int = 0
) -> dict:
    """AUROC with a 95% percentile-bootstrap interval, resampling positives and negatives
    separately (every resample keeps both classes); None where a class is missing."""
    from sklearn.metrics import roc_auc_score

    labels, scores = np.asarray(labels).astype(int), np.asarray(scores, dtype=np.float64)
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    counts = {"n": len(labels), "positives": len(positives)}
    if len(positives) == 0 or len(negatives) == 0:
        return {"auroc": None, "low": None, "high": None, **counts}
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        chosen = np.r_[rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))]
        values.append(roc_auc_score(labels[chosen], scores[chosen]))
    low, high = np.percentile(values, [2.5, 97.5])
    return {
        "auroc": float(roc_auc_score(labels, scores)),
        "low": float(low),
        "high": float(high),
        **counts,
    }
