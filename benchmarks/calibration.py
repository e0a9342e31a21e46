"""How far the shipped model's probabilities and decisions can be trusted, before and after
`skinxai calibrate` (fitted on validation data only: the sources its config names, pooled).

For each set: ECE (15 bins), Brier and NLL of P(malignant); sensitivity and specificity at the
threshold (0.5 before, the shipped operating point after); and with the uncertain band, the
share of images answered and the accuracy of those answers. The fitting sets are shown for
reference; derm7pt is external (never used to fit or choose anything).
Also, on the fitting sets alone: how often the shipped rule (one threshold meeting the goal on
every source) fitted on half of their lesions meets the goal on the other half's worst source,
fitted on the images alone or at the 95% bound over lesions.
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
)
from skinxai.metrics.operating_point import per_source_threshold

ROOT = Path(__file__).resolve().parents[1]
EVALUATION_SETS = {
    "ham10000:test": "ham10000:test",
    "fanconic:test": "fanconic:test",
    "isic2017:test": "isic2017:test",
    "derm7pt (external)": "derm7pt",
}


def fitting_sets(config) -> list[str]:
    """The sets the model's operating point was fitted on (HAM10000 val for older models)."""
    return (config.operating_point or {}).get("fitted_on") or ["ham10000:val"]


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
    fitted: dict[str, np.ndarray], goal: str, value: float, splits: int = 200
) -> dict[str, dict[str, float]]:
    """Split the fitting sets' lesions in halves ``splits`` times; fit the threshold on one
    half by the shipped rule (the goal on every source), on the images alone or at the 95%
    bound over lesions, and score the goal's rate on the other half's worst source: its mean,
    5th percentile and how often it holds."""
    p, labels = fitted["p"], fitted["labels"]
    sources, groups = fitted["sources"], fitted["groups"]
    confidence = {"on the images alone": None, "95% bound over lesions": 0.95}
    names, index = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(0)
    reached: dict[str, list[float]] = {rule: [] for rule in confidence}
    for _ in range(splits):
        fit = np.isin(index, rng.permutation(len(names))[: len(names) // 2])
        held_out_sources = [~fit & (sources == name) for name in np.unique(sources)]
        for rule, level in confidence.items():
            threshold, _own = per_source_threshold(
                p[fit], labels[fit], sources[fit], goal, value, level, groups[fit]
            )
            reached[rule].append(
                min(rates_at(p[part], labels[part], threshold)[goal] for part in held_out_sources)
            )
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
    point = config.operating_point
    fitted: dict[str, list] = {"p": [], "labels": [], "sources": [], "groups": []}
    fitting = fitting_sets(config)
    sets = {**{f"{spec} (fitting set)": spec for spec in fitting}, **EVALUATION_SETS}
    started = time.perf_counter()
    for name, spec in sets.items():
        samples = resolve_spec(spec)
        raw = predict_logits(model, samples)
        labels = np.array([s.label for s in samples])
        keep = np.array([i not in raw.failures for i in range(len(samples))])
        logits, labels = raw.logits[keep], labels[keep]
        calibrated = calibrated_p_malignant(model, logits)
        if spec in fitting:
            fitted["p"].append(calibrated)
            fitted["labels"].append(labels)
            fitted["sources"].append(np.full(len(labels), spec))
            fitted["groups"].append(
                lesion_groups([s.path for s, k in zip(samples, keep, strict=True) if k])
            )
        results[name] = {
            "n": len(labels),
            "n_malignant": int(labels.sum()),
            "before": scores(p_malignant(logits), labels, 0.5, None),
            "after": scores(calibrated, labels, config.threshold, band),
        }
    if point:
        pooled = {key: np.concatenate(parts) for key, parts in fitted.items()}
        rules = threshold_rules_on_held_out_lesions(pooled, point["goal"], point["value"])
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
            title="threshold fitted on half of the fitting sets' lesions, scored on the other "
            "half's worst source"
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
