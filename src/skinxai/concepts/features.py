"""What the concept readers and TCAV read from a network, in one fp32 pass per batch: the
spatial mean of the last feature map and of an inner block, the malignant logit's gradient
at that block (summed over positions), and the logits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skinxai.classes import MALIGNANT
from skinxai.data.cache import decode_images
from skinxai.data.canonical import upright_gradient, upright_mean
from skinxai.explain.hooks import capture_layer, find_layer
from skinxai.model import SkinClassifier
from skinxai.precision import in_fp32
from skinxai.preprocessing import normalize

LAST = "last"  # the last feature map, the one CAM and the head read
INNER = "backbone.blocks.5"  # the block before the last stage (192 channels in lite0)


@dataclass
class NetworkReadings:
    """Per image: pooled activations of each layer (N, C), the spatial sum of
    d logit_malignant / dA at ``INNER`` (N, C), and the logits (N, 2)."""

    pooled: dict[str, np.ndarray]
    inner_gradient: np.ndarray
    logits: np.ndarray


def _batch_readings(model: SkinClassifier, x: torch.Tensor) -> tuple[np.ndarray, ...]:
    with capture_layer(find_layer(model, INNER)) as inner, torch.enable_grad():
        last = model.features(x)
        logits = model.head(last)
        (gradient,) = torch.autograd.grad(logits[:, MALIGNANT].sum(), inner.output)
        inner_map = inner.output.detach()  # the hook forgets it on exit
    # under D4 the block holds 8 turned views of each image, folded upright as the model folds
    return (
        last.detach().mean(dim=(2, 3)).numpy(),
        upright_mean(inner_map, len(x)).mean(dim=(2, 3)).numpy(),
        upright_gradient(gradient, len(x)).sum(dim=(2, 3)).numpy(),
        logits.detach().numpy(),
    )


def read_network(
    model: SkinClassifier, paths: Sequence[Path], batch_size: int = 32
) -> NetworkReadings:
    """The readings of every image at ``paths`` (fp32, eval mode; bad files raise)."""
    was_training = model.training
    model.eval()
    parts: list[tuple[np.ndarray, ...]] = []
    try:
        with in_fp32(model):
            for start in range(0, len(paths), batch_size):
                decoded = decode_images(paths[start : start + batch_size], model.config.input_size)
                x = normalize(decoded, model.config.mean, model.config.std).to(model.device)
                parts.append(_batch_readings(model, x))
    finally:
        model.train(was_training)
    last, inner, gradient, logits = (np.concatenate(column) for column in zip(*parts, strict=True))
    return NetworkReadings({LAST: last, INNER: inner}, gradient, logits)


def layer_channels(model: SkinClassifier, layer: str) -> int:
    """How many channels ``layer`` (LAST or a named module) puts out: a small probe in eval mode."""
    if layer == LAST:
        return model.backbone.num_features
    was_training = model.training
    model.eval()
    try:
        probe = torch.zeros(1, 3, 64, 64, device=model.device)
        with capture_layer(find_layer(model, layer), requires_grad=False) as captured:
            with torch.no_grad():
                model.features(probe)
            return int(captured.output.shape[1])
    finally:
        model.train(was_training)
