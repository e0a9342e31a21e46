"""`skinxai export --format onnx`: one graph whose logits, P(malignant), CAM and gate equal
the PyTorch model's, checked with onnxruntime on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from skinxai.export import TOLERANCE, check_onnx, export_onnx
from skinxai.io import load_image
from skinxai.preprocessing import normalize, to_square_uint8
from tests.test_cli_predict import run_cli

onnxruntime = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, default_model) -> Path:
    return export_onnx(default_model, tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.fixture(scope="module")
def pixels(fanconic: Path, ham_root: Path) -> torch.Tensor:
    photos = sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:5]
    photos += sorted((fanconic / "test" / "benign").glob("*.jpg"))[:5]
    photos += sorted((ham_root / "images").glob("*.jpg"))[:3]  # 600x450 photos as taken
    return torch.stack([to_square_uint8(load_image(photo), 224) for photo in photos])


def run_graph(path: Path, pixels: torch.Tensor) -> dict[str, np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"pixels": pixels.numpy()}), strict=True))


def test_onnx_outputs_equal_pytorch_within_the_stated_tolerance(
    exported: Path, default_model, pixels: torch.Tensor
) -> None:
    check = check_onnx(exported, default_model, pixels)
    assert check.images == len(pixels) == 13
    assert check.within_tolerance(), (check, TOLERANCE)
    assert check.gate_disagreements == 0


def test_the_graph_is_the_product_path(exported: Path, default_model, pixels) -> None:
    """P(malignant) from the graph is predict_proba's; the gate is predict's; CAM is exact:
    its spatial mean plus the bias gives the logits (the head is GAP + linear)."""
    config = default_model.config
    got = run_graph(exported, pixels)
    batch = normalize(pixels, config.mean, config.std)
    probs, accepted = default_model.predict_with_gate(batch)
    np.testing.assert_allclose(got["p_malignant"], probs[:, 1].numpy(), atol=1e-4)
    np.testing.assert_array_equal(got["dermoscopic"], accepted.numpy())
    bias = default_model.classifier.bias.detach().numpy()
    np.testing.assert_allclose(got["cam"].mean(axis=(2, 3)) + bias, got["logits"], atol=1e-4)
    assert got["cam"].shape == (len(pixels), 2, 7, 7)


def test_any_batch_size_and_the_metadata(exported: Path, default_model, pixels) -> None:
    import onnx

    one, five = run_graph(exported, pixels[:1]), run_graph(exported, pixels[:5])
    np.testing.assert_allclose(one["logits"], five["logits"][:1], atol=1e-4)
    props = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert props["model_version"] == default_model.config.version
    assert json.loads(props["threshold"]) == default_model.config.threshold
    assert json.loads(props["class_names"]) == ["benign", "malignant"]
    assert json.loads(props["uncertain_band"]) == list(default_model.config.uncertain_band)


def test_the_export_command_writes_and_checks(tmp_path: Path) -> None:
    out = tmp_path / "deploy" / "model.onnx"
    done = run_cli("export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "gate disagreements 0" in done.stdout
    assert [p.name for p in out.parent.iterdir()] == ["model.onnx"]  # no staging file left
    wrong = run_cli("export", "--format", "tflite", "--out", str(tmp_path / "m.tflite"))
    assert wrong.returncode == 2 and wrong.stderr.strip().count("\n") == 0
    assert "onnx" in wrong.stderr
