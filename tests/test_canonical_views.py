"""The model's canonical views on real lesions: a fixed effective resolution absorbs a halved
photo, a fixed rim absorbs a dermatoscope's own, and the D4 average makes the answer the same
for every rotation and mirror image while CAM stays exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from skinxai.data.acquisition import dark_vignette, half_resolution
from skinxai.data.canonical import at_resolution, inside_disc
from skinxai.data.specs import resolve_spec
from skinxai.explain import explain
from skinxai.model import (
    CPU_VIEWS_PER_PASS,
    ModelConfig,
    ModelFileError,
    SkinClassifier,
    load_model_file,
    save_model,
)

SIZE = 128
MEAN = STD = (0.5, 0.5, 0.5)


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    """Six derm7pt lesions (383x384 px, sharper than the model input)."""
    return [Image.open(s.path).convert("RGB") for s in resolve_spec("derm7pt")[:6]]


@pytest.fixture(scope="module")
def d4_model() -> SkinClassifier:
    config = ModelConfig(input_size=SIZE, canonical_resolution=64, rim_radius=0.9, symmetry="d4")
    model = SkinClassifier(config, pretrained=True).eval()
    with torch.random.fork_rng(devices=[]):  # the same head whichever tests ran before
        torch.manual_seed(0)
        torch.nn.init.normal_(model.classifier.weight, std=0.1)
    return model


def _batch(model: SkinClassifier, images: list[Image.Image]) -> torch.Tensor:
    return torch.stack([model.preprocess(image) for image in images])


def test_a_fixed_resolution_absorbs_a_halved_photo(d4_model, photos) -> None:
    plain = _batch(d4_model, photos)
    halved = _batch(d4_model, [half_resolution(p) for p in photos])
    before = (plain - halved).abs().mean()
    after = (at_resolution(plain, 64) - at_resolution(halved, 64)).abs().mean()
    assert after < before / 4
    assert at_resolution(plain, 64).shape == plain.shape


def test_a_fixed_rim_absorbs_the_dermatoscopes_own(d4_model, photos) -> None:
    plain = _batch(d4_model, photos)
    rimmed = _batch(d4_model, [dark_vignette(p) for p in photos])
    before = (plain - rimmed).abs().mean()
    after = (inside_disc(plain, 0.9, MEAN, STD) - inside_disc(rimmed, 0.9, MEAN, STD)).abs().mean()
    assert after < before / 5
    disc = inside_disc(plain, 0.9, MEAN, STD)
    assert torch.allclose(disc[..., 0, 0], torch.full_like(disc[..., 0, 0], -1.0))  # black
    centre = SIZE // 2
    assert torch.equal(disc[..., centre, centre], plain[..., centre, centre])


def test_d4_answers_the_same_for_every_turn_and_mirror(d4_model, photos) -> None:
    batch = _batch(d4_model, photos[:2])
    turned = [torch.rot90(batch, k, (-2, -1)) for k in range(4)]
    views = [*turned, *(view.flip(-1) for view in turned)]
    with torch.no_grad():
        logits = [d4_model(view) for view in views]
        for other in logits[1:]:
            torch.testing.assert_close(other, logits[0], atol=1e-4, rtol=1e-4)
        single = SkinClassifier(
            ModelConfig(input_size=SIZE, canonical_resolution=64, rim_radius=0.9),
            pretrained=False,
        ).eval()
        single.load_state_dict(d4_model.state_dict())
        mean_of_views = torch.stack([single(view) for view in views]).mean(0)
    torch.testing.assert_close(logits[0], mean_of_views, atol=1e-4, rtol=1e-4)


def test_d4_feature_maps_turn_with_the_image(d4_model, photos) -> None:
    batch = _batch(d4_model, photos[:1])
    with torch.no_grad():
        upright = d4_model.features(batch)
        turned = d4_model.features(torch.rot90(batch, 1, (-2, -1)))
    torch.testing.assert_close(turned, torch.rot90(upright, 1, (-2, -1)), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="square"):
        d4_model.features(batch[..., :100])


def test_cam_stays_exact_on_the_canonical_view(d4_model, photos) -> None:
    """CAM's spatial mean plus the bias is the logit, through every canonical view."""
    batch = _batch(d4_model, photos[:2])
    with torch.no_grad():
        features = d4_model.features(batch)
        logits = d4_model.head(features)
    weights = d4_model.classifier.weight
    cam = torch.einsum("kc,bchw->bkhw", weights, features)
    torch.testing.assert_close(cam.mean(dim=(2, 3)) + d4_model.classifier.bias, logits)
    result = explain(d4_model, batch, "gradcam", target=1)
    assert result.maps.shape == (2, SIZE, SIZE) and torch.isfinite(result.maps).all()


