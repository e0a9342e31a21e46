"""Archive runs on Lightning: shards that survive a kill, shares that cover the inputs once,
two gloo processes that give what one gives, and a run SIGKILLed halfway that a resumed run
finishes with every image exactly once and an index of exactly the figures on disk."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skinxai.archive.plan import ResumeMismatch, RunPlan, check_resumable, write_plan
from skinxai.archive.shards import ShardWriter, count_finished, finished_rows, shard_path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "skinxai.cli", *args]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli(*args),
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )


def image_list(fanconic: Path, path: Path, per_class: int) -> Path:
    """A ``list:`` CSV of the first ``per_class`` fanconic test images of each class."""
    rows = [
        f"fanconic/test/{name}/{file.name},{label}"
        for label, name in enumerate(("benign", "malignant"))
        for file in sorted((fanconic / "test" / name).iterdir())[:per_class]
    ]
    path.write_text("path,label\n" + "\n".join(rows) + "\n")
    return path


def test_a_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path, 0)
    writer.append([{"file": "a", "p": 1}, {"file": "b", "p": 2}])
    with open(shard_path(tmp_path, 0), "ab") as shard:
        shard.write(b'{"file": "c", "p"')  # a kill in the middle of a write
    assert list(finished_rows(tmp_path)) == ["a", "b"]
    ShardWriter(tmp_path, 0).append([{"file": "c", "p": 3}, {"file": "a", "p": 4}])
    rows = finished_rows(tmp_path)
    assert list(rows) == ["a", "b", "c"] and rows["a"]["p"] == 4  # a later line wins
    assert count_finished(tmp_path) == 4


def test_the_shares_of_the_ranks_cover_what_is_left_exactly_once() -> None:
    plan = RunPlan("explain", tuple(f"{i}.jpg" for i in range(11)))
    finished = {"0.jpg", "5.jpg", "6.jpg"}
    shares = [plan.share(finished, rank, 3, batch_size=2) for rank in range(3)]
    flat = [file for share in shares for file in share]
    assert sorted(flat) == sorted(set(plan.files) - finished) and len(flat) == len(set(flat))
    assert shares[0] == ["1.jpg", "2.jpg", "9.jpg", "10.jpg"]  # whole batches, as one rank's
    assert max(map(len, shares)) - min(map(len, shares)) <= 2


def test_resume_refuses_a_folder_that_holds_another_run(tmp_path: Path) -> None:
    plan = RunPlan("explain", ("a.jpg", "b.jpg"), {"methods": ["cam"]})
    with pytest.raises(ResumeMismatch, match="holds no earlier run"):
        check_resumable(tmp_path, plan)
    write_plan(tmp_path, plan)
    check_resumable(tmp_path, plan)
    with pytest.raises(ResumeMismatch, match="other options"):
        check_resumable(tmp_path, RunPlan("explain", plan.files, {"methods": ["gradcam"]}))
    with pytest.raises(ResumeMismatch, match="other number of inputs"):
        check_resumable(tmp_path, RunPlan("explain", ("a.jpg",), plan.options))


def predictions(out: Path) -> dict[str, dict]:
    with open(out / "predictions.csv", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def test_two_gloo_processes_predict_what_one_predicts_on_96_images(
    fanconic: Path, tmp_path: Path
) -> None:
    """fp32, so that the comparison is of the distribution, not of bf16 kernels chosen by batch
    size (benchmarks/scale.py measures those). 96 images: three batches of 32 for two ranks to
    share, each image through the shipped model's 8 views."""
    images = image_list(fanconic, tmp_path / "images.csv", 48)
    outs = {devices: tmp_path / f"p{devices}" for devices in (1, 2)}
    for devices, out in outs.items():
        done = run("predict", f"list:{images}", "--out", str(out), "--precision", "32",
                   "--devices", str(devices))  # fmt: skip
        assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: the gate refused some
        assert f"wrote {out / 'predictions.csv'} (96 images)" in done.stdout
    one, two = predictions(outs[1]), predictions(outs[2])
    assert list(one) == list(two) and len(one) == 96  # the inputs' order, each once
    assert sorted(p.name for p in (outs[2] / ".shards").iterdir()) == [
        "rank-0000.jsonl",
        "rank-0001.jsonl",
    ]
    for file, row in one.items():
        assert (row["label"], row["decision"], row["error_code"]) == (
            two[file]["label"],
            two[file]["decision"],
            two[file]["error_code"],
        )
        if row["p_malignant"]:
            assert float(row["p_malignant"]) == pytest.approx(
                float(two[file]["p_malignant"]), abs=1e-5
            )


