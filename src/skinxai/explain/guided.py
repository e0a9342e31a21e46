"""Guided backpropagation (Springenberg et al.) and Guided Grad-CAM (Selvaraju et al.).

Inside :func:`guided_relus`, every ReLU / ReLU6 passes back only positive gradients where its
input was positive (and, for ReLU6, below 6); the model is restored on exit, even on error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class _GuidedClamp(torch.autograd.Function):
    """clamp(x, 0, upper) forward; backward keeps grad where 0 < x < upper and grad > 0."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, upper: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.upper = upper
        return x.clamp(min=0, max=upper)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        passes = (x > 0) & (x < ctx.upper) & (grad_output > 0)
        return grad_output * passes.to(grad_output.dtype), None


@contextmanager
def guided_relus(model: nn.Module) -> Iterator[int]:
    """Swap the forward of every ReLU/ReLU6 module for the guided version; yields the count."""
    patched = []
    for module in model.modules():
        if isinstance(module, nn.ReLU6):
            upper = 6.0
        elif isinstance(module, nn.ReLU):
            upper = float("inf")
        else:
            continue
        module.forward = lambda x, upper=upper: _GuidedClamp.apply(x, upper)
        patched.append(module)
    try:
        yield len(patched)
    finally:
        for module in patched:
            del module.forward


def guided_backprop(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Gradient of each image's target logit w.r.t. its input pixels, guided: (B, 3, H, W)."""
    x = inputs.detach().clone().requires_grad_(True)
    with guided_relus(model), torch.enable_grad():
        logits = model(x)
        score = logits.gather(1, targets[:, None]).sum()
        (gradient,) = torch.autograd.grad(score, x)
    return gradient
