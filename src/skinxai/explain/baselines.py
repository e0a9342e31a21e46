"""Maps that know nothing about the model, scored by the same code as the real methods: an
explanation method is only worth its cost where it beats them.

Each takes the preprocessed batch (B, 3, H, W) and returns maps (B, H, W) in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from skinxai.explain.core import minmax_per_map, normalise_maps


def centred_gaussian(inputs: torch.Tensor, sigma_fraction: float = 0.25) -> torch.Tensor:
    """A Gaussian blob in the centre, sigma a quarter of the side: "the lesion is in the
    middle", which photographers of lesions make nearly true."""
    batch, _, height, width = inputs.shape
    y = torch.arange(height, dtype=torch.float32, device=inputs.device) - (height - 1) / 2
    x = torch.arange(width, dtype=torch.float32, device=inputs.device) - (width - 1) / 2
    blob = torch.exp(
        -(y[:, None] ** 2) / (2 * (sigma_fraction * height) ** 2)
        - x[None, :] ** 2 / (2 * (sigma_fraction * width) ** 2)
    )
    return minmax_per_map(blob.expand(batch, -1, -1).contiguous())


def uniform(inputs: torch.Tensor) -> torch.Tensor:
    """Every pixel equally relevant (all ones)."""
    batch, _, height, width = inputs.shape
    return torch.ones(batch, height, width, device=inputs.device)


def random_map(inputs: torch.Tensor, grid: int = 7, seed: int = 0) -> torch.Tensor:
    """Uniform noise on a ``grid`` x ``grid`` map (the feature grid's size), upsampled like a
    CAM; seeded by the image's content, so the same image always gets the same map."""
    maps = []
    for image in inputs:
        key = int((image.float().abs().sum() * 1000).item()) % (2**31) + seed
        generator = torch.Generator().manual_seed(key)
        maps.append(torch.rand(1, grid, grid, generator=generator))
    return normalise_maps(torch.cat(maps).to(inputs.device), tuple(inputs.shape[-2:]))


def sobel_edges(inputs: torch.Tensor, blur_sigma: float = 4.0) -> torch.Tensor:
    """Image-only saliency: the Sobel gradient magnitude of the grey image, smoothed. It
    finds borders, hairs and rulers as readily as lesions, and ignores the model."""
    grey = inputs.float().mean(dim=1, keepdim=True)
    sobel_x = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], device=inputs.device)
    kernels = torch.stack([sobel_x, sobel_x.T])[:, None]
    gradients = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = gradients.pow(2).sum(dim=1, keepdim=True).sqrt()
    size = 2 * int(2 * blur_sigma) + 1
    smooth = TF.gaussian_blur(magnitude, [size, size], [blur_sigma, blur_sigma])
    return minmax_per_map(smooth[:, 0])


BASELINES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "baseline:centred-gaussian": centred_gaussian,
    "baseline:uniform": uniform,
    "baseline:random": random_map,
    "baseline:sobel": sobel_edges,
}
