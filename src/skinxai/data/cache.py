"""Decode a list of images once into one uint8 tensor at the model's input size.

Training then augments tensors in memory instead of decoding JPEGs every epoch: on a GPU the
JPEG decoder, not the network, would otherwise bound the speed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from torch.utils.data import Dataset

from skinxai.data.folder import LabelledImage
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


class DecodedDataset(Dataset):
    """Labelled images held decoded in memory; ``transform`` receives a uint8 (3, S, S) tensor."""

    def __init__(
        self, samples: Sequence[LabelledImage], size: int, transform: Callable | None = None
    ) -> None:
        self.samples = list(samples)
        self.images = decode_images([s.path for s in self.samples], size)
        self.labels = torch.tensor([s.label for s in self.samples], dtype=torch.long)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.labels[index])
