"""The levers of the other-clinics recipe on real lesions: acquisition augmentation (masks
stay aligned), Shades of Gray inside the model, the outside-the-lesion penalty, the JPEG and
circle consistency term, the frozen trunk and validation per source."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from skinxai.data.acquisition import warmer
from skinxai.data.acquisition_augment import (
    ColourTemperature,
    RandomDarkVignette,
    RandomGamma,
    RandomResolution,
)
from skinxai.data.colour import shades_of_gray, shades_of_gray_normalised
from skinxai.data.masks import load_mask
from skinxai.data.specs import ham_split_records, resolve_spec
from skinxai.data.transforms import train_transform
from skinxai.model import ModelConfig, ModelFileError, SkinClassifier
from skinxai.preprocessing import normalize, to_square_uint8
from skinxai.training.config import TrainConfig
from skinxai.training.consistency import changed_views, margin_gap
from skinxai.training.lesion_focus import decision_map, outside_lesion_share
from skinxai.training.trunk import freeze_trunk
from skinxai.training.validation import auroc_per_source, worst_auroc

SIZE = 96


@pytest.fixture(scope="module")
def lesions() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Eight HAM10000 validation images (uint8, SIZE px) with their lesion masks."""
    records = ham_split_records("val")[:8]
    return [
        (
            to_square_uint8(Image.open(r.image_path).convert("RGB"), SIZE),
            load_mask(r.mask_path, SIZE).to(torch.uint8)[None],
        )
        for r in records
    ]


def test_the_mask_follows_every_geometric_change(lesions) -> None:
    """Paint the lesion white on black: after the whole acquisition pipeline (rotation, zoom,
    flips, JPEG, light, gamma, rim) the bright region is still where the mask went."""
    transform = train_transform((0.5,) * 3, (0.5,) * 3, "acquisition")
    ious = []
    for seed, (_, mask) in enumerate(lesions * 4):
        torch.manual_seed(seed)
        painted = tv_tensors.Image((mask * 255).expand(3, -1, -1).clone())
        image, moved = transform(painted, tv_tensors.Mask(mask))
        bright, inside = image.mean(0) > -0.3, moved[0] > 0
        ious.append(float((bright & inside).sum() / (bright | inside).sum().clamp(min=1)))
    assert np.median(ious) > 0.9 and min(ious) > 0.6


@pytest.mark.parametrize(
    "change",
    [RandomResolution(0.4, p=1), ColourTemperature(p=1), RandomGamma(p=1), RandomDarkVignette(p=1)],
    ids=lambda c: type(c).__name__,
)
def test_acquisition_changes_touch_the_image_only(lesions, change) -> None:
    image, mask = lesions[0]
    torch.manual_seed(1)
    changed, kept = change(tv_tensors.Image(image), tv_tensors.Mask(mask))
    assert changed.dtype == torch.uint8 and changed.shape == image.shape
    assert not torch.equal(changed, image)
    assert torch.equal(kept, mask)


