"""Weight interpolation (WiSE-FT) between the shipped model and an ImageNet start of the same
network: the ends are the two models, the middle is their weights' mean, the mixture starts
uncalibrated, and models that see their inputs differently are refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from skinxai.cli import app
from skinxai.model import SkinClassifier, load_model_file, save_model
from skinxai.model_config import ModelFileError
from skinxai.training.interpolate import interpolate_models, interpolated_state

runner = CliRunner()


@pytest.fixture(scope="module")
def one_view(default_model) -> SkinClassifier:
    return default_model.with_symmetry("none")


@pytest.fixture(scope="module")
def imagenet_start(one_view) -> SkinClassifier:
    """The same views and network, ImageNet backbone and a fresh (seeded) head."""
    torch.manual_seed(0)
    config = dataclasses.replace(
        one_view.config, version="imagenet-start", ood_gate=None, concepts=None
    )
    return SkinClassifier(config, pretrained=True).eval()


@pytest.fixture(scope="module")
def lesions(fanconic: Path, one_view) -> torch.Tensor:
    paths = sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:2]
    paths += sorted((fanconic / "test" / "benign").glob("*.jpg"))[:2]
    return one_view.to_batch(paths)


def _logits(model: SkinClassifier, batch: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(batch)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_the_ends_are_the_two_models(one_view, imagenet_start, lesions, weight: float) -> None:
    mixed = interpolate_models(one_view, imagenet_start, weight, "mixed")
    end = imagenet_start if weight else one_view
    torch.testing.assert_close(_logits(mixed, lesions), _logits(end, lesions))


def test_the_middle_is_the_mean_of_the_weights(one_view, imagenet_start) -> None:
    a, b = one_view.state_dict(), imagenet_start.state_dict()
    mixed = interpolated_state(a, b, 0.5)
    name = "classifier.weight"
    torch.testing.assert_close(mixed[name], (a[name] + b[name]) / 2)
    counts = [k for k, v in a.items() if not v.is_floating_point()]
    assert counts and all(torch.equal(mixed[k], a[k]) for k in counts)


def test_the_mixture_starts_uncalibrated_and_says_what_it_mixed(one_view, imagenet_start) -> None:
    mixed = interpolate_models(one_view, imagenet_start, 0.3, "mixed")
    config = mixed.config
    assert (config.threshold, config.temperature, config.beta_shape) == (0.5, 1.0, 0.0)
    assert config.operating_point is None and config.ood_gate is None and mixed.gate is None
    assert config.extra["interpolated"] == {
        "first": one_view.config.version,
        "second": "imagenet-start",
        "weight_of_second": 0.3,
    }
    assert config.canonical_resolution == one_view.config.canonical_resolution
    assert one_view.config.threshold != 0.5  # the first model's own calibration is not kept


def test_models_that_see_their_inputs_differently_are_refused(one_view) -> None:
    coarser = dataclasses.replace(one_view.config, canonical_resolution=112)
    with pytest.raises(ModelFileError, match="canonical_resolution"):
        interpolate_models(one_view, SkinClassifier(coarser, pretrained=False), 0.5, "mixed")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        interpolated_state(one_view.state_dict(), one_view.state_dict(), 1.5)


def test_the_command_writes_a_model_that_loads(
    tmp_path: Path, one_view, imagenet_start, lesions
) -> None:
    first, second = save_model(one_view, tmp_path / "a"), save_model(imagenet_start, tmp_path / "b")
    out = tmp_path / "mixed" / "model.safetensors"
    args = ["interpolate", str(first), str(second), "--out", str(out), "--weight", "0.25"]
    result = runner.invoke(app, [*args, "--version", "quarter"])
    assert result.exit_code == 0, result.output
    loaded = load_model_file(out, precision="32")
    assert loaded.config.version == "quarter"
    expected = interpolate_models(one_view, imagenet_start, 0.25, "quarter")
    torch.testing.assert_close(_logits(loaded, lesions), _logits(expected, lesions))


@pytest.mark.parametrize(
    ("change", "message"),
    [(["--weight", "1.5"], "less than or equal to 1"), (["--out", "mixed.pt"], ".safetensors")],
)
def test_bad_options_are_one_line(tmp_path: Path, one_view, change, message: str) -> None:
    first = save_model(one_view, tmp_path / "a")
    args = ["interpolate", str(first), str(first), "--out", str(tmp_path / "m.safetensors")]
    result = runner.invoke(app, [*args, *change])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "m.safetensors").exists()
