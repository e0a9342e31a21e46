"""Lesion-focused training: a penalty on the decision's evidence that lies outside the lesion.

For the GAP + linear head the malignant-minus-benign logit is the spatial mean of the map
D = (w_malignant - w_benign) . A over the last feature map A, plus a constant. The share of
|D| outside the lesion mask is therefore the share of the decision that comes from skin,
rulers, vignettes or borders; penalising it moves where the evidence comes from, not only
how a heat map looks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from skinxai.classes import MALIGNANT
from skinxai.model import SkinClassifier

EPSILON = 1e-8


def decision_map(model: SkinClassifier, features: torch.Tensor) -> torch.Tensor:
    """D (B, h, w): each cell's contribution to the malignant-minus-benign logit, times h*w."""
    weight = model.classifier.weight
    direction = weight[MALIGNANT] - weight[1 - MALIGNANT]
    return torch.einsum("c,bchw->bhw", direction.to(features.dtype), features)


def outside_lesion_share(decision: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B,) share of |D| outside the lesion; ``masks`` (B, 1, H, W) of 0/1 at input size are
    averaged down to D's grid, so a cell half covered by the lesion counts half."""
    inside = F.adaptive_avg_pool2d(masks.to(decision.dtype), decision.shape[-2:])[:, 0]
    evidence = decision.abs()
    return (evidence * (1 - inside)).sum(dim=(1, 2)) / evidence.sum(dim=(1, 2)).clamp_min(EPSILON)