def test_colour_temperature_and_vignette_do_what_they_say(lesions) -> None:
    image = tv_tensors.Image(torch.full((3, SIZE, SIZE), 100, dtype=torch.uint8))
    warm = ColourTemperature(p=1).change(image.float(), {"s": 0.1})
    assert warm[:, 0, 0].tolist() == pytest.approx([110, 100, 90])
    rim = RandomDarkVignette(p=1).change(image.float(), {"radius": 0.9, "softness": 0.05})
    assert rim[:, 0, 0].max() == 0 and rim[:, SIZE // 2, SIZE // 2].min() == 100


def test_shades_of_gray_removes_a_colour_cast(lesions) -> None:
    """A real lesion under warmer light comes out of Shades of Gray close to the original
    corrected, and with a grey illuminant estimate."""
    image, _ = lesions[1]
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    original = torch.from_numpy(np.array(pil)).permute(2, 0, 1)[None].float() / 255
    cast = torch.from_numpy(np.array(warmer(pil, 0.15))).permute(2, 0, 1)[None].float() / 255
    corrected, corrected_cast = shades_of_gray(original), shades_of_gray(cast)
    before = (cast - original).abs().mean()
    after = (corrected_cast - corrected).abs().mean()
    assert after < before / 3
    illuminant = corrected.pow(6).mean(dim=(2, 3)).pow(1 / 6)[0]
    assert float(illuminant.max() - illuminant.min()) < 0.03


def test_a_model_with_colour_constancy_keeps_cam_exact_and_round_trips(
    lesions, tmp_path: Path
) -> None:
    from skinxai.model import load_model_file, save_model

    config = ModelConfig(input_size=SIZE, colour_constancy_p=6.0)
    model = SkinClassifier(config, pretrained=True).eval()
    batch = normalize(torch.stack([image for image, _ in lesions[:2]]), config.mean, config.std)
    with torch.no_grad():
        corrected = shades_of_gray_normalised(batch, 6.0, config.mean, config.std)
        assert not torch.allclose(model.backbone.forward_features(batch), model.features(batch))
        assert torch.allclose(model.backbone.forward_features(corrected), model.features(batch))
        assert torch.allclose(model.head(model.features(batch)), model(batch))
    save_model(model, tmp_path / "m.safetensors")
    assert load_model_file(tmp_path / "m.safetensors").config.colour_constancy_p == 6.0
    with pytest.raises(ModelFileError, match="colour_constancy_p"):
        ModelConfig.from_dict({"colour_constancy_p": 0.5})


def test_the_decision_map_is_the_logit_difference(lesions) -> None:
    model = SkinClassifier(ModelConfig(input_size=SIZE), pretrained=True).eval()
    torch.nn.init.normal_(model.classifier.weight, std=0.1)
    batch = normalize(torch.stack([image for image, _ in lesions]), (0.5,) * 3, (0.5,) * 3)
    with torch.no_grad():
        features = model.features(batch)
        logits = model.head(features)
        decision = decision_map(model, features)
    bias = model.classifier.bias
    expected = logits[:, 1] - logits[:, 0]
    assert torch.allclose(decision.mean(dim=(1, 2)) + bias[1] - bias[0], expected, atol=1e-5)


def test_outside_share_is_zero_inside_one_outside() -> None:
    masks = torch.zeros((2, 1, 8, 8))
    masks[:, :, 2:6, 2:6] = 1
    decision = torch.zeros((2, 4, 4))
    decision[0, 1:3, 1:3] = 5.0  # exactly the lesion's cells
    decision[1, 0, 0] = -3.0  # a corner, evidence for benign
    assert outside_lesion_share(decision, masks).tolist() == pytest.approx([0.0, 1.0])


def test_the_penalty_moves_the_evidence_onto_the_lesion(lesions) -> None:
    """A few steps on the penalty alone, with the stem and blocks 0-3 frozen, lower the share
    of the decision outside real lesions, and leave the frozen weights untouched."""
    torch.manual_seed(0)
    model = SkinClassifier(ModelConfig(input_size=SIZE), pretrained=True)
    frozen = freeze_trunk(model, 4)
    stem_before = model.backbone.conv_stem.weight.clone()
    batch = normalize(torch.stack([image for image, _ in lesions]), (0.5,) * 3, (0.5,) * 3)
    masks = torch.stack([mask for _, mask in lesions])
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(trainable, lr=1e-3)
    model.train()
    for module in frozen:
        module.eval()
    shares = []
    for _ in range(8):
        share = outside_lesion_share(decision_map(model, model.features(batch)), masks).mean()
        shares.append(float(share.detach()))
        optimiser.zero_grad()
        share.backward()
        optimiser.step()
    assert shares[-1] < shares[0] - 0.1
    assert torch.equal(model.backbone.conv_stem.weight, stem_before)
    with pytest.raises(ValueError, match="blocks"):
        freeze_trunk(model, 99)


def test_consistency_views_are_the_same_lesion_compressed_and_circled(lesions) -> None:
    """Each changed view is its image as a JPEG (close, not equal), and about half of them are
    black outside a wide circle: the corners are black, the centre is not."""
    torch.manual_seed(0)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    images = normalize(torch.stack([image for image, _ in lesions] * 4), mean, std)
    changed = changed_views(images, mean, std)
    assert changed.shape == images.shape and changed.dtype == images.dtype
    scale, shift = torch.tensor(std).view(1, 3, 1, 1), torch.tensor(mean).view(1, 3, 1, 1)
    before, after = (images * scale + shift) * 255, (changed * scale + shift) * 255
    corners = after[..., :8, :8].abs().amax(dim=(1, 2, 3))
    circled = corners < 1.0
    assert 8 <= int(circled.sum()) <= 24
    centre = (..., slice(SIZE // 2 - 16, SIZE // 2 + 16), slice(SIZE // 2 - 16, SIZE // 2 + 16))
    error = (after[centre] - before[centre]).abs().mean(dim=(1, 2, 3))
    assert (error > 0.2).all() and (error < 8).all()
    assert (after[centre].mean(dim=(1, 2, 3)) > 40).all()


def test_consistency_moves_the_changed_view_towards_the_clean_one(lesions) -> None:
    """A few steps on the consistency term alone shrink the logit margin's change under JPEG
    and the circle; no gradient reaches the clean view, and the gap is the change of the
    model's own logit margin (read without dropout)."""
    torch.manual_seed(0)
    model = SkinClassifier(ModelConfig(input_size=SIZE), pretrained=True)
    freeze_trunk(model, 4)
    batch = normalize(torch.stack([image for image, _ in lesions]), (0.5,) * 3, (0.5,) * 3)
    changed = changed_views(batch, (0.5,) * 3, (0.5,) * 3)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.eval()
    with torch.no_grad():
        margins = [model(x) @ torch.tensor([-1.0, 1.0]) for x in (batch, changed)]
        expected = (margins[1] - margins[0]).pow(2).mean()
        assert margin_gap(model, model.features(batch), model.features(changed)) == pytest.approx(
            float(expected), rel=1e-4
        )
    gaps = []
    for _ in range(8):
        clean = model.features(batch)
        clean.retain_grad()
        gap = margin_gap(model, clean, model.features(changed))
        gaps.append(float(gap.detach()))
        optimiser.zero_grad()
        gap.backward()
        assert clean.grad is None or not clean.grad.any()
        optimiser.step()
    assert gaps[-1] < 0.5 * gaps[0]
    with pytest.raises(ValueError, match="consistency"):
        TrainConfig().updated({"consistency": -1.0})


def test_validation_per_source_and_its_worst() -> None:
    p = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3, 0.5, 0.6])
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 0])
    sources = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    per_source = auroc_per_source(p, labels, sources, ["a", "b", "c"])
    assert per_source["a"] == 1.0 and per_source["b"] == 0.0 and math.isnan(per_source["c"])
    assert worst_auroc(per_source) == 0.0
    assert math.isnan(worst_auroc({"c": math.nan}))


def test_copies_of_one_set_in_another() -> None:
    """``A~B``: fanconic's processed copies of HAM10000 validation lesions (every one of them a
    fanconic training file, none a HAM10000 file)."""
    copies = resolve_spec("fanconic:train~ham10000:val")
    fanconic_train = {s.path for s in resolve_spec("fanconic:train")}
    assert 200 < len(copies) < 400
    assert all(s.path in fanconic_train for s in copies)
    with pytest.raises(ValueError, match="A~B"):
        resolve_spec("fanconic:train~")
