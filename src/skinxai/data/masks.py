"""Lesion masks found beside images by name, read in the model's square input frame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from skinxai.data.paths import IMAGE_SUFFIXES
from skinxai.io import ImageInputError

MASK_SUFFIXES = ("", "_segmentation", "_mask")


def find_mask(image: Path, masks: Path) -> Path | None:
    """``masks/<stem><suffix>.<ext>`` for the suffixes '', '_segmentation', '_mask'."""
    for suffix in MASK_SUFFIXES:
        for ext in sorted(IMAGE_SUFFIXES):
            candidate = masks / f"{image.stem}{suffix}{ext}"
            if candidate.is_file():
                return candidate
    return None


def find_masks(images: Sequence[Path], folders: Sequence[Path]) -> list[Path | None]:
    """The mask of each image in the first of ``folders`` that has one (None: no mask)."""
    found: list[Path | None] = []
    for image in images:
        found.append(next((m for f in folders if (m := find_mask(Path(image), f))), None))
    return found


def load_mask(path: Path, size: int) -> torch.Tensor:
    """A lesion mask as a boolean (size, size) tensor in the model's square input frame."""
    try:
        with Image.open(path) as mask:
            grey = mask.convert("L").resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageInputError(f"mask '{path}' cannot be read: {exc}") from None
    return torch.from_numpy(np.asarray(grey) >= 128)
