"""Shades of Gray colour constancy (Finlayson & Trezzi, 2004) on normalised input batches.

Each image's illuminant is estimated as the Minkowski p-norm mean of each channel and divided
out, so a lesion photographed under warmer or cooler light reaches the network with the same
colours. It runs inside the model (``SkinClassifier.features``), so training, inference and
every explainer see the same corrected image; it is differentiable for gradient methods.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

EPSILON = 1e-6


def shades_of_gray(rgb: torch.Tensor, p: float = 6.0) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> the same with each channel scaled so that the p-norm
    illuminant estimate becomes grey; the overall brightness (the mean of the three channel
    estimates) is kept. Results are clipped to [0, 1]."""
    illuminant = rgb.clamp(min=0).pow(p).mean(dim=(2, 3), keepdim=True).pow(1.0 / p)
    gains = illuminant.mean(dim=1, keepdim=True) / illuminant.clamp(min=EPSILON)
    return (rgb * gains).clamp(0.0, 1.0)


def shades_of_gray_normalised(
    batch: torch.Tensor, p: float, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """:func:`shades_of_gray` on a batch normalised with ``mean`` and ``std`` (and back)."""
    mean_t = torch.tensor(mean, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    return (shades_of_gray(batch * std_t + mean_t, p) - mean_t) / std_t
