"""Validation that covers every training source: AUROC per source and the worst of them.

Selecting on the pooled validation loss lets the largest source (HAM10000) outvote the
others; the worst per-source AUROC only improves when no source is sacrificed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

MONITORS = {"val_loss": "min", "val_worst_auroc": "max"}
PER_SOURCE_PREFIX = "val_auroc["


def per_source_key(name: str) -> str:
    """The logged metric (and history.csv column) of one source's AUROC: ``val_auroc[NAME]``."""
    return f"{PER_SOURCE_PREFIX}{name}]"


def auroc_per_source(
    p_malignant: np.ndarray, labels: np.ndarray, sources: np.ndarray, names: Sequence[str]
) -> dict[str, float]:
    """AUROC of the images of each source (NaN where a source lacks one of the classes)."""
    result = {}
    for index, name in enumerate(names):
        chosen = sources == index
        y = labels[chosen]
        ok = chosen.any() and 0 < y.sum() < y.size
        result[name] = float(roc_auc_score(y, p_malignant[chosen])) if ok else math.nan
    return result


def worst_auroc(per_source: dict[str, float]) -> float:
    """The lowest AUROC among the sources that have both classes (NaN if none has)."""
    values = [v for v in per_source.values() if not math.isnan(v)]
    return min(values) if values else math.nan
