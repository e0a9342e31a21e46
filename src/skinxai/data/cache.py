"""Decode a list of images once into one uint8 tensor at the model's input size.

Training then augments tensors in memory instead of decoding JPEGs every epoch: on a GPU the
JPEG decoder, not the network, would otherwise bound the speed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from skinxai.data.folder import LabelledImage
from skinxai.data.masks import find_masks, load_mask
from skinxai.io import ImageInputError, load_image
from skinxai.preprocessing import to_square_uint8


def decode_images(
    paths: Sequence[os.PathLike],
    size: int,
    workers: int | None = None,
    errors: dict[int, ImageInputError] | None = None,
) -> torch.Tensor:
    """uint8 tensor (N, 3, size, size) of the images at ``paths``, decoded in parallel. A file
    that is not a usable image raises, or, when an ``errors`` dict is given, is recorded there
    (index -> the error) and left black."""
    out = torch.zeros((len(paths), 3, size, size), dtype=torch.uint8)

    def decode(index: int) -> None:
        try:
            out[index] = to_square_uint8(load_image(paths[index]), size)
        except ImageInputError as exc:
            if errors is None:
                raise
            errors[index] = exc

    with ThreadPoolExecutor(max_workers=workers or min(16, os.cpu_count() or 1)) as pool:
        list(pool.map(decode, range(len(paths))))
    return out


def decode_masks(paths: Sequence[os.PathLike | None], size: int) -> torch.Tensor:
    """uint8 tensor (N, 1, size, size): 1 inside the lesion, all 0 where ``paths`` has None."""
    out = torch.zeros((len(paths), 1, size, size), dtype=torch.uint8)

    def decode(index: int) -> None:
        if paths[index] is not None:
            out[index, 0] = load_mask(Path(paths[index]), size)

    with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
        list(pool.map(decode, range(len(paths))))
    return out


class DecodedDataset(Dataset):
    """Labelled images held decoded in memory, each with the index of its source (the
    validation set it came from), its weight in the loss and, where ``mask_folders`` hold one,
    its lesion mask.

    Items are dicts: ``image`` (after ``transform``, which receives a uint8 (3, S, S)
    ``tv_tensors.Image`` and the mask as ``tv_tensors.Mask``), ``label``, ``source``,
    ``weight`` (1 unless given), ``mask`` ((1, S, S) uint8; (1, 1, 1) when no folder was given)
    and ``has_mask``.
    """

    def __init__(
        self,
        samples: Sequence[LabelledImage],
        size: int,
        transform: Callable | None = None,
        sources: Sequence[int] | None = None,
        mask_folders: Sequence[Path] = (),
        weights: Sequence[float] | None = None,
    ) -> None:
        self.samples = list(samples)
        self.images = decode_images([s.path for s in self.samples], size)
        self.labels = torch.tensor([s.label for s in self.samples], dtype=torch.long)
        self.sources = torch.tensor(list(sources or [0] * len(self.samples)), dtype=torch.long)
        self.weights = torch.tensor(list(weights or [1.0] * len(self.samples)))
        self.masks: torch.Tensor | None = None
        self.has_mask = torch.zeros(len(self.samples), dtype=torch.bool)
        if mask_folders:
            found = find_masks([s.path for s in self.samples], mask_folders)
            self.masks = decode_masks(found, size)
            self.has_mask = self.masks.flatten(1).any(dim=1)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image = tv_tensors.Image(self.images[index])
        if self.masks is None:
            mask = tv_tensors.Mask(torch.zeros((1, 1, 1), dtype=torch.uint8))
            image = self.transform(image) if self.transform else image
        else:
            mask = tv_tensors.Mask(self.masks[index])
            image, mask = self.transform(image, mask) if self.transform else (image, mask)
        return {
            "image": image.as_subclass(torch.Tensor),
            "label": self.labels[index],
            "source": self.sources[index],
            "weight": self.weights[index],
            "mask": mask.as_subclass(torch.Tensor),
            "has_mask": self.has_mask[index],
        }
