"""How the "not a dermoscopic image" gate treats a clinic it never saw: the gate refitted as
`skinxai calibrate --gate-train` fits it (probabilistic PCA on two thirds of a stratified subset
of the training list, its limit at the 99.5th percentile of the validation images and the
held-out third), once on every source and once with each clinic's images left out of the fit
and of the limit. The left-out clinic's validation images then stand for a new clinic's
dermoscopy: the share refused at that limit, the factor on the limit that would pass 99% of
them, and the non-dermoscopic pictures (scikit-image's photographs, the synthetic fields) that
such a factor would let through. It reads no external set: derm7pt chooses nothing.

Run: .venv/bin/python benchmarks/gate_new_clinic.py [--model FILE]
Prints a table and writes benchmarks/results/gate_new_clinic.json.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.natural_images import natural_images, synthetic_images  # noqa: E402

import skinxai  # noqa: E402
from skinxai.data.specs import resolve_specs, stratified_subset  # noqa: E402
from skinxai.evaluation.report import predict_logits  # noqa: E402
from skinxai.ood_gate import DEFAULT_QUANTILE, FeatureGate  # noqa: E402
from skinxai.training.balance import source_names  # noqa: E402

# A clinic: the training sources and the validation sets that come from it. fanconic holds
# copies of HAM10000's photos, so the two leave together.
CLINICS = {
    "HAM10000 (and fanconic's copies)": (
        ("ham10000", "fanconic"),
        ("ham10000:val", "fanconic:train~ham10000:val"),
    ),
    "isic2017": (("isic2017",), ("isic2017:val",)),
    "melanoma10k": (("melanoma10k",), ("melanoma10k:val",)),
}
PASS_SHARE = 0.99  # the new clinic's share the factor on the limit should let through


def gate_inputs(model, specs: list[str], size: int | None = None) -> tuple[np.ndarray, list]:
    """The gate's pooled input of the images of ``specs`` (a stratified subset of ``size``)."""
    samples = resolve_specs(specs)
    if size is not None:
        samples = stratified_subset(samples, size, seed=0)
    raw = predict_logits(model, samples)
    usable = ~np.isnan(raw.pooled).any(axis=1)
    return raw.pooled[usable], [s for s, ok in zip(samples, usable, strict=True) if ok]


def fitted_gate(train: np.ndarray, held_out: np.ndarray, validation: np.ndarray) -> FeatureGate:
    """The gate as calibrate fits it: on ``train``, its limit on validation + held-out."""
    gate = FeatureGate.fit(train)
    gate.set_limit(np.concatenate([validation, held_out]), DEFAULT_QUANTILE)
    return gate


def far_ratios(gate: FeatureGate, far: np.ndarray, names: list[str]) -> dict[str, float]:
    """Each non-dermoscopic picture's score over the gate's limit (above 1: refused)."""
    ratios = (gate.score(torch.as_tensor(far)) / gate.limit).tolist()
    return dict(sorted(zip(names, ratios, strict=True), key=lambda item: item[1]))


def refused_shares(gate: FeatureGate, sets: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: gate.refusals(pooled)["rejection_rate"] for name, pooled in sets.items()}


def clinic_row(gate, new: np.ndarray, others: dict, far: np.ndarray, names: list[str]) -> dict:
    """What ``gate`` does to a clinic's images ``new`` and to the known clinics and far
    pictures, and the factor on its limit that passes ``PASS_SHARE`` of ``new``."""
    scores = gate.score(torch.as_tensor(new)).double()
    factor = max(1.0, float(torch.quantile(scores, PASS_SHARE)) / gate.limit)
    ratios = far_ratios(gate, far, names)
    return {
        "limit": gate.limit,
        "n": len(new),
        "refused": gate.refusals(new)["rejection_rate"],
        "refused_known_validation": {
            k: gate.refusals(v)["rejection_rate"] for k, v in others.items()
        },
        "score_median_over_limit": float(scores.median()) / gate.limit,
        "limit_factor_to_pass_99%": factor,
        "far_passing_at_that_factor": [n for n, r in ratios.items() if r <= factor],
        "far_score_over_limit": ratios,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--train", default="list:configs/melanoma10k_train.csv")
    parser.add_argument("--train-images", type=int, default=3000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/gate_new_clinic.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    # the gate reads the upright view alone, so a one-view copy gives its input
    model = skinxai.load_model(args.model, precision="32").with_symmetry("none").eval()
    train, samples = gate_inputs(model, [args.train], args.train_images)
    sources = np.array(source_names([s.path for s in samples]))
    held_out = np.arange(len(train)) % 3 == 2
    validation = {spec: gate_inputs(model, [spec])[0] for _, v in CLINICS.values() for spec in v}
    pictures = {**natural_images(), **synthetic_images()}
    with torch.inference_mode():
        far = model.features_and_gate_input(model.to_batch(list(pictures.values())))[1].numpy()

    every = fitted_gate(train[~held_out], train[held_out], np.concatenate([*validation.values()]))
    results = {}
    for clinic, (clinic_sources, clinic_val) in CLINICS.items():
        seen = ~np.isin(sources, clinic_sources)
        others = {k: v for k, v in validation.items() if k not in clinic_val}
        gate = fitted_gate(
            train[seen & ~held_out], train[seen & held_out], np.concatenate([*others.values()])
        )
        new = np.concatenate([validation[spec] for spec in clinic_val])
        results[clinic] = clinic_row(gate, new, others, far, list(pictures))
    print_table(every, results)
    report = {
        "model_version": model.config.version,
        "skinxai": skinxai.__version__,
        "machine": platform.platform(),
        "train_images": len(train),
        "every_source": {
            "limit": every.limit,
            "refused": refused_shares(every, validation),
            "far_score_over_limit": far_ratios(every, far, list(pictures)),
        },
        "seconds": round(time.perf_counter() - start, 1),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


def print_table(every: FeatureGate, results: dict) -> None:
    table = Table(title=f"a clinic left out of the gate (every source: limit {every.limit:.1f})")
    for column in ("left out", "n", "refused", "median / limit", "factor for 99%", "far passing"):
        table.add_column(
            column, justify="left" if column in ("left out", "far passing") else "right"
        )
    for clinic, row in results.items():
        table.add_row(
            clinic,
            str(row["n"]),
            f"{row['refused']:.1%}",
            f"{row['score_median_over_limit']:.2f}",
            f"{row['limit_factor_to_pass_99%']:.2f}",
            ", ".join(row["far_passing_at_that_factor"]) or "none",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
