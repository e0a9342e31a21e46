"""Score-CAM (Wang et al. 2020): weight each activation map by the class score of the input
masked with that (upsampled, min-max normalised) map; softmax over channels.

Batched: the masked inputs of all channels go through a frozen (batch-norm folded),
channels-last trace of the network, and channels whose map is constant (an all-zero masked
input) are scored once and shared.
"""

from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

_TRACES: OrderedDict[tuple, tuple[tuple, weakref.ref, Callable]] = OrderedDict()


def _fingerprint(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer is replaced or modified in place."""
    tensors = [*model.parameters(), *model.buffers()]
    return tuple((t.data_ptr(), t._version) for t in tensors)


def inference_forward(model: nn.Module, example: torch.Tensor) -> Callable:
    """A frozen TorchScript trace of ``model`` taking channels-last input (batch norm folded
    into the convolutions: about 2.4x eager speed on CPU); the eager model if tracing fails.

    Traces are cached per model and input shape, and rebuilt when the weights change.
    """
    key = (id(model), tuple(example.shape[1:]), example.dtype, str(example.device))
    fingerprint = _fingerprint(model)
    cached = _TRACES.get(key)
    if cached and cached[0] == fingerprint and cached[1]() is model:
        _TRACES.move_to_end(key)
        return cached[2]
    forward = _trace(model, example)
    _TRACES[key] = (fingerprint, weakref.ref(model), forward)
    while len(_TRACES) > 4:
        _TRACES.popitem(last=False)
    return forward


def _trace(model: nn.Module, example: torch.Tensor) -> Callable:
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.freeze(
                torch.jit.trace(model.eval(), example.contiguous(memory_format=torch.channels_last))
            )
    except Exception:  # any model TorchScript cannot trace still works, just slower
        return model

    def forward(x: torch.Tensor) -> torch.Tensor:
        return traced(x.contiguous(memory_format=torch.channels_last))

    return forward


def channel_masks(activations: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, H, W) masks in [0, 1] (bilinear, align_corners=True)."""
    upsampled = F.interpolate(activations, size=size, mode="bilinear", align_corners=True)
    flat = upsampled.flatten(2)
    low = flat.min(dim=-1).values[..., None, None]
    high = flat.max(dim=-1).values[..., None, None]
    return (upsampled - low) / (high - low + 1e-8)


@torch.no_grad()
def masked_scores(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    activations: torch.Tensor,
    batch_size: int = 16,
) -> torch.Tensor:
    """Logits of every class for every channel-masked input: (B, C, K)."""
    masks = channel_masks(activations.float(), tuple(inputs.shape[-2:]))
    batch, channels = masks.shape[:2]
    scores: torch.Tensor | None = None
    for image in range(batch):
        image_masks = masks[image]
        live = image_masks.flatten(1).amax(dim=1) > 0  # constant maps give an all-zero mask
        live_index = live.nonzero().squeeze(1)
        chunks = []
        for start in range(0, len(live_index), batch_size):
            index = live_index[start : start + batch_size]
            masked = inputs[image : image + 1] * image_masks[index, None]
            chunks.append(forward(masked).float())
        zero_score = forward(torch.zeros_like(inputs[image : image + 1])).float()
        if scores is None:
            scores = inputs.new_zeros((batch, channels, zero_score.shape[1]), dtype=torch.float32)
        scores[image] = zero_score
        if chunks:
            scores[image, live_index] = torch.cat(chunks)
    assert scores is not None
    return scores


def scorecam_from_scores(
    activations: torch.Tensor, scores: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Raw Score-CAM maps (B, h, w) for one class per image, from :func:`masked_scores`."""
    target_scores = scores[torch.arange(len(targets)), :, targets]  # (B, C)
    weights = torch.softmax(target_scores, dim=1).to(activations.dtype)
    return torch.relu(torch.einsum("bc,bchw->bhw", weights, activations))
