"""Explainers: the papers' identities, agreement with pytorch-grad-cam, the ImageNet cat,
hook hygiene and memory, targets, rendering and the CLI."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from skinxai.explain import METHODS, explain, explain_all_classes
from skinxai.explain.render import heatmap, method_grid, overlay, three_panels
from skinxai.model import ModelConfig, SkinClassifier, create_imagenet_model


class TinyCamNet(nn.Module):
    """A conv feature map followed by GAP -> dropout -> linear, like SkinClassifier."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.dropout = nn.Dropout(0.5)
        self.classifier = nn.Linear(channels, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(features.mean(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    channels=st.integers(1, 24),
    classes=st.integers(2, 6),
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    batch=st.integers(1, 3),
)
def test_gradcam_is_relu_cam_over_hw(seed, channels, classes, height, width, batch) -> None:
    """For GAP + linear at the last layer, Grad-CAM = ReLU(CAM) / (h*w) exactly."""
    torch.manual_seed(seed)
    net = TinyCamNet(channels, classes).double()
    x = torch.randn(batch, 3, height, width, dtype=torch.float64)
    target = seed % classes
    grad = explain(net, x, "gradcam", target=target).raw
    cam = explain(net, x, "cam", target=target).raw
    torch.testing.assert_close(grad, torch.relu(cam) / (height * width), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- pytorch-grad-cam as oracle


@pytest.fixture(scope="module")
def default_model(default_model):
    """One view of the shipped model. These tests check the explainers' arithmetic against
    pytorch-grad-cam and on named layers, which hold one map per view (a D4 model averages 8
    turned views in its last feature map; tests/test_canonical_views.py covers that)."""
    return default_model.with_symmetry("none")


@pytest.fixture(scope="module")
def lesion_batch(fanconic: Path, default_model) -> torch.Tensor:
    paths = [
        *sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:2],
        *sorted((fanconic / "test" / "benign").glob("*.jpg"))[:2],
    ]
    return default_model.to_batch(paths)


def oracle_maps(model, cls, layer_module, inputs, target: int, **options) -> np.ndarray:
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with cls(model=model, target_layers=[layer_module]) as engine:
        for key, value in options.items():
            setattr(engine, key, value)
        return engine(input_tensor=inputs, targets=[ClassifierOutputTarget(target)] * len(inputs))


GRADIENT_ORACLES = ["GradCAM", "GradCAMPlusPlus", "HiResCAM", "XGradCAM", "LayerCAM"]
OURS = {
    "GradCAM": "gradcam",
    "GradCAMPlusPlus": "gradcam++",
    "HiResCAM": "hirescam",
    "XGradCAM": "xgradcam",
    "LayerCAM": "layercam",
}


@pytest.mark.parametrize("oracle_name", GRADIENT_ORACLES)
@pytest.mark.parametrize("layer", [None, "backbone.blocks.5"])
@pytest.mark.parametrize("target", [0, 1])
def test_gradient_methods_match_pytorch_grad_cam(
    default_model, lesion_batch, oracle_name, layer, target
) -> None:
    import pytorch_grad_cam

    module = default_model.backbone.bn2 if layer is None else default_model.backbone.blocks[5]
    ours = explain(default_model, lesion_batch, OURS[oracle_name], target=target, layer=layer)
    reference = oracle_maps(
        default_model, getattr(pytorch_grad_cam, oracle_name), module, lesion_batch, target
    )
    # Both sides divide by the map's peak: where the class has almost no evidence (a peak of
    # 1e-5 for "benign" on a clear melanoma) float32 rounding of ~2e-7 grows by 1 / peak.
    peaks = ours.raw.flatten(1).abs().amax(dim=1).numpy()
    tolerance = 1e-3 + 2e-7 / np.maximum(peaks, 1e-12)
    assert (np.abs(ours.maps.numpy() - reference).reshape(len(peaks), -1).max(1) <= tolerance).all()


@pytest.mark.parametrize("layer", [None, "backbone.blocks.5"])
def test_eigencam_matches_pytorch_grad_cam_projection(default_model, lesion_batch, layer) -> None:
    """Against pytorch-grad-cam's sign-corrected 2-D projection (its plain EigenCAM keeps
    LAPACK's arbitrary SVD sign, which numpy and torch builds do not share)."""
    from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients
    from pytorch_grad_cam.utils.image import scale_cam_image
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection_with_sign_correction

    module = default_model.backbone.bn2 if layer is None else default_model.backbone.blocks[5]
    capture = ActivationsAndGradients(default_model, [module], None)
    try:
        with torch.no_grad():
            capture(lesion_batch)
        activations = capture.activations[0].numpy()
    finally:
        capture.release()
    projection = np.maximum(get_2d_projection_with_sign_correction(activations), 0)
    reference = scale_cam_image(scale_cam_image(projection, (224, 224)))
    ours = explain(default_model, lesion_batch, "eigencam", layer=layer)
    assert np.abs(ours.maps.numpy() - reference).max() <= 1e-3


def test_eigencam_matches_pytorch_grad_cam_class_at_last_layer(default_model, lesion_batch) -> None:
    from pytorch_grad_cam import EigenCAM

    reference = oracle_maps(default_model, EigenCAM, default_model.backbone.bn2, lesion_batch, 0)
    ours = explain(default_model, lesion_batch, "eigencam")
    assert np.abs(ours.maps.numpy() - reference).max() <= 1e-3


def test_scorecam_matches_pytorch_grad_cam(default_model, lesion_batch) -> None:
    """At 96 px to keep 1280 masked forward passes per image fast."""
    from pytorch_grad_cam import ScoreCAM

    small = torch.nn.functional.interpolate(lesion_batch[:2], size=(96, 96), mode="bilinear")
    reference = oracle_maps(default_model, ScoreCAM, default_model.backbone.bn2, small, 1)
    ours = explain(default_model, small, "scorecam", target=1)
    assert np.abs(ours.maps.numpy() - reference).max() <= 1e-3


def test_guided_backprop_matches_pytorch_grad_cam() -> None:
    """On a ReLU network (pytorch-grad-cam only guides nn.ReLU; ours also guides ReLU6)."""
    from pytorch_grad_cam import GuidedBackpropReLUModel

    torch.manual_seed(0)
    net = SkinClassifier(ModelConfig(backbone="resnet18"), pretrained=False).eval()
    x = torch.randn(1, 3, 64, 64)
    ours = explain(net, x, "guided-backprop", target=1).raw[0].permute(1, 2, 0).numpy()
    reference = GuidedBackpropReLUModel(model=net, device="cpu")(x, target_category=1)

    def minmax(a: np.ndarray) -> np.ndarray:
        return (a - a.min()) / (a.max() - a.min())

    assert np.abs(minmax(ours) - minmax(reference)).max() <= 1e-3
    assert all(type(m) is not nn.Module for m in net.modules())


def test_guided_backprop_guides_relu6_and_restores_the_model(default_model, lesion_batch) -> None:
    x = lesion_batch[:1]
    plain = x.clone().requires_grad_(True)
    default_model(plain)[0, 1].backward()
    guided = explain(default_model, x, "guided-backprop", target=1).raw
    assert not torch.allclose(guided, plain.grad)
    assert not any("forward" in vars(m) for m in default_model.modules())
    again = x.clone().requires_grad_(True)
    default_model(again)[0, 1].backward()
    torch.testing.assert_close(again.grad, plain.grad)


def test_guided_gradcam_is_guided_backprop_times_gradcam(default_model, lesion_batch) -> None:
    x = lesion_batch[:2]
    guided = explain(default_model, x, "guided-gradcam", target=1)
    backprop = explain(default_model, x, "guided-backprop", target=1).raw
    gradcam = explain(default_model, x, "gradcam", target=1).maps
    torch.testing.assert_close(guided.raw, backprop * gradcam[:, None])
    assert guided.maps.shape == (2, 224, 224)


# ---------------------------------------------------------------- the ImageNet cat


class ImageNetNet(nn.Module):
    """timm's ImageNet model seen through the features/head split."""

    def __init__(self) -> None:
        super().__init__()
        self.net = create_imagenet_model()
        self.classifier = self.net.classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.net.forward_head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def test_gradcam_finds_and_follows_the_cat() -> None:
    from skimage import data

    net = ImageNetNet().eval()
    preprocess = SkinClassifier(pretrained=False).preprocess
    cat = Image.fromarray(data.chelsea()).resize((300, 200))
    grid = torch.arange(224.0)
    centroids = []
    for left in (0, 150, 300):
        canvas = Image.new("RGB", (600, 300), (128, 128, 128))
        canvas.paste(cat, (left, 50))
        result = explain(net, preprocess(canvas)[None], "gradcam", target=285)
        row, col = result.peak()[0]
        x0, x1 = left / 600 * 224, (left + 300) / 600 * 224
        y0, y1 = 50 / 300 * 224, 250 / 300 * 224
        assert x0 <= col < x1 and y0 <= row < y1, "Grad-CAM's peak is not on the cat"
        heat = result.maps[0]
        centroids.append(float((heat * grid[None, :]).sum() / heat.sum()) / 224)
    assert centroids[0] < centroids[1] < centroids[2]
    assert centroids[2] - centroids[0] > 0.3


# ---------------------------------------------------------------- targets, layers, hooks


def test_targets(default_model, lesion_batch) -> None:
    x = lesion_batch
    predicted = explain(default_model, x, "cam")
    at_threshold = (predicted.probs[:, 1] >= default_model.config.threshold).long()
    torch.testing.assert_close(predicted.targets, at_threshold)
    by_name = explain(default_model, x, "cam", target="malignant")
    assert by_name.targets.tolist() == [1] * 4
    mixed = explain(default_model, x, "gradcam", target=[0, "malignant", 1, "benign"])
    assert mixed.targets.tolist() == [0, 1, 1, 0]
    for bad in ("melanoma", 7, [0, 1]):
        with pytest.raises(ValueError):
            explain(default_model, x, "cam", target=bad)
    with pytest.raises(ValueError, match="last feature map"):
        explain(default_model, x, "cam", layer="backbone.blocks.5")
    with pytest.raises(ValueError, match="no layer named"):
        explain(default_model, x, "gradcam", layer="backbone.blocks.99")
    with pytest.raises(ValueError, match="unknown method"):
        explain(default_model, x, "magiccam")


def test_explanation_fields(default_model, fanconic: Path) -> None:
    paths = sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:3]
    result = explain(default_model, paths, "gradcam++")
    assert result.maps.shape == (3, 224, 224) and result.raw.shape == (3, 7, 7)
    assert float(result.maps.min()) >= 0 and float(result.maps.max()) <= 1
    assert result.inputs.shape == (3, 3, 224, 224) and result.probs.shape == (3, 2)
    torch.testing.assert_close(result.probs, default_model.predict_proba(paths))


def test_both_classes_from_one_forward_pass(default_model, lesion_batch) -> None:
    calls = []
    handle = default_model.backbone.conv_stem.register_forward_hook(lambda *_: calls.append(1))
    try:
        per_class = explain_all_classes(default_model, lesion_batch, "gradcam")
    finally:
        handle.remove()
    assert set(per_class) == {"benign", "malignant"} and len(calls) == 1
    for index, name in enumerate(("benign", "malignant")):
        single = explain(default_model, lesion_batch, "gradcam", target=index)
        torch.testing.assert_close(per_class[name].maps, single.maps)


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules())


