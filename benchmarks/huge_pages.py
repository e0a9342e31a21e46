"""What transparent huge pages do for CPU inference: the shipped model's diagnosis with its gate
(its own views, D4 for the shipped one) in images/s with PyTorch's ``THP_MEM_ALLOC_ENABLE`` off
and on, which ``skinxai`` turns on at import (``skinxai.huge_pages``).

PyTorch reads the setting once per process, so each setting runs in a child process of this one
on the same images, the settings taking turns; the best repeat of each child gives images/s,
and the child's own CPU time splits into arithmetic (user) and page-fault handling (system).
Prints a table and writes benchmarks/results/huge_pages.json.

Run: .venv/bin/python benchmarks/huge_pages.py [--batches 8,32] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"4 KiB pages": "0", "huge pages": "1"}


def child(batch: int, repeats: int) -> dict:
    """One setting in this process: the best of ``repeats`` diagnoses of ``batch`` images."""
    import torch

    import skinxai
    from skinxai.data.specs import resolve_spec

    model = skinxai.load_model()
    inputs = model.to_batch([s.path for s in resolve_spec("fanconic:test")][:batch])
    with torch.no_grad():
        model.predict_with_gate(inputs)  # warm-up: oneDNN picks its kernels
        before = resource.getrusage(resource.RUSAGE_SELF)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            model.predict_with_gate(inputs)
            best = min(best, time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "model_version": model.config.version,
        "inference_precision": model.precision,
        "symmetry": model.config.symmetry,
        "threads": torch.get_num_threads(),
        "images_per_second": round(batch / best, 2),
        "user_seconds": round(after.ru_utime - before.ru_utime, 1),
        "system_seconds": round(after.ru_stime - before.ru_stime, 1),
        "minor_faults_per_image": round((after.ru_minflt - before.ru_minflt) / (batch * repeats)),
    }


def run_child(setting: str, batch: int, repeats: int) -> dict:
    env = {**os.environ, "THP_MEM_ALLOC_ENABLE": SETTINGS[setting]}
    command = [sys.executable, __file__, "--child", "--batches", str(batch)]
    command += ["--repeats", str(repeats)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", default="8,32", help="comma-separated batch sizes")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/huge_pages.json"))
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.child:
        print(json.dumps(child(batches[0], args.repeats)))
        return
    started = time.perf_counter()
    rows = []
    for batch in batches:
        measured = {name: run_child(name, batch, args.repeats) for name in SETTINGS}
        baseline = measured["4 KiB pages"]["images_per_second"]
        for name, row in measured.items():
            rows.append({"setting": name, "batch": batch, **row})
            rows[-1]["over_4k_pages"] = round(row["images_per_second"] / baseline, 2)
    table = Table(title="diagnosis with the gate, shipped model, images/s")
    for column in ("pages", "batch", "img/s", "x 4 KiB", "user s", "system s", "faults/img"):
        table.add_column(column, justify="left" if column == "pages" else "right")
    for row in rows:
        table.add_row(
            row["setting"],
            str(row["batch"]),
            f"{row['images_per_second']:.2f}",
            f"{row['over_4k_pages']:.2f}",
            f"{row['user_seconds']:.1f}",
            f"{row['system_seconds']:.1f}",
            str(row["minor_faults_per_image"]),
        )
    Console(width=120).print(table)
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    report = {
        "machine": platform.platform(),
        "processor": platform.processor(),
        "kernel_thp_mode": thp.read_text().strip() if thp.is_file() else None,
        "model_version": rows[0]["model_version"],
        "repeats": args.repeats,
        "seconds": round(time.perf_counter() - started, 1),
        "results": rows,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
