"""Folder-per-class data sets (``ROOT/benign/*``, ``ROOT/malignant/*``), e.g. fanconic."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from skinxai.classes import CLASS_NAMES
from skinxai.data.paths import list_images
from skinxai.io import load_image


@dataclass(frozen=True)
class LabelledImage:
    """One image file and its class index (0 benign, 1 malignant)."""

    path: Path
    label: int


def list_labelled_images(root: str | os.PathLike) -> list[LabelledImage]:
    """Every image under ``root/benign`` and ``root/malignant`` with its class index."""
    root = Path(root)
    missing = [name for name in CLASS_NAMES if not (root / name).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"'{root}' is not a folder-per-class data set: missing {', '.join(missing)}/"
        )
    return [
        LabelledImage(path, label)
        for label, name in enumerate(CLASS_NAMES)
        for path in list_images(root / name)
    ]


class FolderDataset(Dataset):
    """A torch data set over a folder-per-class tree; yields ``(transform(image), label)``."""

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None) -> None:
        self.root = Path(root)
        self.samples = list_labelled_images(self.root)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        sample = self.samples[index]
        image = load_image(sample.path)
        return (self.transform(image) if self.transform else image), sample.label
