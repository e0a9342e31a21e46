"""The parts of benchmarks/scale.py that need more than one model in one process: an archive
run (``skinxai explain`` / ``predict --out``) in 1 and 2 gloo processes on the same images,
timed end to end and compared image by image, and the ONNX graph in onnxruntime against the
same computation in PyTorch."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from explain_speed import measure
from skinxai.data.paths import shared_data_dir
from skinxai.export import DiagnosisGraph, export_onnx


def write_list(paths: list[Path], out: Path) -> Path:
    """A ``list:`` CSV of ``paths`` (relative to the shared data folder, as the format has)."""
    root = shared_data_dir()
    lines = [str(path.relative_to(root)) for path in paths]
    out.write_text("path\n" + "\n".join(lines) + "\n")
    return out


def timed_run(*args: str) -> float:
    """Seconds one CLI command takes, start-up included (what a user waits for)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "skinxai.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    if done.returncode not in (0, 1):  # 1: some inputs refused, as on any real archive
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - started


def _grid_agreement(one: list[dict], two: list[dict]) -> dict:
    """Largest |d grid| relative to the map's own peak, and the share of same-peak cells."""
    relative, same_peak = [], []
    for a, b in zip(one, two, strict=True):
        for method, entry in (a["methods"] or {}).items():
            grid_a, grid_b = np.array(entry["grid"]), np.array(b["methods"][method]["grid"])
            scale = max(np.abs(grid_a).max(), 1e-12)
            relative.append(float(np.abs(grid_a - grid_b).max() / scale))
            same_peak.append(grid_a.argmax() == grid_b.argmax())
    return {
        "grid_max_abs_relative": max(relative),
        "grid_p99_abs_relative": float(np.quantile(relative, 0.99)),
        "same_peak_cell": float(np.mean(same_peak)),
    }


def _row_agreement(one: dict[str, dict], two: dict[str, dict], p_key: str) -> dict:
    files = list(one)
    shifts = [
        abs(float(one[f][p_key]) - float(two[f][p_key]))
        for f in files
        if one[f][p_key] not in (None, "")
    ]
    return {
        "same_inputs_in_order": files == list(two),
        "label_differences": sum(one[f]["label"] != two[f]["label"] for f in files),
        "decision_differences": sum(one[f]["decision"] != two[f]["decision"] for f in files),
        "refusal_differences": sum(one[f]["error_code"] != two[f]["error_code"] for f in files),
        "p_malignant_max_abs_difference": max(shifts),
    }


def archive_processes(paths: list[Path], precisions: tuple[str, ...]) -> dict:
    """explain (cam, gradcam, figures) and predict over ``paths`` in 1 and 2 processes."""
    result: dict = {"images": len(paths)}
    with tempfile.TemporaryDirectory() as folder:
        images = write_list(paths, Path(folder) / "images.csv")
        for precision in precisions:
            runs = {}
            for task in ("explain", "predict"):
                for devices in (1, 2):
                    out = Path(folder) / f"{task}-{precision}-{devices}"
                    seconds = timed_run(
                        task, f"list:{images}", "--out", str(out), "--devices", str(devices),
                        "--precision", precision,
                    )  # fmt: skip
                    runs[(task, devices)] = out
                    result[f"{task}, {devices} process(es), {precision}"] = {
                        "seconds": seconds,
                        "images_per_second": len(paths) / seconds,
                    }
                one, two = (
                    result[f"{task}, {d} process(es), {precision}"] for d in (1, 2)
                )  # fmt: skip
                two["ratio_to_1_process"] = one["seconds"] / two["seconds"]
            explained = [json.loads((runs[("explain", d)] / "explanations.json").read_text())
                         for d in (1, 2)]  # fmt: skip
            by_file = [{row["file"]: row for row in rows} for rows in explained]
            predicted = []
            for d in (1, 2):
                with open(runs[("predict", d)] / "predictions.csv", newline="") as handle:
                    predicted.append({row["file"]: row for row in csv.DictReader(handle)})
            result[f"2 against 1 process, {precision}"] = {
                "explain": {
                    **_row_agreement(*by_file, "probability"),
                    **_grid_agreement(*explained),
                },
                "predict": _row_agreement(*predicted, "p_malignant"),
            }
    return result


def onnx_against_pytorch(model_fp32, model_bf16, pixels: torch.Tensor, repeats: int) -> dict:
    """Images/s of logits + P + CAM + gate from uint8 pixels: onnxruntime (CPU, all threads)
    against the same graph in PyTorch fp32 and bf16."""
    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        path = export_onnx(model_fp32, Path(folder) / "model.onnx")
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {"pixels": pixels.numpy()}
        device, n = torch.device("cpu"), len(pixels)
        rows = {"onnxruntime, fp32": measure(lambda: session.run(None, feed), n, device, repeats)}
    for name, model in (("fp32", model_fp32), ("bf16", model_bf16)):
        graph = DiagnosisGraph(model).eval()
        with torch.no_grad():
            rows[f"PyTorch, {name}"] = measure(lambda g=graph: g(pixels), n, device, repeats)
    onnx_rate = rows["onnxruntime, fp32"]["images_per_second"]
    for name in ("fp32", "bf16"):
        rows[f"PyTorch, {name}"]["onnxruntime_ratio"] = (
            onnx_rate / rows[f"PyTorch, {name}"]["images_per_second"]
        )
    return rows
