"""Pictures of explanations: jet heat maps, overlays, the original study's three panels (on the
photo as taken, with a colour bar), and a grid comparing several methods on one image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from PIL import Image

from skinxai.preprocessing import denormalize

DISPLAY_MAX_SIDE = 1024


def _as_numpy_map(heat: torch.Tensor | np.ndarray) -> np.ndarray:
    array = heat.detach().float().cpu().numpy() if isinstance(heat, torch.Tensor) else heat
    return np.clip(np.asarray(array, dtype=np.float32), 0.0, 1.0)


def heatmap(heat: torch.Tensor | np.ndarray) -> np.ndarray:
    """A [0, 1] map (H, W) -> jet-coloured uint8 RGB (H, W, 3)."""
    colours = matplotlib.colormaps["jet"](_as_numpy_map(heat))[..., :3]
    return np.round(colours * 255).astype(np.uint8)


def overlay(image: np.ndarray, heat: torch.Tensor | np.ndarray, opacity: float = 0.4) -> np.ndarray:
    """Blend the jet heat map over an RGB uint8 image of the same size; opacity in [0, 1]."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be within [0, 1], got {opacity}")
    coloured = heatmap(heat).astype(np.float32)
    blended = (1.0 - opacity) * image.astype(np.float32) + opacity * coloured
    return np.round(blended).clip(0, 255).astype(np.uint8)


def input_image(
    inputs: torch.Tensor, index: int, mean: Sequence[float], std: Sequence[float]
) -> np.ndarray:
    """The preprocessed input ``index`` back as a displayable uint8 RGB (H, W, 3) image."""
    restored = denormalize(inputs[index].detach().float().cpu(), mean, std)
    return np.round(restored.permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def photo_array(image: Image.Image, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """The photo at its own aspect ratio as uint8 RGB (H, W, 3), shrunk (never enlarged) so that
    its long side is at most ``max_side``."""
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def add_colour_bar(figure: plt.Figure, axes, evidence_for: str) -> None:
    """A jet colour bar beside ``axes`` that says what blue and red mean."""
    mappable = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=matplotlib.colormaps["jet"])
    bar = figure.colorbar(mappable, ax=axes, fraction=0.04, pad=0.02, ticks=[0.0, 1.0])
    bar.ax.set_yticklabels(["low", "high"], fontsize=8)
    bar.set_label(f"evidence for {evidence_for}\n(scaled per image)", fontsize=8)


def three_panels(
    image: np.ndarray,
    rows: Mapping[str, torch.Tensor | np.ndarray],
    path: Path,
    title: str = "",
    opacity: float = 0.4,
    evidence_for: str | None = None,
    panel_inches: float = 4.0,
) -> None:
    """The original study's figure, one row per method: original, heat map, blended. Panels
    keep the image's aspect ratio; with ``evidence_for`` each row gets a colour bar."""
    height, width = image.shape[:2]
    panel_height = panel_inches * height / width
    figure, axes = plt.subplots(
        len(rows),
        3,
        figsize=(3 * panel_inches + (0.9 if evidence_for else 0.0), panel_height * len(rows) + 0.8),
        squeeze=False,
        layout="constrained",
    )
    for row_axes, (method, heat) in zip(axes, rows.items(), strict=True):
        panels = (image, heatmap(heat), overlay(image, heat, opacity))
        for axis, panel, name in zip(
            row_axes, panels, ("original", method, "blended"), strict=True
        ):
            axis.imshow(panel)
            axis.set_title(name, fontsize=10)
            axis.axis("off")
        if evidence_for:
            add_colour_bar(figure, row_axes.tolist(), evidence_for)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def method_grid(
    image: np.ndarray,
    maps: Mapping[str, torch.Tensor | np.ndarray],
    path: Path,
    title: str = "",
    opacity: float = 0.4,
    columns: int = 4,
) -> None:
    """The image followed by one overlay per method, in a grid."""
    count = len(maps) + 1
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    cells = [("original", image)] + [(m, overlay(image, h, opacity)) for m, h in maps.items()]
    for axis, (name, picture) in zip(axes.ravel(), cells, strict=False):
        axis.imshow(picture)
        axis.set_title(name, fontsize=10)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