def test_a_named_layer_of_a_d4_model_is_explained_upright(d4_model, photos) -> None:
    """The layer's 8 views are folded as the model folds its last map: at the last map's own
    layer Grad-CAM equals the default; at an inner block the map turns with the image."""
    batch = _batch(d4_model, photos[:2])
    default = explain(d4_model, batch, "gradcam", target=1).maps
    at_bn2 = explain(d4_model, batch, "gradcam", target=1, layer="backbone.bn2").maps
    torch.testing.assert_close(at_bn2, default, atol=1e-5, rtol=1e-4)
    inner = explain(d4_model, batch, "gradcam", layer="backbone.blocks.5").maps  # decided class
    turned = explain(
        d4_model, torch.rot90(batch, 1, (-2, -1)), "gradcam", layer="backbone.blocks.5"
    ).maps
    assert inner.shape == (2, SIZE, SIZE) and inner.amax() > 0
    torch.testing.assert_close(turned, torch.rot90(inner, 1, (-2, -1)), atol=2e-3, rtol=0)


def test_canonical_views_round_trip_and_are_checked(d4_model, tmp_path: Path) -> None:
    save_model(d4_model, tmp_path / "m.safetensors")
    loaded = load_model_file(tmp_path / "m.safetensors").config
    assert (loaded.canonical_resolution, loaded.rim_radius, loaded.symmetry) == (64, 0.9, "d4")
    for change, field in (
        ({"canonical_resolution": 8}, "canonical_resolution"),
        ({"canonical_resolution": 1000}, "canonical_resolution"),
        ({"rim_radius": 0.1}, "rim_radius"),
        ({"symmetry": "d8"}, "symmetry"),
    ):
        with pytest.raises(ModelFileError, match=field):
            ModelConfig.from_dict(change)
    assert np.isclose(ModelConfig.from_dict({"rim_radius": 1}).rim_radius, 1.0)


def test_the_gate_reads_the_same_upright_view_with_one_view_or_eight(d4_model, photos) -> None:
    """What lets calibrate fit the gate on a one-view copy: under D4 the gate's input is the
    upright view's, whether the other seven views are computed or not."""
    batch = _batch(d4_model, photos)
    eight_views = d4_model.with_symmetry("d4")  # a copy: the fixture's gate stays unread
    eight_views.read_gate_from(4)
    one_view = eight_views.with_symmetry("none")
    with torch.no_grad():
        eight = eight_views.features_and_gate_input(batch)[1]
        one = one_view.features_and_gate_input(batch)[1]
    torch.testing.assert_close(one, eight, atol=1e-4, rtol=1e-4)


def test_cpu_inference_passes_a_few_views_at_a_time_and_answers_the_same(d4_model, photos) -> None:
    """On the CPU, inference cuts a batch into passes of CPU_VIEWS_PER_PASS views (two images
    under D4, sixteen with one view), which are faster there; every image is still answered as
    in one pass over the whole batch, in order."""
    batch = _batch(d4_model, photos)
    one_view = d4_model.with_symmetry("none")
    assert d4_model._images_per_pass() == CPU_VIEWS_PER_PASS // 8
    assert one_view._images_per_pass() == CPU_VIEWS_PER_PASS
    assert (d4_model.views_per_image, one_view.views_per_image) == (8, 1)
    for model in (d4_model, one_view):
        with torch.no_grad():
            whole_maps, whole_gate = model.features_and_gate_input(batch)
        logits, maps, gate_input = model.logits_features_and_gate_input(batch)
        torch.testing.assert_close(maps, whole_maps, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(gate_input, whole_gate, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(logits, model.head(whole_maps), atol=1e-5, rtol=1e-5)
    assert d4_model.logits_features_and_gate_input(batch[:0])[0].shape == (0, 2)
