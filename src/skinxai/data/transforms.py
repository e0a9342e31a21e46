"""Training augmentation, with torchvision transforms v2.

``study``: as in the original study (rotation up to 90 degrees, zoom and shifts up to 7%,
horizontal and vertical flips) plus mild colour jitter and a random loss of resolution.
``acquisition``: the study's plus the ways another clinic's camera differs (random JPEG
quality, stronger loss of resolution, colour temperature, gamma, a dermatoscope's dark rim)
and a wider zoom, so that none of them can carry the label.

Both pipelines take uint8 (3, S, S) tensors already at the input size (see ``cache``), and a
lesion mask beside the image (``tv_tensors.Mask``) follows every geometric change.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import v2

from skinxai.data.acquisition_augment import (
    RandomResolution,
    acquisition_changes,
    wide_black_circle,
)

RECIPES = ("study", "acquisition")


def train_transform(
    mean: Sequence[float], std: Sequence[float], recipe: str = "study", wide_circle_p: float = 0.0
) -> v2.Compose:
    """The training pipeline of ``recipe``; ``wide_circle_p`` > 0 also draws melanoma10k's
    wide black circle on that share of the images, of both classes."""
    if recipe not in RECIPES:
        raise ValueError(f"augmentation must be one of {', '.join(RECIPES)}, not {recipe!r}")
    acquisition = recipe == "acquisition"
    circle = [wide_black_circle(wide_circle_p)] if wide_circle_p > 0 else []
    return v2.Compose(
        [
            *(acquisition_changes() if acquisition else [RandomResolution()]),
            *circle,
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.RandomAffine(
                degrees=90,
                translate=(0.07, 0.07),
                scale=(0.8, 1.25) if acquisition else (0.93, 1.07),
                interpolation=v2.InterpolationMode.BILINEAR,
            ),
            v2.ColorJitter(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.02),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def eval_transform(mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    return v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])
