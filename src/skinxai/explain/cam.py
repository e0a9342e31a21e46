"""CAM (Zhou et al. 2015): M_c = sum_k w_k^c A_k, with w the linear layer after GAP."""

from __future__ import annotations

import torch


def class_activation_maps(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """All classes' CAMs at once: (B, C, h, w) features, (K, C) weights -> (B, K, h, w)."""
    return torch.einsum("kc,bchw->bkhw", weight.to(features.dtype), features)


def cam_for_targets(
    features: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """CAM of one class per image: (B, h, w); no ReLU (the paper's map, before display)."""
    return torch.einsum("bc,bchw->bhw", weight[targets].to(features.dtype), features)
