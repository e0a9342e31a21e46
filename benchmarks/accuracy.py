"""Accuracy of the shipped default model on the held-out test sets, at its shipped threshold.

fanconic test (full; without near-duplicates of the model's training list; without the
documented near-duplicates of fanconic train), the HAM10000 grouped test split, isic2017 test
(full, and without its photos that fanconic also holds: 108 of its malignant images are
fanconic photos, a source the model trained on), derm7pt (external: another source, never
used to train, calibrate or select), and for reference the validation splits (HAM10000 val
chose the checkpoint and fitted the calibration, isic2017 val set the gate's limit,
melanoma10k val: 500 malignant photos of the ISIC 2019/2020 clinics, a validation source since
issue 21). Prints a table and writes benchmarks/results/accuracy.json.
Run: .venv/bin/python benchmarks/accuracy.py
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import skinxai
from skinxai.data.audit import find_near_duplicates
from skinxai.data.specs import resolve_paths
from skinxai.evaluation import evaluate
from skinxai.metrics.classification import REPORTED_METRICS, classification_metrics

ROOT = Path(__file__).resolve().parents[1]
# The shipped model's training stages: v1 (fanconic + HAM10000), isic2017 added (v2c), then
# melanoma10k train added (v3a).
TRAINING_LISTS = [
    "list:configs/default_train.csv",
    "list:configs/clinics_train.csv",
    "list:configs/melanoma10k_train.csv",
]
FANCONIC = ["fanconic:train", "fanconic:test"]
SETS = {
    "fanconic:test": [],
    "ham10000:test": [],
    "isic2017:test": [],
    "derm7pt": [],
    "ham10000:val": [],
    "isic2017:val": [],
    "melanoma10k:val": [],
}
SUBSETS = {
    "fanconic:test minus near-duplicates of the training lists": ("fanconic:test", TRAINING_LISTS),
    "fanconic:test minus near-duplicates of fanconic:train": ("fanconic:test", ["fanconic:train"]),
    "isic2017:test minus its fanconic photos": ("isic2017:test", FANCONIC),
}
COLUMNS = ("n", *(m for m in REPORTED_METRICS if m != "precision"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "accuracy.json"))
    parser.add_argument("--reports", default=str(ROOT / "out" / "benchmark-accuracy"))
    args = parser.parse_args()
    model = skinxai.load_model(args.model)
    results: dict[str, dict] = {}
    started = time.perf_counter()
    predictions: dict[str, tuple[list[Path], np.ndarray, np.ndarray]] = {}
    for spec in SETS:
        report = evaluate(model, spec, Path(args.reports) / spec.replace(":", "-"))
        results[spec] = report.metrics
        predictions[spec] = (
            [s.path for s in report.samples],
            np.array([s.label for s in report.samples]),
            report.p_malignant,
        )
    for name, (spec, references) in SUBSETS.items():
        paths, labels, scores = predictions[spec]
        reference = [path for r in references for path in resolve_paths(r)]
        duplicated = find_near_duplicates(paths, reference).images_a_with_duplicate
        keep = np.array([p not in duplicated for p in paths])
        metrics = classification_metrics(labels[keep], scores[keep], model.config.threshold)
        metrics["dropped_near_duplicates"] = int((~keep).sum())
        results[name] = metrics
    table = Table(title=f"accuracy of {model.config.version}")
    table.add_column("test set")
    for column in COLUMNS:
        table.add_column(
            column.replace("sensitivity_at_specificity_0.80", "sens@spec0.80"), justify="right"
        )
    for name, metrics in results.items():
        table.add_row(
            name,
            *[
                str(metrics[c])
                if c == "n"
                else f"{metrics[c]:.4f}"
                if metrics[c] is not None
                else "n/a"
                for c in COLUMNS
            ],
        )
    Console(width=200).print(table)
    payload = {
        "model_version": model.config.version,
        "inference_precision": model.precision,
        "threshold": model.config.threshold,
        "skinxai": skinxai.__version__,
        "machine": platform.platform(),
        "seconds": round(time.perf_counter() - started, 1),
        "note": "the validation sets (ham10000:val, isic2017:val, melanoma10k:val and fanconic's "
        "copies of HAM10000 val) chose the checkpoint, fitted the calibration and the threshold "
        "and set the gate's limit: none is a test set. derm7pt is external: never used to train, "
        "calibrate or select",
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
