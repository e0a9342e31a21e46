"""Augmentation as in the original study (rotation up to 90 degrees, zoom and shifts up to 7%,
horizontal and vertical flips) plus mild colour jitter and a random loss of resolution,
with torchvision transforms v2.

Both pipelines take uint8 (3, S, S) tensors already at the input size (see ``cache``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF


class RandomResolution(v2.Transform):
    """Downscale by a random factor and scale back up, so that sharpness carries no label.

    fanconic images are sharper than HAM10000's 200x150 images upsampled to the input size; a
    network trained on both otherwise learns the source (and its class mix) from sharpness.
    """

    def __init__(self, min_scale: float = 0.6, p: float = 0.5) -> None:
        super().__init__()
        self.min_scale, self.p = min_scale, p

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        apply = bool(torch.rand(()) < self.p)
        return {"scale": float(torch.empty(()).uniform_(self.min_scale, 1.0)) if apply else 1.0}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params["scale"] >= 1.0:
            return inpt
        height, width = inpt.shape[-2:]
        small = [max(8, round(height * params["scale"])), max(8, round(width * params["scale"]))]
        reduced = TF.resize(inpt, small, antialias=True)
        return TF.resize(reduced, [height, width], antialias=True)


def train_transform(mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    return v2.Compose(
        [
            RandomResolution(),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.RandomAffine(
                degrees=90,
                translate=(0.07, 0.07),
                scale=(0.93, 1.07),
                interpolation=v2.InterpolationMode.BILINEAR,
            ),
            v2.ColorJitter(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.02),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def eval_transform(mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    return v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])
