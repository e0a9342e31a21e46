"""Is the shipped model right for the right reasons? Three checks for shortcuts:

1. Per source: AUROC, sensitivity and specificity at the shipped threshold, and the mean
   P(malignant) of benign lesions, for every source in the evaluation sets (fanconic test
   split by the audit into HAM10000 photos and other ISIC photos; isic2017 test without the
   photos it shares with fanconic; derm7pt, never used to train or select).
2. Label flips under changes that keep the diagnosis (data/acquisition.py): the share of
   images whose label at the shipped threshold changes, on fanconic test and derm7pt; and
   melanoma10k's black-circle shortcut both ways: a wide black circle (radius 0.55 and 0.8 of
   half the shorter side, as on Barcelona's photos) drawn on the benign images of every
   source, and removed (cropped to the bright field) from melanoma10k val's malignant ones.
3. Where Grad-CAM points on HAM10000 test (lesion masks): pointing game and the map's mass
   inside the lesion, for the predicted class, against a centred Gaussian that knows nothing;
   the same for the decision map (the decided class's CAM minus the other's: the margin's
   evidence); and for the images of each decision (benign, uncertain, malignant) on their own.

Prints tables and writes benchmarks/results/shortcuts.json.
Run: .venv/bin/python benchmarks/shortcuts.py [--model FILE] [--checks flips,circle] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader

import skinxai
from skinxai.data.acquisition import (
    DIAGNOSIS_PRESERVING,
    WIDE_CIRCLE_RADII,
    black_circle,
    bright_field_box,
)
from skinxai.data.folder import LabelledImage
from skinxai.data.specs import resolve_spec
from skinxai.evaluation.report import (
    calibrated_p_malignant,
    drop_near_duplicates,
    predict_logits,
)
from skinxai.explain import explain_grid
from skinxai.explain.baselines import centred_gaussian
from skinxai.explain.core import normalise_maps
from skinxai.explanation_quality.samples import MaskedImages, masked_set
from skinxai.io import load_image
from skinxai.metrics.bootstrap import bootstrap_mean
from skinxai.metrics.calibration import rates_at
from skinxai.metrics.localization import localisation_scores
from skinxai.preprocessing import normalize, to_square_uint8

ROOT = Path(__file__).resolve().parents[1]
FLIP_SETS = ("fanconic:test", "derm7pt")
CIRCLE_BENIGN_SETS = (
    "ham10000:test",
    "fanconic:test",
    "isic2017:val",
    "melanoma10k:val",
    "derm7pt",
)


def sources() -> dict[str, list[LabelledImage]]:
    """Every source in the evaluation sets, split by the near-duplicate audit."""
    fanconic = resolve_spec("fanconic:test")
    not_ham, _ = drop_near_duplicates(fanconic, ["ham10000"])
    isic_test, shared = drop_near_duplicates(
        resolve_spec("isic2017:test"), ["fanconic:train", "fanconic:test"]
    )
    return {
        "HAM10000 grouped test": resolve_spec("ham10000:test"),
        "fanconic test: HAM10000 photos": [s for s in fanconic if s not in not_ham],
        "fanconic test: other ISIC photos": not_ham,
        "isic2017 val": resolve_spec("isic2017:val"),
        f"isic2017 test without its {shared} fanconic photos": isic_test,
        "derm7pt (external)": resolve_spec("derm7pt"),
    }


def per_source(model, threshold: float) -> dict:
    results = {}
    for name, samples in sources().items():
        raw = predict_logits(model, samples)
        labels = np.array([s.label for s in samples])
        keep = np.isfinite(raw.logits).all(axis=1)
        p, labels = calibrated_p_malignant(model, raw.logits[keep]), labels[keep]
        both = len(set(labels.tolist())) == 2
        results[name] = {
            "n": len(labels),
            "n_malignant": int(labels.sum()),
            "auroc": float(roc_auc_score(labels, p)) if both else None,
            **{k: (None if np.isnan(v) else v) for k, v in rates_at(p, labels, threshold).items()},
            "mean_p_malignant_of_benign": float(p[labels == 0].mean())
            if (labels == 0).any()
            else None,
        }
    return results


def _decisions(model, images: list, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Labels at the shipped threshold and the raw malignant-minus-benign logit of images."""
    config = model.config
    labels, margins = [], []
    for start in range(0, len(images), batch):
        chunk = torch.stack(
            [to_square_uint8(i, config.input_size) for i in images[start : start + batch]]
        )
        with torch.inference_mode():
            batch_on_device = model.to_batch(normalize(chunk, config.mean, config.std))
            logits = model.logits_features_and_gate_input(batch_on_device)[0].float().cpu()
        labels.append((config.probabilities(logits)[:, 1] >= config.threshold).numpy())
        margins.append((logits[:, 1] - logits[:, 0]).numpy())
    return np.concatenate(labels), np.concatenate(margins)


