"""Capture a named layer's output, with hooks that are always removed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (as in ``model.named_modules()``), or a helpful error."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        close = [n for n in modules if n and name.split(".")[-1] in n][:8]
        hint = f"; similar names: {', '.join(close)}" if close else ""
        raise ValueError(f"model has no layer named {name!r}{hint}")
    return modules[name]


@dataclass
class CapturedLayer:
    """The output of the hooked layer in the last forward pass, as a gradient leaf."""

    output: torch.Tensor | None = None


@contextmanager
def capture_layer(module: nn.Module, requires_grad: bool = True) -> Iterator[CapturedLayer]:
    """Within the block, every forward pass stores ``module``'s output in the yielded object.

    The output is replaced by a detached leaf (``requires_grad`` when asked), so gradients of a
    class score stop at this layer: the backward pass never runs through earlier layers.
    """
    captured = CapturedLayer()

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"the layer's output is a {type(output).__name__}, not a tensor")
        leaf = output.detach().requires_grad_(requires_grad)
        captured.output = leaf
        return leaf

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()
        captured.output = None
