"""Canonical views the model takes of every input, so that how a photo was taken cannot carry
the label: a fixed effective resolution, a fixed dark rim, and the average over the eight
rotations and mirror images of the square (the dihedral group D4).

They run inside the model (``SkinClassifier.features``) on normalised batches, identical for
training, inference and every explainer, and they are differentiable for gradient methods.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from skinxai.data.acquisition import rim_weights

SYMMETRIES = ("none", "d4")
RIM_SOFTNESS = 0.05


def at_resolution(batch: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) reduced to ``size`` pixels a side (antialiased) and scaled back to H x W:
    detail finer than ``size`` is gone, so a sharper camera or a halved photo looks the same."""
    height, width = batch.shape[-2:]
    small = F.interpolate(batch, size=(size, size), mode="bilinear", antialias=True)
    return F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)


def inside_disc(
    batch: torch.Tensor, radius: float, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """A normalised batch made black outside a centred circle of ``radius`` times half the
    shorter side (soft edge): every image gets the same dermatoscope rim, so a rim or dark
    corners of its own say nothing."""
    height, width = batch.shape[-2:]
    keep = torch.from_numpy(rim_weights(height, width, radius, RIM_SOFTNESS)).to(batch)
    mean_t = torch.tensor(mean, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    black = -mean_t / std_t
    return batch * keep + black * (1 - keep)


def d4_views(batch: torch.Tensor) -> torch.Tensor:
    """(8B, C, H, W): the 4 rotations of a square batch, then the 4 rotations of its mirror
    image, each block of B in the batch's order."""
    if batch.shape[-1] != batch.shape[-2]:
        raise ValueError(f"D4 symmetry needs square inputs, got {tuple(batch.shape[-2:])}")
    mirrored = batch.flip(-1)
    return torch.cat(
        [torch.rot90(base, turns, (-2, -1)) for base in (batch, mirrored) for turns in range(4)]
    )


def d4_restore_mean(maps: torch.Tensor) -> torch.Tensor:
    """(8B, C, h, w) maps of :func:`d4_views` -> (B, C, h, w): each turned back to the input's
    orientation, then averaged."""
    restored = []
    for index, view_map in enumerate(maps.unflatten(0, (8, -1))):  # not chunk: ONNX's batch
        mirror, turns = divmod(index, 4)
        back = torch.rot90(view_map, -turns, (-2, -1))
        restored.append(back.flip(-1) if mirror else back)
    return torch.stack(restored).mean(dim=0)


def upright_mean(maps: torch.Tensor, batch_size: int) -> torch.Tensor:
    """A layer's maps for ``batch_size`` images -> (B, ..., h, w). Under D4 a layer inside the
    backbone holds 8 turned views of each image (:func:`d4_views`' 8B rows): each is turned
    back and the 8 averaged; with one view the maps pass through."""
    if len(maps) == batch_size:
        return maps
    if len(maps) != 8 * batch_size:
        raise ValueError(f"{len(maps)} maps for {batch_size} images: neither 1 nor 8 views each")
    return d4_restore_mean(maps)


def upright_gradient(gradient: torch.Tensor, batch_size: int) -> torch.Tensor:
    """d score / d A at a layer -> (B, ..., h, w) upright: under D4 the sum of the 8 views'
    turned-back gradients (8 x their mean), the gradient of the layer the model itself folds
    (its last map is the mean of the 8 views); with one view it passes through."""
    return upright_mean(gradient, batch_size) * (len(gradient) // batch_size)