def _labels(model, images: list) -> np.ndarray:
    return _decisions(model, images)[0]


def flip_rates(model, spec: str) -> dict:
    """Per change, the share of images whose label at the threshold changes, and the mean
    change of the raw malignant-minus-benign logit (which way a change pushes the model)."""
    samples = resolve_spec(spec)
    counts = {name: 0 for name in DIAGNOSIS_PRESERVING}
    shifts = {name: 0.0 for name in DIAGNOSIS_PRESERVING}
    total = 0
    for start in range(0, len(samples), 128):
        images = [load_image(s.path) for s in samples[start : start + 128]]
        original, margin = _decisions(model, images)
        for name, change in DIAGNOSIS_PRESERVING.items():
            labels, changed = _decisions(model, [change(i) for i in images])
            counts[name] += int((labels != original).sum())
            shifts[name] += float((changed - margin).sum())
        total += len(images)
    return {
        "n": total,
        **{name: count / total for name, count in counts.items()},
        "mean_logit_change": {name: shift / total for name, shift in shifts.items()},
    }


def circle_shortcut(model) -> dict:
    """melanoma10k's black-circle shortcut, both ways: the share of benign images of every
    source (those without a circle of their own) called malignant more or less often when a
    wide black circle is drawn on them, at each end of Barcelona's radii; and the share of
    melanoma10k val's malignant photos with a circle whose label changes when they are
    cropped to the bright field."""
    drawn = {}
    for spec in CIRCLE_BENIGN_SETS:
        images = [load_image(s.path) for s in resolve_spec(spec) if s.label == 0]
        images = [image for image in images if bright_field_box(image) is None]
        original = _labels(model, images)
        drawn[spec] = {"n": len(images), "called_malignant": float(original.mean())}
        for radius in WIDE_CIRCLE_RADII:
            with_circle = _labels(model, [black_circle(radius)(image) for image in images])
            drawn[spec][f"flips_radius_{radius}"] = float((with_circle != original).mean())
            drawn[spec][f"called_malignant_radius_{radius}"] = float(with_circle.mean())
    malignant = [load_image(s.path) for s in resolve_spec("melanoma10k:val") if s.label == 1]
    boxes = [(image, bright_field_box(image)) for image in malignant]
    circled = [image.crop(box) for image, box in boxes if box is not None]
    originals = [image for image, box in boxes if box is not None]
    before, after = _labels(model, originals), _labels(model, circled)
    removed = {
        "n_malignant": len(malignant),
        "n_with_circle": len(circled),
        "called_malignant": float(before.mean()),
        "called_malignant_cropped": float(after.mean()),
        "flips": float((before != after).mean()),
    }
    return {"circle_drawn_on_benign": drawn, "circle_removed_from_melanoma10k_val": removed}


