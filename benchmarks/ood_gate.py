"""The shipped model's "not a dermoscopic image" gate, measured.

Scores scikit-image's bundled photographs and scans (real images nobody here made), synthetic
non-lesion pictures (blank, grey, noise, screenshots of text), and the dermoscopic test sets;
reports the AUROC of the gate's score for "not dermoscopic" against each dermoscopic set and
the share of each set the gate refuses (a real lesion refused is a false rejection).
Prints a table and writes benchmarks/results/ood_gate.json.
Run: .venv/bin/python benchmarks/ood_gate.py
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.natural_images import natural_images, synthetic_images  # noqa: E402

import skinxai  # noqa: E402
from skinxai.data.specs import resolve_spec  # noqa: E402
from skinxai.evaluation.report import predict_logits  # noqa: E402

DERMOSCOPIC = {
    "ham10000:test": "ham10000:test",
    "fanconic:test": "fanconic:test",
    "isic2017:val (set the limit)": "isic2017:val",
    "melanoma10k:val": "melanoma10k:val",
    "derm7pt (external)": "derm7pt",
}


def pil_scores(model, images: dict) -> dict[str, float]:
    batch = model.to_batch(list(images.values()))
    with torch.inference_mode():
        gate_input = model.features_and_gate_input(batch)[1]
    return dict(zip(images, model.gate.score(gate_input).tolist(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ood_gate.json"))
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    args = parser.parse_args()
    # the gate reads the upright view alone (model.features_and_gate_input), so one view gives
    # the shipped gate's scores without the cost of the other D4 views
    model = skinxai.load_model(args.model).with_symmetry("none")
    if model.gate is None:
        raise SystemExit("the shipped model has no gate: run skinxai calibrate --gate-train ...")
    started = time.perf_counter()
    limit = model.gate.limit
    natural, synthetic = pil_scores(model, natural_images()), pil_scores(model, synthetic_images())
    outside = np.array(list(natural.values()))
    results: dict = {}
    for name, spec in DERMOSCOPIC.items():
        raw = predict_logits(model, resolve_spec(spec))
        scores = model.gate.score(torch.as_tensor(raw.pooled)).numpy()
        truth = np.r_[np.zeros(len(scores)), np.ones(len(outside))]
        results[name] = {
            "n": len(scores),
            "rejected": int((scores > limit).sum()),
            "false_rejection_rate": float((scores > limit).mean()),
            "auroc_natural_vs_this_set": float(roc_auc_score(truth, np.r_[scores, outside])),
            "score_median": float(np.median(scores)),
        }
    table = Table(title=f"gate of {model.config.version} (limit {limit:.1f})")
    for column in ("images", "n", "refused", "share refused", "AUROC natural vs set"):
        table.add_column(column, justify="left" if column == "images" else "right")
    for label, scores in (("scikit-image photographs", natural), ("synthetic", synthetic)):
        refused = sum(s > limit for s in scores.values())
        table.add_row(label, str(len(scores)), str(refused), f"{refused / len(scores):.3f}", "")
    for name, row in results.items():
        table.add_row(
            name,
            str(row["n"]),
            str(row["rejected"]),
            f"{row['false_rejection_rate']:.4f}",
            f"{row['auroc_natural_vs_this_set']:.4f}",
        )
    Console(width=160).print(table)
    accepted = [n for n, s in {**natural, **synthetic}.items() if s <= limit]
    print(f"non-dermoscopic images the gate lets through: {accepted or 'none'}")
    payload = {
        "model_version": model.config.version,
        "inference_precision": model.precision,
        "machine": platform.platform(),
        "seconds": time.perf_counter() - started,
        "gate": model.config.ood_gate,
        "natural_scores": natural,
        "synthetic_scores": synthetic,
        "non_dermoscopic_accepted": accepted,
        "dermoscopic": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
