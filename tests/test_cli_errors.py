"""User errors end in one readable line and a non-zero exit, never a traceback: bad options,
unwritable output folders, damaged or hostile model files; and Ctrl-C during `explain` leaves
an index that lists exactly the figures on disk."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skinxai.cli import app
from skinxai.model import SkinClassifier, save_model

runner = CliRunner()


@pytest.fixture(scope="module")
def lesion(fanconic: Path) -> str:
    return str(sorted((fanconic / "test" / "malignant").glob("*.jpg"))[0])


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> Path:
    """A valid small model file to break in different ways."""
    folder = tmp_path_factory.mktemp("models")
    save_model(SkinClassifier(pretrained=False), folder / "good")
    return folder


def broken_model(folder: Path, name: str, config_change: dict | None = None) -> Path:
    """A copy of the good model whose JSON config has ``config_change`` applied."""
    weights = folder / f"{name}.safetensors"
    weights.write_bytes((folder / "good.safetensors").read_bytes())
    config = json.loads((folder / "good.json").read_text())
    (folder / f"{name}.json").write_text(json.dumps({**config, **(config_change or {})}))
    return weights


def assert_one_line_error(args: list[str], message: str, code: int = 2) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        repr(result.exception),
    )
    assert "Traceback" not in result.output
    assert message in result.output, (args, result.output)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--target", "²"], "unknown class '²'"),
        (["--target", "melanoma"], "unknown class 'melanoma'"),
        (["--layer", "dropout"], "not a spatial feature map"),
        (["--layer", "classifier"], "not a spatial feature map"),
        (["--layer", "backbone.nope"], "no layer named"),
    ],
)
def test_explain_option_errors(lesion: str, tmp_path: Path, options, message) -> None:
    assert_one_line_error(["explain", lesion, "--out", str(tmp_path / "x"), *options], message)


def test_output_folders_that_cannot_be_written(lesion: str, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for command in (
        ["explain", lesion, "--out", str(a_file / "out")],
        ["evaluate", "--data", "fanconic:test", "--out", str(a_file / "out")],
    ):
        assert_one_line_error(command, "cannot create the output folder")


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("hub", {"backbone": "hf-hub:timm/resnet18.a1_in1k"}, "never downloads"),
        ("unknown-backbone", {"backbone": "resnet9000"}, "unknown backbone"),
        ("threshold", {"threshold": "x"}, "threshold must be a number"),
        ("input-size", {"input_size": "abc"}, "input_size must be an integer"),
        ("std", {"std": [0, 0, 0]}, "std must lie within"),
        ("dropout", {"dropout": 5}, "dropout must lie within"),
        ("mean", {"mean": [0.5]}, "mean must be a list of 3 numbers"),
        ("temperature", {"temperature": float("inf")}, "temperature must lie within"),
    ],
)
def test_bad_model_configs(model_files: Path, lesion: str, name, change, message) -> None:
    path = broken_model(model_files, name, change)
    started = time.monotonic()
    assert_one_line_error(["predict", lesion, "--model", str(path)], message)
    assert time.monotonic() - started < 10  # no hub retries
    assert_one_line_error(["serve", "--model", str(path), "--port", "1"], message)


def test_damaged_and_hostile_model_files(model_files: Path, lesion: str) -> None:
    good = (model_files / "good.safetensors").read_bytes()
    config = (model_files / "good.json").read_text()
    cases = {
        "truncated": (good[: len(good) // 2], "damaged or truncated"),
        "bad-header": (good[:8] + b"{not json" + good[17:], "damaged or truncated"),
    }
    for name, (data, message) in cases.items():
        (model_files / f"{name}.safetensors").write_bytes(data)
        (model_files / f"{name}.json").write_text(config)
        assert_one_line_error(
            ["predict", lesion, "--model", str(model_files / f"{name}.safetensors")], message
        )
    pickle = model_files / "x.pt"
    pickle.write_bytes(b"\x80\x04K\x01.")
    assert_one_line_error(["serve", "--model", str(pickle), "--port", "1"], "looks like a pickle")


def test_ctrl_c_during_explain_leaves_an_index_of_exactly_the_figures(
    fanconic: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skinxai.cli",
            "explain",
            str(fanconic / "test" / "malignant"),
            "--out",
            str(out),
            "--batch-size",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.png"))) < 9 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "interrupted" in stderr
    rows = json.loads((out / "explanations.json").read_text())
    assert 8 <= len(rows) < 300
    assert {row["figure"] for row in rows} == {p.name for p in out.glob("*.png")}
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--monitor", "val_f1"], "monitor must be one of val_loss, val_worst_auroc"),
        (["--augmentation", "heavy"], "augmentation must be one of study, acquisition"),
        (["--mask-penalty", "0.5"], "mask_penalty needs mask_folders"),
        (["--freeze-blocks", "99"], "the backbone has 7 blocks"),
        (["--symmetry", "d8"], "symmetry must be one of none, d4"),
        (["--canonical-resolution", "500"], "canonical_resolution must lie within"),
        (["--val", "fanconic:test~"], "must name two sets as A~B"),
        (["--init", "MISSING_GATE"], "is missing or damaged"),
        (["--wide-circle-p", "2"], "wide_circle_p must lie between 0 and 1"),
    ],
)
def test_train_option_errors(tmp_path: Path, model_files: Path, options, message) -> None:
    if "MISSING_GATE" in options:
        weights = broken_model(model_files, "gateless", {"ood_gate": {"file": "none.safetensors"}})
        options = ["--init", str(weights)]
    small = ["--train", "fanconic:test", "--limit", "16", "--input-size", "64", "--workers", "0"]
    assert_one_line_error(["train", *small, "--out", str(tmp_path / "run"), *options], message)


# Hardening round two: rows 5 (SIGTERM, a second Ctrl-C), 6 (a named pipe), 7 (exit codes) and
# 10 (the README's --layer example).


def explain_in_background(folder: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "skinxai.cli", "explain", str(folder)),
            *("--out", str(out), "--batch-size", "4"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def wait_for_figures(out: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.png"))) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def assert_index_lists_exactly_the_figures(out: Path) -> None:
    rows = json.loads((out / "explanations.json").read_text())
    assert rows and {row["figure"] for row in rows} == {p.name for p in out.glob("*.png")}
    assert len(rows) == (out / "index.html").read_text().count('<article class="card"')
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("signals", "code"),
    [
        ([signal.SIGTERM], 143),  # as Ctrl-C, with the exit code of SIGTERM
        ([signal.SIGINT, signal.SIGINT], 130),  # the second arrives during the clean-up
        ([signal.SIGTERM, signal.SIGTERM], 143),
    ],
)
def test_signals_during_explain_leave_an_index_of_exactly_the_figures(
    fanconic: Path, tmp_path: Path, signals: list[int], code: int
) -> None:
    out = tmp_path / "out"
    process = explain_in_background(fanconic / "test" / "malignant", out)
    wait_for_figures(out, 5)
    for number in signals:
        process.send_signal(number)
        time.sleep(0.01)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr[-2000:]
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert_index_lists_exactly_the_figures(out)


def test_a_named_pipe_is_an_error_row_not_a_hang(tmp_path: Path, lesion: str) -> None:
    pipe = tmp_path / "p.jpg"
    os.mkfifo(pipe)
    result = subprocess.run(
        [sys.executable, "-m", "skinxai.cli", "predict", str(pipe), lesion, "--json"],
        capture_output=True,
        text=True,
        timeout=120,  # reading the pipe would wait for a writer forever
    )
    assert result.returncode == 1, result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["error_code"] == "unreadable_path" and "not a regular file" in rows[0]["error"]
    assert rows[1]["decision"] in ("benign", "malignant", "uncertain")


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "/nope.jpg"],
        ["explain", "/nope"],
        ["explain", "/nope.jpg", "--method", "gradcam"],
    ],
)
def test_a_missing_path_is_a_user_error(command: list[str], tmp_path: Path) -> None:
    if command[0] == "explain":
        command = [*command, "--out", str(tmp_path / "out")]
    assert_one_line_error(command, f"'{command[1]}' does not exist")


def test_serve_on_a_busy_port_or_an_unknown_host_is_one_error_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for options, message in (
            (["--port", str(port)], f"cannot listen on 127.0.0.1:{port}"),
            (["--host", "no-such-host.invalid", "--port", str(port)], "cannot listen on"),
            (["--host", "203.0.113.7", "--port", str(port)], "cannot listen on 203.0.113.7"),
        ):
            result = subprocess.run(
                [sys.executable, "-m", "skinxai.cli", "serve", *options],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 2, (options, result.stderr[-2000:])
            assert message in result.stderr and "Traceback" not in result.stderr


def test_the_readme_layer_example_works(lesion: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["explain", lesion, "--layer", "backbone.blocks.5", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "o" / "explanations.json").read_text())
    assert list(rows[0]["methods"]) == ["gradcam"]  # CAM needs the last map: not the default
    assert_one_line_error(
        [
            *("explain", lesion, "--layer", "backbone.blocks.5"),
            *("--method", "cam,gradcam", "--out", str(tmp_path / "p")),
        ],
        "cam uses the classifier weights",
    )
