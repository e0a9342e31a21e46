"""Frozen early blocks: the stem and the first blocks keep their starting (ImageNet) weights.

On CPU this triples training speed (no backward pass through the high-resolution layers)
and keeps the generic edge and texture filters that a few thousand lesions cannot improve.
"""

from __future__ import annotations

from torch import nn

from skinxai.model import SkinClassifier


def freeze_trunk(model: SkinClassifier, blocks: int) -> list[nn.Module]:
    """Stop gradients in the stem and ``model.backbone.blocks[:blocks]``; returns the frozen
    modules, which must also stay in eval mode (their batch-norm statistics are kept)."""
    if blocks <= 0:
        return []
    backbone = model.backbone
    available = len(backbone.blocks)
    if blocks > available:
        raise ValueError(f"freeze_blocks is {blocks}, but the backbone has {available} blocks")
    frozen = [backbone.conv_stem, backbone.bn1, *backbone.blocks[:blocks]]
    for module in frozen:
        module.requires_grad_(False)
        module.eval()
    return frozen
