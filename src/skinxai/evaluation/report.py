"""Evaluate a model on a labelled set and write the original study's test report as files."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skinxai.classes import MALIGNANT
from skinxai.data.audit import DEFAULT_THRESHOLD, find_near_duplicates
from skinxai.data.cache import decode_images
from skinxai.data.folder import LabelledImage
from skinxai.data.specs import resolve_paths, resolve_spec
from skinxai.evaluation import figures
from skinxai.io import ImageInputError
from skinxai.metrics.calibration import (
    Band,
    calibration_quality,
    coverage_and_accuracy,
    rates_at,
)
from skinxai.metrics.classification import REPORTED_METRICS, classification_metrics
from skinxai.model import SkinClassifier
from skinxai.ood_gate import has_colour
from skinxai.preprocessing import normalize

REPORT_FILES = (
    "metrics.json",
    "report.md",
    "predictions.csv",
    "confusion_matrix.png",
    "roc.png",
    "pr.png",
    "reliability.png",
    "risk_coverage.png",
    "samples.png",
)


@dataclass
class EvaluationResult:
    metrics: dict
    samples: list[LabelledImage]
    p_malignant: np.ndarray
    dropped: int
    failed: list[dict]


@dataclass
class RawPredictions:
    """Logits (N, 2) and pooled last features (N, D), NaN rows where the file is not a usable
    image; ``failures`` maps those sample indices to their errors."""

    logits: np.ndarray
    pooled: np.ndarray
    failures: dict[int, ImageInputError]
    coloured: np.ndarray  # (N,) bool, ``ood_gate.has_colour``


def predict_logits(
    model: SkinClassifier, samples: list[LabelledImage], batch_size: int = 64
) -> RawPredictions:
    """Logits and the gate's pooled input of every sample (``features_and_gate_input``);
    decoding in parallel, forward batched."""
    chunks, pooled_chunks, coloured_chunks = [], [], []
    failures: dict[int, ImageInputError] = {}
    for start in range(0, len(samples), batch_size):
        chunk = [s.path for s in samples[start : start + batch_size]]
        errors: dict[int, ImageInputError] = {}
        # threads: outside inference mode
        decoded = decode_images(chunk, model.config.input_size, errors=errors)
        batch = normalize(decoded, model.config.mean, model.config.std)
        logits, _, gate_input = model.logits_features_and_gate_input(batch)
        coloured_chunks.append(has_colour(batch, model.config.mean, model.config.std).numpy())
        logits = logits.float().cpu().numpy().astype(np.float64)
        pooled = gate_input.float().cpu().numpy()
        logits[list(errors)] = np.nan
        pooled[list(errors)] = np.nan
        chunks.append(logits)
        pooled_chunks.append(pooled)
        failures.update({start + index: error for index, error in errors.items()})
    if not chunks:
        size = model.gate_input_size()
        return RawPredictions(np.zeros((0, 2)), np.zeros((0, size)), {}, np.zeros(0, bool))
    return RawPredictions(
        np.concatenate(chunks),
        np.concatenate(pooled_chunks),
        failures,
        np.concatenate(coloured_chunks),
    )


def calibrated_p_malignant(model: SkinClassifier, logits: np.ndarray) -> np.ndarray:
    """P(malignant) from logits (N, 2), calibrated as ``predict_proba`` does it."""
    probs = model.config.probabilities(torch.from_numpy(logits))
    return probs[:, MALIGNANT].double().numpy()


def gate_report(model: SkinClassifier, pooled: np.ndarray, coloured: np.ndarray) -> dict | None:
    """How many of these (dermoscopic) images the "not dermoscopic" gate would refuse: far
    features, or no colour."""
    if model.gate is None:
        return None
    return model.gate.refusals(pooled, ~np.asarray(coloured, bool))


def trust_metrics(model: SkinClassifier, p: np.ndarray, labels: np.ndarray) -> dict:
    """How far the probabilities and the decisions can be trusted: calibration (ECE, Brier,
    NLL), the operating point's goal against what it reaches here, and the uncertain band's
    coverage and the accuracy of the answers it leaves."""
    config = model.config
    reached = rates_at(p, labels, config.threshold)
    point = config.operating_point
    result: dict = {
        "calibration": calibration_quality(p, labels),
        "operating_point": {
            "threshold": config.threshold,
            "goal": point["goal"] if point else None,
            "goal_value": point["value"] if point else None,
            **reached,
            "goal_met": bool(reached[point["goal"]] >= point["value"]) if point else None,
        },
        "uncertain_band": None,
    }
    if config.uncertain_band is not None:
        band = Band(*config.uncertain_band)
        result["uncertain_band"] = {
            "band": list(config.uncertain_band),
            "n_uncertain": int((band.decisions(p) < 0).sum()),
            **coverage_and_accuracy(p, labels, band),
        }
    return result


def drop_near_duplicates(
    samples: list[LabelledImage], reference_specs: list[str], threshold: float = DEFAULT_THRESHOLD
) -> tuple[list[LabelledImage], int]:
    """Remove samples that have a near-duplicate in any reference set; return (kept, dropped)."""
    reference = [p for spec in reference_specs for p in resolve_paths(spec)]
    if not reference:
        return samples, 0
    result = find_near_duplicates([s.path for s in samples], reference, threshold)
    duplicated = result.images_a_with_duplicate
    kept = [s for s in samples if s.path not in duplicated]
    return kept, len(samples) - len(kept)


def _report_markdown(
    data: str, model: SkinClassifier, metrics: dict, dropped: int, excluded: list[str]
) -> str:
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    lines = [
        f"# Test report: {data}",
        "",
        f"Model `{model.config.version}` ({model.config.backbone}, {model.config.input_size} px,"
        f" threshold {metrics['threshold']:.3f}, temperature {model.config.temperature:.3f},"
        f" bias {model.config.bias:.3f}, beta shape {model.config.beta_shape:.3f};"
        f" computed in {model.precision}).",
        "",
        f"{metrics['n']} images ({metrics['n_benign']} benign, "
        f"{metrics['n_malignant']} malignant).",
    ]
    if excluded:
        lines.append(f"Dropped {dropped} near-duplicates of {', '.join(excluded)} before scoring.")
    if metrics["failed_images"]:
        lines.append(
            f"{len(metrics['failed_images'])} files are not usable images and were left out "
            "(listed with the reason in metrics.json, `failed_images`)."
        )
    lines += ["", "| metric | value |", "|---|---|"]
    for key in REPORTED_METRICS:
        value = metrics[key]
        lines.append(f"| {key} | {value:.4f} |" if value is not None else f"| {key} | n/a |")
    lines += _trust_lines(metrics)
    lines += [
        "",
        "| | predicted benign | predicted malignant |",
        "|---|---|---|",
        f"| true benign | {tn} | {fp} |",
        f"| true malignant | {fn} | {tp} |",
        "",
        "Figures: confusion_matrix.png, roc.png, pr.png, reliability.png, risk_coverage.png,",
        "samples.png (16 random test images).",
        "",
    ]
    return "\n".join(lines)


def _trust_lines(metrics: dict) -> list[str]:
    calibration, point, band = (
        metrics["calibration"],
        metrics["operating_point"],
        metrics["uncertain_band"],
    )
    lines = [
        "",
        f"Calibration: ECE (15 bins) {calibration['ece_15_bins']:.4f}, Brier "
        f"{calibration['brier']:.4f}, NLL {calibration['nll']:.4f} (reliability.png).",
    ]
    if point["goal"]:
        verdict = "met" if point["goal_met"] else "NOT met"
        lines.append(
            f"Operating point: threshold {point['threshold']:.4f}, chosen on validation for "
            f"{point['goal']} >= {point['goal_value']:g}; here sensitivity "
            f"{point['sensitivity']:.3f}, specificity {point['specificity']:.3f} (goal {verdict})."
        )
    if band:
        lines.append(
            f"Uncertain band [{band['band'][0]:.4f}, {band['band'][1]:.4f}): {band['n_uncertain']} "
            f"images uncertain, coverage {band['coverage']:.3f}, accuracy of the answers "
            f"{band['covered_accuracy']:.3f} (risk_coverage.png)."
        )
    return lines


def evaluate(
    model: SkinClassifier,
    data: str,
    out: Path,
    exclude_near_duplicates_of: list[str] | None = None,
    batch_size: int = 64,
) -> EvaluationResult:
    """Score ``model`` on the set ``data`` names and write every report file under ``out``."""
    samples = resolve_spec(data)
    excluded = list(exclude_near_duplicates_of or [])
    samples, dropped = drop_near_duplicates(samples, excluded)
    if not samples:
        raise ValueError(f"no images left to evaluate in {data}")
    raw = predict_logits(model, samples, batch_size)
    failed = [
        {"file": str(samples[i].path), "error": str(error), "error_code": error.code}
        for i, error in sorted(raw.failures.items())
    ]
    usable = [i for i in range(len(samples)) if i not in raw.failures]
    samples = [samples[i] for i in usable]
    scores = calibrated_p_malignant(model, raw.logits[usable])
    if not samples:
        raise ValueError(f"none of the images in {data} could be read")
    labels = np.array([s.label for s in samples])
    metrics = classification_metrics(labels, scores, model.config.threshold)
    metrics.update(trust_metrics(model, scores, labels))
    metrics["ood_gate"] = gate_report(model, raw.pooled[usable], raw.coloured[usable])
    metrics.update(
        {
            "data": data,
            "model_version": model.config.version,
            "inference_precision": model.precision,
            "excluded_near_duplicates_of": excluded,
            "dropped_near_duplicates": dropped,
            "failed_images": failed,
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out / "report.md").write_text(_report_markdown(data, model, metrics, dropped, excluded))
    with (out / "predictions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "label", "p_malignant"])
        for sample, score in zip(samples, scores, strict=True):
            writer.writerow([sample.path, sample.label, f"{score:.6f}"])
    title = f"{data} (n={len(samples)})"
    figures.plot_confusion_matrix(metrics["confusion_matrix"], out / "confusion_matrix.png", title)
    if metrics["auroc"] is not None:
        figures.plot_roc(labels, scores, out / "roc.png", title)
        figures.plot_pr(labels, scores, out / "pr.png", title)
    figures.plot_reliability(scores, labels, out / "reliability.png", title)
    figures.plot_risk_coverage(
        scores,
        labels,
        model.config.threshold,
        out / "risk_coverage.png",
        title,
        metrics["uncertain_band"],
    )
    figures.plot_sample_grid(
        [s.path for s in samples],
        labels.tolist(),
        scores.tolist(),
        out / "samples.png",
        threshold=model.config.threshold,
    )
    return EvaluationResult(metrics, samples, scores, dropped, failed)
