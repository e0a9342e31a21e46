"""The one resize-and-normalise path shared by inference, training caches and explanations.

The whole image is resized (not cropped) to a square so that no part of the lesion is lost;
fanconic's 224x224 images were made the same way from the ISIC originals.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

# An image whose short side is at least this many times the input size is first shrunk by an
# integer box filter: the same low-pass picture within 1-2 grey levels, without the float copy
# of every pixel that the antialiased bicubic resize makes (600 MB for 50 megapixels).
PRE_REDUCE_MARGIN = 4


def to_square_uint8(image: Image.Image, size: int) -> torch.Tensor:
    """An RGB PIL image -> uint8 tensor (3, size, size), bicubic with antialiasing."""
    factor = min(image.size) // (PRE_REDUCE_MARGIN * size)
    if factor >= 2:  # crop the < factor pixels that would make a partial box at the edges
        width, height = image.width // factor * factor, image.height // factor * factor
        image = image.reduce(factor, box=(0, 0, width, height))
    tensor = TF.to_image(image).as_subclass(torch.Tensor)
    return TF.resize(
        tensor, [size, size], interpolation=TF.InterpolationMode.BICUBIC, antialias=True
    )


def normalize(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> float32 normalised with the backbone's mean and std."""
    return TF.normalize(TF.to_dtype(batch, torch.float32, scale=True), list(mean), list(std))


def denormalize(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo :func:`normalize`: float (..., 3, H, W) back to [0, 1] for display."""
    mean_t = torch.tensor(mean, dtype=batch.dtype, device=batch.device).view(-1, 1, 1)
    std_t = torch.tensor(std, dtype=batch.dtype, device=batch.device).view(-1, 1, 1)
    return (batch * std_t + mean_t).clamp(0, 1)
