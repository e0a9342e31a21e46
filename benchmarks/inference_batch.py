"""How many images one inference pass on the CPU should hold: the shipped model's diagnosis
with its gate (``predict_with_gate`` over the same 64 images, in one call) with the backbone's
passes cut to each size, in images/s, in one process; for its 8 D4 views and for a one-view
copy. Under D4 a pass of B images is 8B views through the backbone, whose activations outgrow
the CPU's caches long before its arithmetic is busy. The model's own choice (``CPU_VIEWS_PER_PASS``
views a pass) is the last row of each; speeds are ratios against the first size named.

Prints a table and writes benchmarks/results/inference_batch.json.

Run: .venv/bin/python benchmarks/inference_batch.py [--passes 32,16,8,4,2,1] [--images 64]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

import skinxai
from skinxai.data.specs import resolve_spec

ROOT = Path(__file__).resolve().parents[1]


def images_per_second(model, inputs: torch.Tensor, per_pass: int | None, repeats: int) -> float:
    """The best of ``repeats`` diagnoses of every input, the backbone taking ``per_pass``
    images at a time (None: the model's own choice), after one to warm up (oneDNN picks its
    kernels per shape)."""
    if per_pass is None:
        model.__dict__.pop("_images_per_pass", None)
    else:
        model._images_per_pass = lambda: per_pass  # this run's pass size, on this instance
    model.predict_with_gate(inputs[: per_pass or 1])
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_with_gate(inputs)
        best = min(best, time.perf_counter() - started)
    return round(len(inputs) / best, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passes", default="32,16,8,4,2,1", help="images per pass, baseline first")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/inference_batch.json"))
    args = parser.parse_args()
    sizes = [int(b) for b in args.passes.split(",")]
    shipped = skinxai.load_model()
    inputs = shipped.to_batch([s.path for s in resolve_spec("fanconic:test")][: args.images])
    started = time.perf_counter()
    rows = []
    for symmetry in (shipped.config.symmetry, "none"):
        model = shipped.with_symmetry(symmetry)
        views = model.views_per_image
        measured = [(s, images_per_second(model, inputs, s, args.repeats)) for s in sizes]
        own = images_per_second(model, inputs, None, args.repeats)
        measured.append((model._images_per_pass(), own))
        for index, (per_pass, speed) in enumerate(measured):
            rows.append(
                {
                    "views_per_image": views,
                    "images_per_pass": per_pass,
                    "views_per_pass": per_pass * views,
                    "models_choice": index == len(measured) - 1,
                    "images_per_second": speed,
                    "over_first": round(speed / measured[0][1], 2),
                }
            )
    table = Table(title=f"diagnosis with the gate, {len(inputs)} images, images/s")
    for column in ("views", "images a pass", "views a pass", "img/s", f"x {sizes[0]} a pass"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            str(row["views_per_image"]),
            f"{row['images_per_pass']}{' (the model)' if row['models_choice'] else ''}",
            str(row["views_per_pass"]),
            f"{row['images_per_second']:.2f}",
            f"{row['over_first']:.2f}",
        )
    Console(width=120).print(table)
    report = {
        "machine": platform.platform(),
        "processor": platform.processor(),
        "model_version": shipped.config.version,
        "inference_precision": shipped.precision,
        "threads": torch.get_num_threads(),
        "images": len(inputs),
        "repeats": args.repeats,
        "seconds": round(time.perf_counter() - started, 1),
        "results": rows,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
