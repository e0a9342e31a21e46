"""Explainer throughput and peak memory against plain inference and pytorch-grad-cam.

One process, the shipped model's weights on one view of each input (pytorch-grad-cam hooks
one map per image; one row adds the shipped model's own views, D4's 8 when it has them), real
fanconic images at 224 px; best of several repeats.
CPU: batch 32 (Score-CAM: batch 2, since it runs one forward pass per channel and image).
GPU (when CUDA is present): batch 256. --precision: auto (bf16 where the device has it), 32
or bf16. Prints a table and writes benchmarks/results/explain_speed.json.
Run: .venv/bin/python benchmarks/explain_speed.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

import skinxai
from skinxai.data.specs import resolve_spec
from skinxai.explain import explain
from skinxai.precision import inference_precision

ROOT = Path(__file__).resolve().parents[1]


class PeakMemory:
    """Peak resident memory (CPU, sampled) or peak CUDA allocation above the start level."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak = 0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            self.start = self._rss()
            self.running = True
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self._rss() - self.start)
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.start
        else:
            self.running = False
            self.thread.join()
            self.peak = max(self.peak, self._rss() - self.start)


def measure(fn: Callable[[], object], images: int, device: torch.device, repeats: int) -> dict:
    fn()  # warm-up
    best = float("inf")
    with PeakMemory(device) as memory:
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - started)
    return {
        "images_per_second": images / best,
        "seconds": best,
        "peak_memory_mib": memory.peak / 2**20,
    }


def run(
    device: torch.device, batch: int, score_batch: int, repeats: int, precision: str
) -> tuple[str, dict[str, dict]]:
    """The shipped model's version and, per row, its speed and peak memory."""
    try:
        from pytorch_grad_cam import GradCAM, ScoreCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError:  # a bare GPU machine may lack it (and OpenCV); ours is still measured
        GradCAM = ScoreCAM = ClassifierOutputTarget = None

    shipped = skinxai.load_model(device=str(device), precision=precision)
    # every row on one view, as pytorch-grad-cam needs; the D4 views' cost: views_speed.py
    model = shipped.with_symmetry("none")
    paths = [s.path for s in resolve_spec("fanconic:test")]
    reps = (batch + len(paths) - 1) // len(paths)
    inputs = model.to_batch((paths * reps)[:batch])
    score_inputs = inputs[:score_batch]
    layer = model.backbone.bn2

    def plain() -> None:
        with torch.inference_mode():
            model(inputs)

    def oracle(cls, x: torch.Tensor) -> Callable[[], None]:
        def call() -> None:
            with cls(model=model, target_layers=[layer]) as engine:
                engine.batch_size = 16
                engine(input_tensor=x, targets=[ClassifierOutputTarget(1)] * len(x))

        return call

    results = {"plain inference": measure(plain, batch, device, repeats)}
    for method in ("cam", "gradcam", "gradcam++", "layercam"):
        results[method] = measure(
            lambda m=method: explain(model, inputs, m, target=1), batch, device, repeats
        )
    results["gradcam (layer backbone.blocks.5)"] = measure(
        lambda: explain(model, inputs, "gradcam", target=1, layer="backbone.blocks.5"),
        batch,
        device,
        repeats,
    )
    results[f"gradcam, shipped {shipped.config.symmetry} views"] = measure(
        lambda: explain(shipped, inputs, "gradcam", target=1), batch, device, repeats
    )
    results["scorecam"] = measure(
        lambda: explain(model, score_inputs, "scorecam", target=1), score_batch, device, 1
    )
    base = results["plain inference"]["images_per_second"]
    for row in results.values():
        row["ratio_to_plain_inference"] = row["images_per_second"] / base
    if GradCAM is None:
        return shipped.config.version, results
    results["pytorch-grad-cam GradCAM"] = measure(oracle(GradCAM, inputs), batch, device, repeats)
    results["pytorch-grad-cam ScoreCAM"] = measure(
        oracle(ScoreCAM, score_inputs), score_batch, device, 1
    )
    for name in ("pytorch-grad-cam GradCAM", "pytorch-grad-cam ScoreCAM"):
        results[name]["ratio_to_plain_inference"] = results[name]["images_per_second"] / base
    results["gradcam"]["ratio_to_pytorch_grad_cam"] = (
        results["gradcam"]["images_per_second"]
        / results["pytorch-grad-cam GradCAM"]["images_per_second"]
    )
    results["scorecam"]["ratio_to_pytorch_grad_cam"] = (
        results["scorecam"]["images_per_second"]
        / results["pytorch-grad-cam ScoreCAM"]["images_per_second"]
    )
    return shipped.config.version, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=("all", "cpu", "cuda"), default="all")
    parser.add_argument("--precision", default="auto", help="auto, 32 or bf16")
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "explain_speed.json")
    )
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    payload = {
        "skinxai": skinxai.__version__,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "runs": {},
    }
    setups = [("cpu", torch.device("cpu"), 32, 2)] if args.device in ("all", "cpu") else []
    if torch.cuda.is_available() and args.device in ("all", "cuda"):
        setups.append((torch.cuda.get_device_name(0), torch.device("cuda"), 256, 16))
    for name, device, batch, score_batch in setups:
        version, results = run(device, batch, score_batch, args.repeats, args.precision)
        payload["model_version"] = version
        payload["runs"][name] = {
            "views": "one (upright) on every row but the shipped model's own",
            "batch": batch,
            "scorecam_batch": score_batch,
            "inference_precision": inference_precision(args.precision, device.type),
            "results": results,
        }
        table = Table(
            title=f"explain speed on {name} (batch {batch}; Score-CAM batch {score_batch})"
        )
        for column in (
            "method",
            "images/s",
            "x plain inference",
            "x pytorch-grad-cam",
            "peak memory MiB",
        ):
            table.add_column(column, justify="left" if column == "method" else "right")
        for method, row in results.items():
            ratio = row.get("ratio_to_pytorch_grad_cam")
            table.add_row(
                method,
                f"{row['images_per_second']:.3g}",
                f"{row['ratio_to_plain_inference']:.3f}",
                f"{ratio:.2f}" if ratio else "",
                f"{row['peak_memory_mib']:.0f}",
            )
        Console(width=160).print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
