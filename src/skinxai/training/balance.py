"""How much each training image weighs in the loss: by class, or by class within its source.

Sources differ in their share of malignant lesions (clinics_train.csv: HAM10000 17%,
isic2017 8%, fanconic 47%). Weighted by class alone, "looks like fanconic's processing"
still means "probably malignant"; weighted by class within each source, the look of a source
says nothing about the label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from skinxai.data.paths import shared_data_dir


def class_weights(labels: Sequence[int], n_classes: int = 2) -> list[float]:
    """Inverse-frequency weights n / (k * n_c): each class contributes equally to the loss."""
    counts = Counter(labels)
    return [len(labels) / (n_classes * max(counts[c], 1)) for c in range(n_classes)]


def within_source_weights(
    labels: Sequence[int], sources: Sequence[str], n_classes: int = 2
) -> list[float]:
    """Per-image weights n_s / (k * n_{s,c}): within every source each class weighs as much
    as the other, and every source keeps its own total weight (its number of images; half of
    it for a source that holds one class only)."""
    if len(labels) != len(sources):
        raise ValueError(f"{len(labels)} labels but {len(sources)} sources")
    per_source = Counter(sources)
    per_cell = Counter(zip(sources, labels, strict=True))
    return [
        per_source[source] / (n_classes * per_cell[source, label])
        for source, label in zip(sources, labels, strict=True)
    ]


def source_names(paths: Sequence[str | Path]) -> list[str]:
    """The data set each image comes from: its top folder under the shared data folder
    (``ham10000``, ``fanconic``, ``isic2017``), else the folder that holds its class folder."""
    try:
        root: Path | None = shared_data_dir()
    except FileNotFoundError:
        root = None
    names = []
    for path in (Path(p).resolve() for p in paths):
        if root is not None and path.is_relative_to(root):
            names.append(path.relative_to(root).parts[0])
        else:
            names.append(path.parent.parent.name or str(path.parent))
    return names


def weighted_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Cross-entropy per image, averaged with the images' weights (sum w l / sum w), as
    ``nn.CrossEntropyLoss(weight=...)`` averages with class weights."""
    per_image = F.cross_entropy(logits, labels, reduction="none", label_smoothing=label_smoothing)
    weights = weights.to(per_image.dtype)
    return (weights * per_image).sum() / weights.sum().clamp_min(1e-12)