def explanations(out: Path) -> list[dict]:
    return json.loads((out / "explanations.json").read_text())


def assert_index_is_the_figures_on_disk(out: Path, count: int) -> None:
    rows = explanations(out)
    assert len(rows) == len({row["file"] for row in rows}) == count
    assert {row["figure"] for row in rows if row["figure"]} == {p.name for p in out.glob("*.png")}
    assert (out / "index.html").read_text().count('<article class="card"') == count
    assert not list(out.glob(".*.tmp"))


def test_two_gloo_processes_explain_what_one_explains(fanconic: Path, tmp_path: Path) -> None:
    images = image_list(fanconic, tmp_path / "images.csv", 6)
    outs = {devices: tmp_path / f"e{devices}" for devices in (1, 2)}
    for devices, out in outs.items():
        done = run("explain", f"list:{images}", "--out", str(out), "--precision", "32",
                   "--batch-size", "4", "--devices", str(devices))  # fmt: skip
        assert done.returncode in (0, 1), done.stderr[-3000:]
        assert f"in {devices} process(es)" in done.stdout
        assert_index_is_the_figures_on_disk(out, 12)
    one, two = explanations(outs[1]), explanations(outs[2])
    assert [row["file"] for row in one] == [row["file"] for row in two]
    for a, b in zip(one, two, strict=True):
        assert (a["label"], a["figure"], a["error_code"]) == (
            b["label"],
            b["figure"],
            b["error_code"],
        )
        for method in a["methods"] or {}:
            grid_a, grid_b = (np.array(r["methods"][method]["grid"]) for r in (a, b))
            assert grid_a.shape == (7, 7)
            np.testing.assert_allclose(grid_a, grid_b, atol=1e-4)


def test_a_run_sigkilled_halfway_and_resumed_lists_every_image_once(
    fanconic: Path, tmp_path: Path
) -> None:
    images = image_list(fanconic, tmp_path / "images.csv", 12)
    out = tmp_path / "run"
    args = ("explain", f"list:{images}", "--out", str(out), "--batch-size", "2", "--devices", "2")
    process = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while count_finished(out) < 8 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.kill()  # SIGKILL to rank 0; rank 1 must die with it
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    time.sleep(1.0)
    killed_at = count_finished(out)
    assert 8 <= killed_at < 24, "the run must be stopped halfway"
    time.sleep(2.0)
    assert count_finished(out) == killed_at, "a rank kept writing after rank 0 was killed"
    resumed = run(*args, "--resume")
    assert resumed.returncode in (0, 1), resumed.stderr[-3000:]
    assert f"({killed_at} by the earlier run)" in resumed.stdout
    assert_index_is_the_figures_on_disk(out, 24)
    with open(images, newline="") as handle:
        expected = [Path(row["path"]).name for row in csv.DictReader(handle)]
    assert [Path(row["file"]).name for row in explanations(out)] == expected


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["predict", "LESION", "--devices", "2"], "need --out"),
        (["predict", "list:MISSING.csv", "--out", "OUT"], "MISSING.csv' does not exist"),
        (["explain", "list:NOPATH.csv", "--out", "OUT"], "has no 'path' column"),
        (["explain", "nowhere:test", "--out", "OUT"], "neither a folder nor a known set"),
        (["explain", "LESION", "--out", "OUT", "--resume"], "holds no earlier run to resume"),
    ],
)
def test_archive_input_errors_are_one_line(
    fanconic: Path, tmp_path: Path, command: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from skinxai.cli import app

    (tmp_path / "NOPATH.csv").write_text("file,label\na.jpg,0\n")
    lesion = str(next((fanconic / "test" / "malignant").iterdir()))
    names = {"LESION": lesion, "OUT": str(tmp_path / "out")}
    args = [names.get(a, a.replace("MISSING", str(tmp_path / "MISSING"))) for a in command]
    args = [a.replace("NOPATH", str(tmp_path / "NOPATH")) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
