"""A broken model never answers: weights that are not numbers are refused at load, a config of
the wrong shape is one clear error whatever is in it, and an output that is not a number is an
error row or a 500, never a decision (hardening round two, rows 1 and 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import httpx
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from skinxai.cli import app
from skinxai.model import default_model_path, load_model_file
from skinxai.model_config import ModelConfig, ModelFileError, ModelOutputError
from tests.test_serve import start_server, stop_server

runner = CliRunner()


@pytest.fixture(scope="module")
def shipped_copy(tmp_path_factory) -> Path:
    """The shipped model, its config, its gate and its concept readers copied into a folder of
    their own."""
    source = default_model_path()
    folder = tmp_path_factory.mktemp("shipped")
    beside = ("model.gate.safetensors", "model.concepts.safetensors")
    for name in (source.name, source.with_suffix(".json").name, *beside):
        (folder / name).write_bytes((source.parent / name).read_bytes())
    return folder / source.name


def variant(shipped: Path, name: str, change) -> Path:
    """A copy of the shipped model whose weights ``change(state)`` edited in place."""
    state = load_file(str(shipped))
    change(state)
    target = shipped.with_name(f"{name}.safetensors")
    save_file(state, str(target))
    target.with_suffix(".json").write_text(shipped.with_suffix(".json").read_text())
    return target


@pytest.fixture(scope="module")
def lesion(fanconic: Path) -> str:
    return str(sorted((fanconic / "test" / "malignant").glob("*.jpg"))[0])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_that_are_not_numbers_are_refused_at_load(
    shipped_copy: Path, lesion: str, bad: float
) -> None:
    path = variant(shipped_copy, f"bad-{bad}", lambda s: s["classifier.weight"].fill_(bad))
    with pytest.raises(ModelFileError, match=r"not numbers .* classifier.weight"):
        load_model_file(path)
    result = runner.invoke(app, ["predict", lesion, "--model", str(path), "--json"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "not numbers" in result.output
    assert "Traceback" not in result.output and result.stdout == ""  # no rows, no NaN
    stderr = subprocess.run(
        [sys.executable, "-m", "skinxai.cli", "serve", "--model", str(path), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stderr.returncode == 2 and "not numbers" in stderr.stderr
    assert "Traceback" not in stderr.stderr


def test_a_gate_that_is_not_numbers_is_refused(shipped_copy: Path) -> None:
    folder = shipped_copy.parent / "gate-nan"
    folder.mkdir()
    for name in (shipped_copy.name, shipped_copy.with_suffix(".json").name):
        (folder / name).write_bytes((shipped_copy.parent / name).read_bytes())
    gate = load_file(str(shipped_copy.with_name("model.gate.safetensors")))
    gate["mean"][0] = float("nan")
    save_file(gate, str(folder / "model.gate.safetensors"))
    with pytest.raises(ModelFileError, match="not numbers"):
        load_model_file(folder / shipped_copy.name)


def overflowing(state: dict) -> None:
    """Finite weights whose benign score overflows to inf - inf = NaN on every real image."""
    weight = state["classifier.weight"]
    half = weight.shape[1] // 2
    weight[0, :half], weight[0, half:] = 3e38, -3e38


def test_an_output_that_is_not_a_number_is_an_error_never_a_decision(
    shipped_copy: Path, lesion: str
) -> None:
    path = variant(shipped_copy, "overflow", overflowing)
    model = load_model_file(path)  # every weight is finite: it loads
    with pytest.raises(ModelOutputError, match="not a number"):
        model.predict_proba(lesion)
    result = runner.invoke(app, ["predict", lesion, lesion, "--model", str(path), "--json"])
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout[result.stdout.index("[") :])  # strict JSON: no NaN
    assert [row["error_code"] for row in rows] == ["model_output_not_finite"] * 2
    assert all(row["decision"] is None and row["p_malignant"] is None for row in rows)
    explained = runner.invoke(
        app, ["explain", lesion, "--model", str(path), "--out", str(path.parent / "x")]
    )
    assert explained.exit_code == 1 and "not a number" in explained.output

    process, base = start_server("--model", str(path))
    try:
        for endpoint in ("/api/v1/predict", "/api/v1/explain"):
            response = httpx.post(
                base + endpoint, files={"file": ("x.jpg", Path(lesion).read_bytes())}, timeout=120
            )
            assert response.status_code == 500, response.text
            assert response.json()["error"] == "model_output_not_finite"
            assert "decision" not in response.json()
    finally:
        assert "Traceback" not in stop_server(process)


HOSTILE_VALUES = [5, -1, 1e308, "x", "", [], [1], {}, {"a": 1}, None, True, ["a", "b", "c"]]


@pytest.mark.parametrize("field", [f.name for f in fields(ModelConfig)])
def test_any_value_in_any_config_field_is_loaded_or_refused_clearly(field: str) -> None:
    base = json.loads(ModelConfig().to_json())
    refused = 0
    for value in HOSTILE_VALUES:
        try:  # no TypeError, RecursionError, ...: a ModelFileError is the only way to fail
            ModelConfig.from_dict({**base, field: value})
        except ModelFileError as error:
            assert field in str(error), (value, str(error))  # it names the field
            refused += 1
    assert refused >= 1  # every field refuses something


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("class-names-number", None, "class_names must be"),
        ("deep", "[" * 200_000, "nested too deeply"),
    ],
)
def test_damaged_configs_are_one_error_line(
    shipped_copy: Path, lesion: str, name: str, text: str | None, message: str
) -> None:
    weights = shipped_copy.with_name(f"{name}.safetensors")
    weights.write_bytes(shipped_copy.read_bytes())
    config = json.loads(shipped_copy.with_suffix(".json").read_text())
    weights.with_suffix(".json").write_text(text or json.dumps({**config, "class_names": 5}))
    for command in (["predict", lesion], ["serve", "--port", "1"]):
        result = subprocess.run(
            [sys.executable, "-m", "skinxai.cli", *command, "--model", str(weights)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr[-2000:]
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_probabilities_refuse_nan_margins() -> None:
    config = ModelConfig()
    logits = torch.tensor([[0.0, 1.0], [float("nan"), 0.0]])
    with pytest.raises(ModelOutputError, match="1 of 2 images"):
        config.probabilities(logits)
    assert torch.isfinite(config.probabilities(torch.tensor([[0.0, 1e30]]))).all()
