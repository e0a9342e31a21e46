"""How far the shipped model's probabilities and decisions can be trusted, before and after
`skinxai calibrate` (fitted on validation data only: HAM10000 val).

For each set: ECE (15 bins), Brier and NLL of P(malignant); sensitivity and specificity at the
threshold (0.5 before, the shipped operating point after); and with the uncertain band, the
share of images answered and the accuracy of those answers. The fitting sets are shown for
reference; derm7pt is external (never used to fit or choose anything).
Also, on the fitting set alone: how often a threshold fitted on half of its lesions meets the
goal on the other half, fitted on the images alone or at the 95% bound over lesions.
Prints two tables and writes benchmarks/results/calibration.json.
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
from skinxai.data.specs import lesion_groups, resolve_spec
from skinxai.evaluation.report import calibrated_p_malignant, predict_logits
from skinxai.metrics.calibration import (
    Band,
    calibration_quality,
    coverage_and_accuracy,
    p_malignant,
    rates_at,
    threshold_for_goal,
)
from skinxai.metrics.operating_point import confident_threshold

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


def threshold_rules_on_held_out_lesions(
    p: np.ndarray, labels: np.ndarray, groups: list[str], goal: str, value: float, splits: int = 200
) -> dict[str, dict[str, float]]:
    """Split the lesions in halves ``splits`` times; fit the threshold on one half by each rule
    and score the goal's rate on the other: its mean, 5th percentile and how often it holds."""
    rules = {
        "on the images alone": lambda q, y, g: threshold_for_goal(q, y, goal, value),
        "95% bound over lesions": lambda q, y, g: confident_threshold(
            q, y, goal, value, 0.95, g, replicates=1000
        ),
    }
    names, index = np.unique(np.asarray(groups), return_inverse=True)
    rng = np.random.default_rng(0)
    reached: dict[str, list[float]] = {rule: [] for rule in rules}
    for _ in range(splits):
        first = rng.permutation(len(names))[: len(names) // 2]
        fit = np.isin(index, first)
        for rule, fit_threshold in rules.items():
            threshold = fit_threshold(p[fit], labels[fit], [groups[i] for i in np.where(fit)[0]])
            reached[rule].append(rates_at(p[~fit], labels[~fit], threshold)[goal])
    return {
        rule: {
            "mean": float(np.mean(v)),
            "p05": float(np.quantile(v, 0.05)),
            "share_meeting_goal": float(np.mean(np.asarray(v) >= value)),
        }
        for rule, v in reached.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "calibration.json"))
    args = parser.parse_args()
    model = skinxai.load_model()
    config = model.config
    band = Band(*config.uncertain_band) if config.uncertain_band else None
    results, rules = {}, {}
    started = time.perf_counter()
    for name, spec in SETS.items():
        samples = resolve_spec(spec)
        raw = predict_logits(model, samples)
        labels = np.array([s.label for s in samples])
        keep = np.array([i not in raw.failures for i in range(len(samples))])
        logits, labels = raw.logits[keep], labels[keep]
        point = config.operating_point
        if point and spec in point["fitted_on"]:
            groups = lesion_groups([s.path for s, k in zip(samples, keep, strict=True) if k])
            rules = threshold_rules_on_held_out_lesions(
                calibrated_p_malignant(model, logits), labels, groups, point["goal"], point["value"]
            )
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
    if rules:
        held_out = Table(
            title="threshold fitted on half of the fitting set's lesions, scored on the other half"
        )
        for column in ("rule", "mean", "5th percentile", "share meeting the goal"):
            held_out.add_column(column, justify="left" if column == "rule" else "right")
        for rule, row in rules.items():
            held_out.add_row(
                rule, *(f"{row[k]:.3f}" for k in ("mean", "p05", "share_meeting_goal"))
            )
        Console(width=180).print(held_out)
    payload = {
        "model_version": config.version,
        "inference_precision": model.precision,
        "machine": platform.platform(),
        "seconds": time.perf_counter() - started,
        "temperature": config.temperature,
        "bias": config.bias,
        "beta_shape": config.beta_shape,
        "threshold": config.threshold,
        "operating_point": config.operating_point,
        "uncertain_band": config.uncertain_band,
        "results": results,
        "threshold_rules_on_held_out_lesions": rules,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