def decision_maps(grid: dict, decided: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The decided class's evidence over the other's, ReLU((w_decided - w_other) . A): the map
    of the logit margin, which alone sets P and which the outside-the-lesion penalty trains."""
    malignant_over_benign = grid[("cam", 2)].raw - grid[("cam", 1)].raw
    sign = (2 * decided - 1).to(malignant_over_benign.dtype)[:, None, None]
    return normalise_maps((sign * malignant_over_benign).clamp_min(0), size)


def where_gradcam_points(model) -> dict:
    """Grad-CAM (predicted class) and the decision map (its margin over the other class)
    against the centred Gaussian on HAM10000 test masks; and each map alone for the images of
    each decision (benign, uncertain, malignant)."""
    config = model.config
    images = masked_set("ham10000:test").samples
    dataset = MaskedImages(images, config.input_size, config.mean, config.std)
    names = ("gradcam", "decision map", "centred gaussian")
    scores: dict[str, dict[str, list]] = {name: {} for name in names}
    decisions: list[str] = []
    for items in DataLoader(dataset, batch_size=32, collate_fn=lambda items: items):
        inputs = torch.stack([item[1] for item in items if len(item) == 3])
        masks = torch.stack([item[2] for item in items if len(item) == 3])
        grid = explain_grid(model, inputs, ("gradcam", "cam"), (None, "benign", "malignant"))
        gradcam = grid[("gradcam", 0)]
        decisions += [config.decision(float(p)) for p in gradcam.probs[:, 1]]
        maps = {
            "gradcam": gradcam.maps,
            "decision map": decision_maps(grid, gradcam.targets, tuple(inputs.shape[-2:])),
            "centred gaussian": centred_gaussian(inputs),
        }
        for name, heat in maps.items():
            for key, values in localisation_scores(heat, masks).items():
                if key in ("pointing_game", "energy_inside"):
                    scores[name].setdefault(key, []).extend(values.tolist())
    decided = np.array(decisions)
    result = {
        name: {key: bootstrap_mean(np.array(values)) for key, values in metrics.items()}
        for name, metrics in scores.items()
    }
    for name in ("gradcam", "decision map"):
        for decision in ("benign", "uncertain", "malignant"):
            chosen = decided == decision
            if chosen.any():
                result[f"{name}, decision {decision} (n={int(chosen.sum())})"] = {
                    key: bootstrap_mean(np.array(values)[chosen])
                    for key, values in scores[name].items()
                }
    return result


def report_sources(model, console: Console) -> dict:
    config = model.config
    sources_table = per_source(model, config.threshold)
    table = Table(title=f"{config.version}: per source, threshold {config.threshold:.4f}")
    for column in ("source", "n", "malignant", "AUROC", "sens.", "spec.", "mean P(mal) benign"):
        table.add_column(column, justify="left" if column == "source" else "right")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for name, row in sources_table.items():
        table.add_row(
            name,
            str(row["n"]),
            str(row["n_malignant"]),
            *(
                fmt(row[k])
                for k in ("auroc", "sensitivity", "specificity", "mean_p_malignant_of_benign")
            ),
        )
    console.print(table)
    return {"per_source": sources_table}


def report_flips(model, console: Console) -> dict:
    flips = {spec: flip_rates(model, spec) for spec in FLIP_SETS}
    table = Table(title="label flips under changes that keep the diagnosis (mean logit change)")
    table.add_column("change")
    for spec in FLIP_SETS:
        table.add_column(f"{spec} (n={flips[spec]['n']})", justify="right")
    for name in DIAGNOSIS_PRESERVING:
        table.add_row(
            name,
            *(
                f"{flips[spec][name]:.1%} ({flips[spec]['mean_logit_change'][name]:+.2f})"
                for spec in FLIP_SETS
            ),
        )
    console.print(table)
    return {"label_flips": flips}


def report_circle(model, console: Console) -> dict:
    circle = circle_shortcut(model)
    table = Table(title="the black-circle shortcut: benign images with a circle drawn")
    for column in ("set", "n", "called malignant", *(f"r={r}: flips" for r in WIDE_CIRCLE_RADII)):
        table.add_column(column, justify="left" if column == "set" else "right")
    for spec, row in circle["circle_drawn_on_benign"].items():
        table.add_row(
            spec,
            str(row["n"]),
            f"{row['called_malignant']:.1%}",
            *(f"{row[f'flips_radius_{r}']:.1%}" for r in WIDE_CIRCLE_RADII),
        )
    console.print(table)
    removed = circle["circle_removed_from_melanoma10k_val"]
    console.print(
        f"melanoma10k val: {removed['n_with_circle']} of {removed['n_malignant']} malignant photos "
        f"have a black circle; called malignant {removed['called_malignant']:.1%} with it, "
        f"{removed['called_malignant_cropped']:.1%} cropped to the bright field "
        f"({removed['flips']:.1%} flip)"
    )
    return {"circle_shortcut": circle}


def report_pointing(model, console: Console) -> dict:
    pointing = where_gradcam_points(model)
    table = Table(title="HAM10000 test: where the map points (predicted class)")
    table.add_column("map")
    table.add_column("pointing game", justify="right")
    table.add_column("mass inside lesion", justify="right")
    for name, metrics in pointing.items():
        cells = [f"{m['mean']:.3f} [{m['low']:.3f}, {m['high']:.3f}]" for m in metrics.values()]
        table.add_row(name, *cells)
    console.print(table)
    return {"where_gradcam_points_ham10000_test": pointing}


CHECKS = {
    "sources": report_sources,
    "flips": report_flips,
    "circle": report_circle,
    "pointing": report_pointing,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "shortcuts.json"))
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument(
        "--checks",
        default=",".join(CHECKS),
        help=f"comma-separated, of {', '.join(CHECKS)} (default: all; a candidate's flips alone "
        "take a third of the time)",
    )
    args = parser.parse_args()
    checks = [c for c in args.checks.split(",") if c]
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        parser.error(f"unknown checks: {', '.join(unknown)}")
    model = skinxai.load_model(args.model)
    config = model.config
    console = Console(width=200)
    started = time.perf_counter()
    results = {}
    for check in checks:
        results.update(CHECKS[check](model, console))
    payload = {
        "model_version": config.version,
        "inference_precision": model.precision,
        "machine": platform.platform(),
        "threshold": config.threshold,
        "symmetry": config.symmetry,
        "seconds": time.perf_counter() - started,
        "checks": checks,
        **results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
