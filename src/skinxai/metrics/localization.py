"""Where a map points, measured against a lesion mask.

Every function takes maps (B, H, W) in [0, 1] and boolean masks (B, H, W) on the same grid
and returns one value per image, so that a caller can bootstrap over images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))
PAPER_TOLERANCE_PX = 15  # Zhang et al.'s pointing game, as used by the Grad-CAM paper
PAPER_INPUT_PX = 224


def tolerance_for(input_size: int) -> int:
    """The pointing game's 15 px tolerance (at 224 px input) scaled to ``input_size``."""
    return round(PAPER_TOLERANCE_PX * input_size / PAPER_INPUT_PX)


def dilate(masks: torch.Tensor, radius: int) -> torch.Tensor:
    """Grow boolean masks (B, H, W) by a disc of ``radius`` pixels."""
    if radius <= 0:
        return masks.bool()
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).float()
    hits = F.conv2d(masks[:, None].float(), disc[None, None].to(masks.device), padding=radius)
    return hits[:, 0] > 0.5


def peak_pixels(maps: torch.Tensor) -> torch.Tensor:
    """Boolean (B, H, W): the pixels where each map reaches its maximum (ties all kept)."""
    peak = maps.flatten(1).amax(dim=1)[:, None, None]
    return maps >= peak - 1e-6


def pointing_game(maps: torch.Tensor, masks: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """1 where the map's maximum falls inside the mask grown by ``tolerance`` px, else 0.

    A map with several maximal pixels (a flat map) scores the share of them inside: the hit
    rate of a random choice among the ties, so a uniform map cannot win by a tie-break.
    """
    peaks = peak_pixels(maps)
    inside = dilate(masks, tolerance)
    return (peaks & inside).flatten(1).sum(1) / peaks.flatten(1).sum(1)


def energy_inside(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Energy-based pointing game (Wang et al., Score-CAM): the share of the map's mass that
    lies inside the mask; NaN for an all-zero map."""
    total = maps.flatten(1).sum(1)
    inside = (maps * masks).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-12), torch.nan)


def thresholded_iou(maps: torch.Tensor, masks: torch.Tensor, threshold: float) -> torch.Tensor:
    """IoU of the region where the map is >= ``threshold`` with the mask; NaN if both empty."""
    region = maps >= threshold
    masks = masks.bool()
    intersection = (region & masks).flatten(1).sum(1).float()
    union = (region | masks).flatten(1).sum(1).float()
    return torch.where(union > 0, intersection / union.clamp_min(1), torch.nan)


def iou_per_threshold(
    maps: torch.Tensor, masks: torch.Tensor, thresholds: tuple[float, ...] = IOU_THRESHOLDS
) -> torch.Tensor:
    """(B, T): the thresholded IoU at each threshold, for picking the best one over a set."""
    return torch.stack([thresholded_iou(maps, masks, t) for t in thresholds], dim=1)


def localisation_scores(maps: torch.Tensor, masks: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every localisation metric per image: pointing game (strict and with the scaled 15 px
    tolerance), energy inside the mask, IoU at 0.5, and the IoU at every threshold."""
    size = maps.shape[-1]
    per_threshold = iou_per_threshold(maps, masks)
    return {
        "pointing_game": pointing_game(maps, masks),
        "pointing_game_tolerant": pointing_game(maps, masks, tolerance_for(size)),
        "energy_inside": energy_inside(maps, masks),
        "iou_at_0.5": per_threshold[:, IOU_THRESHOLDS.index(0.5)],
        "iou_per_threshold": per_threshold,
    }
