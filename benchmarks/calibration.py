"""How far the shipped model's probabilities and decisions can be trusted, before and after
`skinxai calibrate` (fitted on validation data only: HAM10000 val).

For each set: ECE (15 bins), Brier and NLL of P(malignant); sensitivity and specificity at the
threshold (0.5 before, the shipped operating point after); and with the uncertain band, the
share of images answered and the accuracy of those answers. The fitting sets are shown for
reference; derm7pt is external (never used to fit or choose anything).
Prints a table and writes benchmarks/results/calibration.json.
Run: .venv/bin/python benchmarks/calibration.py
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
from skinxai.data.specs import resolve_spec
from skinxai.evaluation.report import calibrated_p_malignant, predict_logits
from skinxai.metrics.calibration import (
    Band,
    calibration_quality,
    coverage_and_accuracy,
    p_malignant,
    rates_at,
)

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "ham10000:val (fitting set)": "ham10000:val",
    "isic2017:val": "isic2017:val",
    "ham10000:test": "ham10000:test",
    "fanconic:test": "fanconic:test",
    "derm7pt (external)": "derm7pt",
}


def scores(p: np.ndarray, labels: np.ndarray, threshold: float, band: Band | None) -> dict:
    result = {
        **calibration_quality(p, labels),
        "threshold": threshold,
        **rates_at(p, labels, threshold),
    }
    if band is not None:
        result.update(coverage_and_accuracy(p, labels, band))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "calibration.json"))
    args = parser.parse_args()
    model = skinxai.load_model()
    config = model.config
    band = Band(*config.uncertain_band) if config.uncertain_band else None
    results = {}
    started = time.perf_counter()
    for name, spec in SETS.items():
        samples = resolve_spec(spec)
        raw = predict_logits(model, samples)
        labels = np.array([s.label for s in samples])
        keep = np.array([i not in raw.failures for i in range(len(samples))])
        logits, labels = raw.logits[keep], labels[keep]
        results[name] = {
            "n": len(labels),
            "n_malignant": int(labels.sum()),
            "before": scores(p_malignant(logits), labels, 0.5, None),
            "after": scores(calibrated_p_malignant(model, logits), labels, config.threshold, band),
        }
    table = Table(title=f"{config.version}: before -> after calibration")
    for column in (
        "set",
        "n",
        "ECE",
        "Brier",
        "NLL",
        "sens.",
        "spec.",
        "coverage",
        "acc. answered",
    ):
        table.add_column(column, justify="left" if column == "set" else "right")
    for name, row in results.items():
        before, after = row["before"], row["after"]
        table.add_row(
            name,
            str(row["n"]),
            *(f"{before[k]:.3f} -> {after[k]:.3f}" for k in ("ece_15_bins", "brier", "nll")),
            *(f"{before[k]:.3f} -> {after[k]:.3f}" for k in ("sensitivity", "specificity")),
            f"{after.get('coverage', 1.0):.3f}",
            f"{after.get('covered_accuracy', float('nan')):.3f}",
        )
    Console(width=180).print(table)
    payload = {
        "model_version": config.version,
        "machine": platform.platform(),
        "seconds": time.perf_counter() - started,
        "temperature": config.temperature,
        "bias": config.bias,
        "threshold": config.threshold,
        "operating_point": config.operating_point,
        "uncertain_band": config.uncertain_band,
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
