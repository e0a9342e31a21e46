"""HAM10000: images, binary and 7-class labels, lesion ids and lesion masks."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from skinxai.classes import BENIGN, MALIGNANT, MALIGNANT_DX
from skinxai.io import load_image

METADATA_FILE = "HAM10000_metadata.csv"


@dataclass(frozen=True)
class HamRecord:
    """One HAM10000 image: its ids, 7-class diagnosis, binary label and file locations."""

    image_id: str
    lesion_id: str
    dx: str
    image_path: Path
    mask_path: Path

    @property
    def label(self) -> int:
        return MALIGNANT if self.dx in MALIGNANT_DX else BENIGN


def read_ham_records(root: str | os.PathLike) -> list[HamRecord]:
    """Read the metadata CSV under ``root`` into records sorted by image id."""
    root = Path(root)
    metadata = root / METADATA_FILE
    if not metadata.is_file():
        raise FileNotFoundError(f"'{metadata}' not found: is '{root}' a HAM10000 folder?")
    with metadata.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = [
        HamRecord(
            image_id=row["image_id"],
            lesion_id=row["lesion_id"],
            dx=row["dx"],
            image_path=root / "images" / f"{row['image_id']}.jpg",
            mask_path=root / "masks" / f"{row['image_id']}_segmentation.png",
        )
        for row in rows
    ]
    return sorted(records, key=lambda r: r.image_id)


def load_mask(record: HamRecord, size: tuple[int, int]) -> np.ndarray:
    """The lesion mask as a boolean (height, width) array resized to ``size`` = (width, height)."""
    with Image.open(record.mask_path) as mask:
        resized = mask.convert("L").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(resized) >= 128


class HAM10000Dataset(Dataset):
    """HAM10000 images, optionally one split of the grouped manifest.

    Yields ``(image, label)``, or ``(image, label, mask)`` with ``return_mask=True``; a
    ``transform`` receives the image (and the mask as a ``tv_tensors.Mask``) jointly, so
    geometric augmentation moves both.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str | None = None,
        transform: Callable | None = None,
        return_mask: bool = False,
    ) -> None:
        from skinxai.data.splits import read_ham_split

        self.root = Path(root)
        records = read_ham_records(self.root)
        if split is not None:
            assignment = read_ham_split()
            records = [r for r in records if assignment.get(r.image_id) == split]
            if not records:
                raise ValueError(f"no HAM10000 images in split {split!r}")
        self.records = records
        self.transform = transform
        self.return_mask = return_mask

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> list[int]:
        return [r.label for r in self.records]

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        from torchvision import tv_tensors

        record = self.records[index]
        image = load_image(record.image_path)
        if not self.return_mask:
            return (self.transform(image) if self.transform else image), record.label
        mask = tv_tensors.Mask(torch.from_numpy(load_mask(record, image.size)))
        if self.transform:
            image, mask = self.transform(image, mask)
        return image, record.label, mask
