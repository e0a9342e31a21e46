"""Near-duplicate audit between two image sets, by correlation of 16x16 grey thumbnails.

Two files showing the same lesion photo (re-encoded, resized, squashed to another aspect)
give thumbnails whose Pearson correlation is close to 1; 0.995 is the threshold the data
README's measurements use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from skinxai.data.paths import list_images

THUMBNAIL_SIDE = 16
DEFAULT_THRESHOLD = 0.995


@dataclass(frozen=True)
class DuplicatePair:
    """An image of set A, its near-duplicate in set B, and their thumbnail correlation."""

    path_a: Path
    path_b: Path
    correlation: float


@dataclass(frozen=True)
class AuditResult:
    """All pairs above the threshold, plus the sizes of the two sets."""

    n_a: int
    n_b: int
    threshold: float
    pairs: list[DuplicatePair]

    @property
    def images_a_with_duplicate(self) -> set[Path]:
        return {p.path_a for p in self.pairs}

    @property
    def images_b_with_duplicate(self) -> set[Path]:
        return {p.path_b for p in self.pairs}


def thumbnail_vector(path: str | os.PathLike) -> np.ndarray:
    """A 16x16 grey (antialiased bilinear) thumbnail, centred and scaled to unit length."""
    with Image.open(path) as image:
        grey = image.convert("L").resize(
            (THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BILINEAR
        )
    vector = np.asarray(grey, dtype=np.float64).ravel()
    vector -= vector.mean()
    norm = np.linalg.norm(vector)
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def thumbnail_matrix(
    paths: Sequence[Path], progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """Thumbnail vectors of ``paths`` as rows, decoded on a small thread pool."""
    rows = np.zeros((len(paths), THUMBNAIL_SIDE * THUMBNAIL_SIDE), dtype=np.float32)
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        for index, vector in enumerate(pool.map(thumbnail_vector, paths, chunksize=64)):
            rows[index] = vector
            if progress:
                progress(1)
    return rows


def find_near_duplicates(
    paths_a: Sequence[Path],
    paths_b: Sequence[Path],
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[int], None] | None = None,
) -> AuditResult:
    """Every (a, b) pair whose thumbnail correlation is at least ``threshold``.

    A path that appears in both sets is not paired with itself.
    """
    vectors_a = thumbnail_matrix(paths_a, progress)
    vectors_b = thumbnail_matrix(paths_b, progress)
    resolved_b = [p.resolve() for p in paths_b]
    pairs: list[DuplicatePair] = []
    for start in range(0, len(paths_a), 1024):
        block = vectors_a[start : start + 1024] @ vectors_b.T
        for i, j in zip(*np.nonzero(block >= threshold), strict=True):
            path_a = paths_a[start + i]
            if path_a.resolve() == resolved_b[j]:
                continue
            pairs.append(DuplicatePair(path_a, paths_b[j], float(block[i, j])))
    pairs.sort(key=lambda p: (str(p.path_a), -p.correlation))
    return AuditResult(len(paths_a), len(paths_b), threshold, pairs)


def audit_folders(
    root_a: str | os.PathLike,
    root_b: str | os.PathLike,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[int], None] | None = None,
) -> AuditResult:
    """Audit every image under ``root_a`` against every image under ``root_b``."""
    return find_near_duplicates(list_images(root_a), list_images(root_b), threshold, progress)