def test_hooks_are_removed_even_on_errors(default_model, lesion_batch) -> None:
    before = _hook_count(default_model)
    with pytest.raises(ValueError):
        explain(default_model, lesion_batch, "gradcam", target=5, layer="backbone.blocks.4")
    assert _hook_count(default_model) == before


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_500_calls_leave_no_hooks_and_no_memory_growth(default_model, lesion_batch) -> None:
    x = torch.nn.functional.interpolate(lesion_batch[:1], size=(64, 64), mode="bilinear")
    before_hooks = _hook_count(default_model)
    for _ in range(50):  # warm up allocator caches
        explain(default_model, x, "gradcam", layer="backbone.blocks.4")
    gc.collect()
    start = _rss_bytes()
    for _ in range(500):
        explain(default_model, x, "gradcam", layer="backbone.blocks.4")
    gc.collect()
    growth = _rss_bytes() - start
    assert _hook_count(default_model) == before_hooks
    assert growth < 30 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 500 calls"


# ---------------------------------------------------------------- rendering and CLI


def test_rendering(tmp_path: Path) -> None:
    image = np.full((32, 32, 3), 200, dtype=np.uint8)
    heat = torch.linspace(0, 1, 32 * 32).reshape(32, 32)
    assert heatmap(heat).shape == (32, 32, 3)
    assert np.array_equal(overlay(image, heat, 0.0), image)
    assert np.array_equal(overlay(image, heat, 1.0), heatmap(heat))
    assert tuple(heatmap(torch.zeros(2, 2))[0, 0]) == (0, 0, 128)  # jet starts dark blue
    with pytest.raises(ValueError):
        overlay(image, heat, 1.5)
    three_panels(image, {"cam": heat, "gradcam": heat}, tmp_path / "p.png", "t")
    method_grid(image, {m: heat for m in METHODS[:5]}, tmp_path / "g.png")
    assert Image.open(tmp_path / "p.png").size[0] > 300
    assert Image.open(tmp_path / "g.png").size[0] > 300


