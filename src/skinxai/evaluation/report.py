"""Evaluate a model on a labelled set and write the original study's test report as files."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skinxai.classes import MALIGNANT
from skinxai.data.audit import DEFAULT_THRESHOLD, find_near_duplicates
from skinxai.data.cache import decode_images
from skinxai.data.folder import LabelledImage
from skinxai.data.specs import resolve_paths, resolve_spec
from skinxai.evaluation import figures
from skinxai.io import ImageInputError
from skinxai.metrics.classification import REPORTED_METRICS, classification_metrics
from skinxai.model import SkinClassifier
from skinxai.preprocessing import normalize

REPORT_FILES = (
    "metrics.json",
    "report.md",
    "predictions.csv",
    "confusion_matrix.png",
    "roc.png",
    "pr.png",
    "samples.png",
)


@dataclass
class EvaluationResult:
    metrics: dict
    samples: list[LabelledImage]
    p_malignant: np.ndarray
    dropped: int
    failed: list[dict]


def predict_p_malignant(
    model: SkinClassifier, samples: list[LabelledImage], batch_size: int = 64
) -> tuple[np.ndarray, dict[int, ImageInputError]]:
    """P(malignant) for each sample (NaN where the file is not a usable image) and the reasons
    for those failures by sample index; decoding in parallel, the forward pass batched."""
    scores = []
    failures: dict[int, ImageInputError] = {}
    for start in range(0, len(samples), batch_size):
        chunk = [s.path for s in samples[start : start + batch_size]]
        errors: dict[int, ImageInputError] = {}
        # threads: outside inference mode
        decoded = decode_images(chunk, model.config.input_size, errors=errors)
        batch = normalize(decoded, model.config.mean, model.config.std)
        chunk_scores = model.predict_proba(batch)[:, MALIGNANT].numpy().astype(np.float64)
        chunk_scores[list(errors)] = np.nan
        scores.append(chunk_scores)
        failures.update({start + index: reason for index, reason in errors.items()})
    return (np.concatenate(scores) if scores else np.zeros(0)), failures


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
        f" threshold {metrics['threshold']:.3f}, temperature {model.config.temperature:.3f}).",
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
    lines += [
        "",
        "| | predicted benign | predicted malignant |",
        "|---|---|---|",
        f"| true benign | {tn} | {fp} |",
        f"| true malignant | {fn} | {tp} |",
        "",
        "Figures: confusion_matrix.png, roc.png, pr.png, samples.png (16 random test images).",
        "",
    ]
    return "\n".join(lines)


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
    scores, failures = predict_p_malignant(model, samples, batch_size)
    failed = [
        {"file": str(samples[i].path), "error": str(error), "error_code": error.code}
        for i, error in sorted(failures.items())
    ]
    usable = [i for i in range(len(samples)) if i not in failures]
    samples, scores = [samples[i] for i in usable], scores[usable]
    if not samples:
        raise ValueError(f"none of the images in {data} could be read")
    labels = np.array([s.label for s in samples])
    metrics = classification_metrics(labels, scores, model.config.threshold)
    metrics.update(
        {
            "data": data,
            "model_version": model.config.version,
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
    figures.plot_sample_grid(
        [s.path for s in samples],
        labels.tolist(),
        scores.tolist(),
        out / "samples.png",
        threshold=model.config.threshold,
    )
    return EvaluationResult(metrics, samples, scores, dropped, failed)
