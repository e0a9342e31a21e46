"""Leakage-free training sets: drop every training image that is a near-duplicate of an
evaluation image, and (optionally) repeated photos inside the training set itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skinxai.data.audit import DEFAULT_THRESHOLD, thumbnail_matrix
from skinxai.data.folder import LabelledImage


@dataclass
class CurationReport:
    """What was kept and why the rest was dropped (path -> the image it duplicates)."""

    kept: list[LabelledImage]
    leaked: dict[Path, Path] = field(default_factory=dict)
    repeated: dict[Path, Path] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {
            "kept": len(self.kept),
            "dropped_near_duplicates_of_evaluation_sets": len(self.leaked),
            "dropped_repeats_inside_training_set": len(self.repeated),
        }


def _best_matches(
    rows: np.ndarray, columns: np.ndarray, threshold: float, block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """For each row: whether some column correlates >= threshold, and the best column."""
    has_match = np.zeros(len(rows), dtype=bool)
    best = np.zeros(len(rows), dtype=np.int64)
    for start in range(0, len(rows), block):
        scores = rows[start : start + block] @ columns.T
        best[start : start + block] = scores.argmax(axis=1)
        has_match[start : start + block] = scores.max(axis=1, initial=-1.0) >= threshold
    return has_match, best


def curate_training_set(
    train: Sequence[LabelledImage],
    evaluation_paths: Sequence[Path],
    threshold: float = DEFAULT_THRESHOLD,
    drop_repeats: bool = True,
) -> CurationReport:
    """Remove training images that leak into ``evaluation_paths``; keep the first of repeats."""
    train_vectors = thumbnail_matrix([s.path for s in train])
    report = CurationReport(kept=[])
    leaked = np.zeros(len(train), dtype=bool)
    if evaluation_paths:
        eval_vectors = thumbnail_matrix(list(evaluation_paths))
        leaked, best = _best_matches(train_vectors, eval_vectors, threshold)
        for index in np.flatnonzero(leaked):
            report.leaked[train[index].path] = evaluation_paths[best[index]]
    kept = np.zeros(len(train), dtype=bool)
    for start in range(0, len(train), 2048):
        stop = min(start + 2048, len(train))
        scores = train_vectors[start:stop] @ train_vectors[:stop].T
        for offset in range(stop - start):
            index = start + offset
            if leaked[index]:
                continue
            if drop_repeats:
                earlier = np.flatnonzero((scores[offset, :index] >= threshold) & kept[:index])
                if earlier.size:
                    report.repeated[train[index].path] = train[earlier[0]].path
                    continue
            kept[index] = True
    report.kept = [sample for sample, keep in zip(train, kept, strict=True) if keep]
    return report
