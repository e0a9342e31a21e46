"""Whether a candidate's AUROC gain over the shipped model is real, source by source: the
difference candidate - shipped on each validation source, with a paired bootstrap over images
(both models scored on the same resampled images) for its 95% interval and the share of
resamples in which the candidate is ahead. The worst-source rule reads one number per source;
this says which of its differences the data can tell apart from noise (issue 21: v3d's gain
was on isic2017 val's 30 malignant images).

Run: .venv/bin/python benchmarks/paired_auroc.py SHIPPED_MODEL CANDIDATE_MODEL
(model files or run folders). --precision as levers.py (default 32); --one-view scores both on
their upright view alone; --sources scores some of the validation sources (the 8 views of the
two smaller ones cost minutes where all four cost an hour of fp32). Prints a table and writes
benchmarks/results/paired_auroc.json (or --out).
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
from sklearn.metrics import roc_auc_score

import skinxai
from levers import VALIDATION, labelled_margins, model_path

ROOT = Path(__file__).resolve().parents[1]


def paired_difference(
    labels: np.ndarray, shipped: np.ndarray, candidate: np.ndarray, resamples: int, seed: int
) -> dict:
    """AUROC(candidate) - AUROC(shipped) and its paired bootstrap over images."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(resamples):
        picked = rng.integers(0, len(labels), len(labels))
        if labels[picked].min() == labels[picked].max():
            continue  # one class only: no AUROC
        differences.append(
            roc_auc_score(labels[picked], candidate[picked])
            - roc_auc_score(labels[picked], shipped[picked])
        )
    low, high = np.percentile(differences, [2.5, 97.5])
    return {
        "n": len(labels),
        "n_malignant": int(labels.sum()),
        "shipped_auroc": float(roc_auc_score(labels, shipped)),
        "candidate_auroc": float(roc_auc_score(labels, candidate)),
        "difference": float(roc_auc_score(labels, candidate) - roc_auc_score(labels, shipped)),
        "low": float(low),
        "high": float(high),
        "share_candidate_ahead": float(np.mean(np.array(differences) > 0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("shipped")
    parser.add_argument("candidate")
    parser.add_argument("--precision", default="32", help="auto, 32 or bf16")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument(
        "--one-view", action="store_true", help="both models on their upright view alone"
    )
    parser.add_argument(
        "--sources",
        default=",".join(VALIDATION),
        help="comma-separated validation sources (default: all; each keeps its resampling seed)",
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/paired_auroc.json"))
    args = parser.parse_args()
    sources = args.sources.split(",")
    if unknown := sorted(set(sources) - set(VALIDATION)):
        parser.error(f"unknown validation sources {unknown}; known: {', '.join(VALIDATION)}")
    start = time.perf_counter()
    models = {
        role: skinxai.load_model(model_path(path), precision=args.precision)
        for role, path in (("shipped", args.shipped), ("candidate", args.candidate))
    }
    if args.one_view:
        models = {role: model.with_symmetry("none") for role, model in models.items()}
    samples_by_spec: dict = {}
    results = {}
    for seed, spec in enumerate(VALIDATION):
        if spec not in sources:
            continue
        labels, shipped = labelled_margins(models["shipped"], spec, samples_by_spec)
        _, candidate = labelled_margins(models["candidate"], spec, samples_by_spec)
        results[spec] = paired_difference(labels, shipped, candidate, args.resamples, seed)

    table = Table(title="candidate - shipped AUROC, paired bootstrap over images")
    for column in ("source", "n (malignant)", "shipped", "candidate", "difference [95%]", "ahead"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for spec, row in results.items():
        table.add_row(
            spec,
            f"{row['n']} ({row['n_malignant']})",
            f"{row['shipped_auroc']:.3f}",
            f"{row['candidate_auroc']:.3f}",
            f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]",
            f"{row['share_candidate_ahead']:.1%}",
        )
    Console().print(table)
    report = {
        "skinxai": skinxai.__version__,
        "machine": platform.platform(),
        "symmetry": {role: model.config.symmetry for role, model in models.items()},
        "shipped": {"model": args.shipped, "version": models["shipped"].config.version},
        "candidate": {"model": args.candidate, "version": models["candidate"].config.version},
        "inference_precision": models["shipped"].precision,
        "resamples": args.resamples,
        "seconds": round(time.perf_counter() - start, 1),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