def test_explain_cli(tmp_path: Path, fanconic: Path) -> None:
    images = tmp_path / "in"
    images.mkdir()
    for path in sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:3]:
        (images / path.name).write_bytes(path.read_bytes())
    (images / "x.jpg").write_text("not an image")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "skinxai.cli",
            "explain",
            str(images),
            "--method",
            "cam,gradcam",
            "--out",
            str(out),
            "--batch-size",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    rows = json.loads((out / "explanations.json").read_text())
    assert len(rows) == 4
    good = [r for r in rows if r["error"] is None]
    assert len(good) == 3 and sum(r["error"] is not None for r in rows) == 1
    for row in good:
        assert (out / row["figure"]).is_file()
        assert set(row["methods"]) == {"cam", "gradcam"}
        assert 0 <= row["methods"]["cam"]["peak_row_col"][0] < 224
        x, y = row["methods"]["cam"]["peak_original_xy"]
        assert 0 <= x < 224 and 0 <= y < 224  # fanconic photos are 224x224
        assert row["figure"] in (out / "index.html").read_text()
    assert str(out / "index.html") in done.stdout.replace("\n", "")
    bad = subprocess.run(
        [sys.executable, "-m", "skinxai.cli", "explain", str(images), "--method", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "unknown method" in bad.stderr


def test_scorecam_trace_cache_follows_the_weights() -> None:
    from skinxai.explain.perturbation import inference_forward

    torch.manual_seed(0)
    net = TinyCamNet(8, 2).eval()
    x = torch.randn(4, 3, 16, 16)
    first = inference_forward(net, x)
    assert inference_forward(net, x) is first
    with torch.no_grad():
        net.conv.weight.mul_(2.0)
    rebuilt = inference_forward(net, x)
    assert rebuilt is not first
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), net(x), rtol=1e-4, atol=1e-5)


def test_several_methods_share_one_forward_pass(default_model, lesion_batch) -> None:
    from skinxai.explain import explain_methods

    calls = []
    handle = default_model.backbone.conv_stem.register_forward_hook(lambda *_: calls.append(1))
    try:
        together = explain_methods(default_model, lesion_batch, ["cam", "gradcam", "layercam"], 1)
    finally:
        handle.remove()
    assert list(together) == ["cam", "gradcam", "layercam"] and len(calls) == 1
    for method, result in together.items():
        torch.testing.assert_close(
            result.maps, explain(default_model, lesion_batch, method, 1).maps
        )
