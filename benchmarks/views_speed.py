"""What the D4 views cost: the shipped model's diagnosis with its gate and Grad-CAM at the last
feature map, in images/s (the backbone in the model's inference precision), with one view of
each input against the eight turned views it averages (``symmetry: d4``), the same weights in
the same process.

Run: .venv/bin/python benchmarks/views_speed.py [--batch 32] [--repeats 3]
Prints a table and writes benchmarks/results/views_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

import skinxai
from explain_speed import measure
from skinxai.data.specs import resolve_spec
from skinxai.explain import explain

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/views_speed.json"))
    args = parser.parse_args()
    shipped = skinxai.load_model()
    paths = [s.path for s in resolve_spec("fanconic:test")][: args.batch]
    inputs = shipped.to_batch(paths)
    device = inputs.device
    results = {}
    for symmetry in ("none", "d4"):
        model = shipped.with_symmetry(symmetry)
        results[symmetry] = {
            "diagnosis": measure(
                lambda m=model: m.predict_with_gate(inputs), len(inputs), device, args.repeats
            ),
            "gradcam": measure(
                lambda m=model: explain(m, inputs, "gradcam", target=1),
                len(inputs),
                device,
                args.repeats,
            ),
        }
    table = Table(title=f"images/s, batch {len(inputs)}, {torch.get_num_threads()} CPU threads")
    for column in ("task", "one view", "8 views (D4)", "cost"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task in ("diagnosis", "gradcam"):
        one, eight = (results[s][task]["images_per_second"] for s in ("none", "d4"))
        results["d4"][task]["times_slower"] = one / eight
        table.add_row(task, f"{one:.1f}", f"{eight:.1f}", f"{one / eight:.1f}x")
    Console().print(table)
    report = {
        "skinxai": skinxai.__version__,
        "model_version": shipped.config.version,
        "inference_precision": shipped.precision,
        "machine": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "batch": len(inputs),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
