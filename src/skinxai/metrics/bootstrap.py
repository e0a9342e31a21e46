"""Percentile bootstrap confidence intervals for a mean over images."""

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
