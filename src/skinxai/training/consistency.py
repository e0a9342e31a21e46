"""Consistency training: the same image, re-encoded as JPEG and with a wide black circle drawn on
it, should get the same decision.

Augmentation alone (JPEG quality 40-100 and the circle on a share of the images) left v3c's
labels moving under JPEG 75 and the circle: each source keeps its own native compression and
framing, so the model can still read them. Here a second view of part of each batch, changed
only by what must not matter, goes through the network in the same batch as the clean images
(so batch normalisation sees both alike) and is pulled towards the clean view's
malignant-minus-benign logit (the clean view is the reference and gets no gradient from this
term).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import v2

from skinxai.data.acquisition_augment import wide_black_circle
from skinxai.model import SkinClassifier
from skinxai.preprocessing import denormalize, normalize
from skinxai.training.lesion_focus import decision_map

JPEG_QUALITIES = (40, 95)
CIRCLE_P = 0.5


def changed_views(
    images: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """Normalised (B, 3, H, W) images re-encoded as JPEG at a random quality in
    ``JPEG_QUALITIES`` and, with probability ``CIRCLE_P``, given Barcelona's wide black circle
    (``acquisition_augment.wide_black_circle``), normalised again."""
    pixels = (denormalize(images.detach().cpu().float(), mean, std) * 255).round()
    change = v2.Compose([v2.JPEG(quality=JPEG_QUALITIES), wide_black_circle(CIRCLE_P)])
    changed = torch.stack([change(image) for image in pixels.to(torch.uint8)])
    out = normalize(changed, mean, std)
    return out.to(device=images.device, dtype=images.dtype)


def margin_gap(
    model: SkinClassifier, clean_features: torch.Tensor, changed_features: torch.Tensor
) -> torch.Tensor:
    """Mean squared change of the malignant-minus-benign logit from the last feature maps,
    read without the head's dropout (whose noise no weights could remove); the clean view is
    detached."""
    clean = decision_map(model, clean_features.float()).mean(dim=(1, 2)).detach()
    changed = decision_map(model, changed_features.float()).mean(dim=(1, 2))
    return (changed - clean).pow(2).mean()
