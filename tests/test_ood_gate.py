"""The "not a dermoscopic image" gate: its distance on constructed features, its file, and the
shipped gate on real photographs (scikit-image's) against real lesions."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from skinxai.model import ModelFileError, SkinClassifier, load_model_file, save_model
from skinxai.ood_gate import FeatureGate
from tests.natural_images import natural_images, synthetic_images


def gaussian_features(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.linspace(3.0, 0.1, dim)
    return rng.normal(0, 1, (n, dim)) * scales


def test_gate_accepts_its_own_distribution_and_refuses_far_points() -> None:
    gate = FeatureGate.fit(gaussian_features(4000), components=8)
    gate.set_limit(gaussian_features(2000, seed=1), quantile=0.99)
    fresh = torch.as_tensor(gaussian_features(2000, seed=2))
    assert 0.97 <= float(gate.accepts(fresh).double().mean()) <= 1.0
    # Off the principal subspace (along the direction of least variance): the residual term.
    off = torch.zeros(5, 32, dtype=torch.float64)
    off[:, -1] = 15.0
    assert not gate.accepts(off).any()
    assert gate.accepts(off / 15).all()
    assert not gate.accepts(fresh[:5] * 10).any()
    with pytest.raises(ValueError, match="more than"):
        FeatureGate.fit(gaussian_features(8), components=8)


def test_gate_file_round_trip_and_checks(tmp_path: Path) -> None:
    model = SkinClassifier(pretrained=False)
    gate = FeatureGate.fit(gaussian_features(300, dim=1280), components=16)
    gate.set_limit(gaussian_features(300, dim=1280, seed=1))
    model.gate = gate
    model.config.ood_gate = {"fitted_on": ["test"]}
    path = save_model(model, tmp_path / "m")
    assert (tmp_path / "m.gate.safetensors").is_file()
    loaded = load_model_file(path)
    assert loaded.gate is not None and loaded.gate.limit == pytest.approx(gate.limit)
    features = torch.as_tensor(gaussian_features(4, dim=1280, seed=3)).float()
    assert torch.allclose(loaded.gate.score(features), gate.score(features), rtol=1e-4)
    config = json.loads(path.with_suffix(".json").read_text())
    for bad in ("../elsewhere.safetensors", "/etc/passwd", "gate.pt"):
        path.with_suffix(".json").write_text(json.dumps({**config, "ood_gate": {"file": bad}}))
        with pytest.raises(ModelFileError, match=r"ood_gate\.file"):
            load_model_file(path)
    path.with_suffix(".json").write_text(json.dumps(config))
    (tmp_path / "m.gate.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ModelFileError, match="gate file"):
        load_model_file(path)


def test_shipped_gate_refuses_what_is_far_and_keeps_lesions(
    default_model, fanconic: Path, ham_root: Path
) -> None:
    """Scans of text, screenshots, noise and textures lie far beyond the limit; real lesions
    within it. (Some photographs pass: benchmarks/ood_gate.py measures how many.)"""
    gate = default_model.gate
    assert gate is not None and default_model.config.ood_gate["block"] == default_model.gate_block
    far = {**natural_images(), **synthetic_images()}
    names = ("page", "text", "gravel", "text-screenshot-1", "ui-screenshot", "astronaut", "cat")
    far = {k: far[k] for k in names}
    _, accepted = default_model.predict_with_gate(default_model.to_batch(list(far.values())))
    assert accepted is not None and not accepted.any(), far.keys()
    lesions = sorted((fanconic / "test" / "benign").glob("*.jpg"))[:12]
    lesions += sorted((ham_root / "images").glob("*.jpg"))[:12]
    _, accepted = default_model.predict_with_gate(default_model.to_batch(lesions))
    assert accepted.all()


def test_a_gate_on_a_backbone_block_round_trips_and_loading_keeps_the_weights(
    tmp_path: Path, fanconic: Path
) -> None:
    """The gate can read an earlier block's pooled output (what the shipped one does); loading
    such a model measures that block's width without moving any BatchNorm statistic."""
    model = SkinClassifier(pretrained=True).eval()
    model.read_gate_from(4)
    lesions = sorted((fanconic / "test" / "benign").glob("*.jpg"))[:4]
    features, gate_input = model.features_and_gate_input(model.to_batch(lesions))
    assert features.shape[1] == 1280 and gate_input.shape == (4, model.gate_input_size())
    model.gate = FeatureGate.fit(gaussian_features(300, dim=gate_input.shape[1]), components=16)
    model.gate.set_limit(gaussian_features(300, dim=gate_input.shape[1], seed=1))
    model.config.ood_gate = {"fitted_on": ["test"], "block": 4}
    path = save_model(model, tmp_path / "m")
    loaded = load_model_file(path)
    assert loaded.gate_block == 4
    saved = model.state_dict()
    assert all(torch.equal(saved[k], v) for k, v in loaded.state_dict().items())
    torch.testing.assert_close(
        loaded.features_and_gate_input(loaded.to_batch(lesions))[1], gate_input
    )
    config = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(
        json.dumps({**config, "ood_gate": {**config["ood_gate"], "block": 40}})
    )
    with pytest.raises(ModelFileError, match="not a backbone block"):
        load_model_file(path)


def test_an_image_without_colour_is_refused_whatever_the_gate_says(
    default_model, ham_root: Path
) -> None:
    """The colour rule: a real lesion in grey (or saved back as RGB from grey, through JPEG) is
    refused even by a gate whose limit would pass anything; the lesion in colour passes."""
    from PIL import Image

    from skinxai.ood_gate import has_colour

    photo = Image.open(sorted((ham_root / "images").glob("*.jpg"))[0]).convert("RGB")
    grey = photo.convert("L")
    buffer = io.BytesIO()
    grey.convert("RGB").save(buffer, "JPEG", quality=75)
    grey_jpeg = Image.open(buffer).convert("RGB")
    batch = default_model.to_batch([photo, grey.convert("RGB"), grey_jpeg])
    config = default_model.config
    assert has_colour(batch, config.mean, config.std).tolist() == [True, False, False]
    gate = default_model.gate
    open_gate = FeatureGate(gate.mean, gate.components, gate.variances, gate.noise_variance, 1e30)
    default_model.gate = open_gate
    try:
        _, accepted = default_model.predict_with_gate(batch)
    finally:
        default_model.gate = gate
    assert accepted.tolist() == [True, False, False]


def test_the_refusal_rate_of_a_data_set_counts_images_without_colour(
    default_model, ham_root: Path, tmp_path: Path
) -> None:
    """``evaluate``'s "refused as not dermoscopic" counts what the colour rule refuses, as the
    CLI and the API do."""
    from PIL import Image

    from skinxai.data.folder import LabelledImage
    from skinxai.evaluation.report import gate_report, predict_logits

    photos = sorted((ham_root / "images").glob("*.jpg"))[:3]
    grey = tmp_path / "grey.png"
    Image.open(photos[0]).convert("L").save(grey)
    samples = [LabelledImage(path, 0) for path in [*photos, grey]]
    raw = predict_logits(default_model, samples)
    assert raw.coloured.tolist() == [True, True, True, False]
    assert gate_report(default_model, raw.pooled, raw.coloured)["rejected"] == 1
    assert gate_report(default_model, raw.pooled[:3], raw.coloured[:3])["rejected"] == 0
