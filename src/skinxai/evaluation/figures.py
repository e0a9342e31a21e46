"""Report figures: confusion matrix, ROC and PR curves, reliability diagram, risk-coverage
curve, a grid of labelled test images."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn import metrics

from skinxai.classes import CLASS_NAMES
from skinxai.io import load_image
from skinxai.metrics.calibration import (
    expected_calibration_error,
    reliability_bins,
    risk_coverage_curve,
)


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], path: Path, title: str) -> None:
    counts = np.asarray(matrix)
    figure, axis = plt.subplots(figsize=(4.6, 4))
    axis.imshow(counts, cmap="Blues")
    for (row, col), value in np.ndenumerate(counts):
        colour = "white" if value > counts.max() / 2 else "black"
        axis.text(col, row, str(value), ha="center", va="center", color=colour, fontsize=14)
    axis.set_xticks([0, 1], [f"predicted {n}" for n in CLASS_NAMES])
    axis.set_yticks([0, 1], [f"true {n}" for n in CLASS_NAMES])
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_roc(labels: np.ndarray, scores: np.ndarray, path: Path, title: str) -> None:
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    auc = metrics.roc_auc_score(labels, scores)
    figure, axis = plt.subplots(figsize=(4.6, 4.4))
    axis.plot(fpr, tpr, label=f"AUROC = {auc:.3f}")
    axis.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    axis.set_xlabel("1 - specificity (false positive rate)")
    axis.set_ylabel("sensitivity (true positive rate)")
    axis.set_title(title)
    axis.legend(loc="lower right")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_pr(labels: np.ndarray, scores: np.ndarray, path: Path, title: str) -> None:
    precision, recall, _ = metrics.precision_recall_curve(labels, scores)
    auc_pr = metrics.average_precision_score(labels, scores)
    figure, axis = plt.subplots(figsize=(4.6, 4.4))
    axis.plot(recall, precision, label=f"AUC-PR (AP) = {auc_pr:.3f}")
    axis.axhline(labels.mean(), linestyle="--", color="grey", linewidth=0.8, label="prevalence")
    axis.set_xlabel("recall (sensitivity)")
    axis.set_ylabel("precision")
    axis.set_title(title)
    axis.legend(loc="lower left")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_sample_grid(
    paths: Sequence[Path],
    labels: Sequence[int],
    scores: Sequence[float],
    path: Path,
    threshold: float = 0.5,
    seed: int = 0,
    side: int = 4,
) -> None:
    """A side x side grid of random test images titled with truth and P(malignant)."""
    chosen = random.Random(seed).sample(range(len(paths)), min(side * side, len(paths)))
    figure, axes = plt.subplots(side, side, figsize=(2.6 * side, 2.8 * side))
    for axis in np.ravel(axes):
        axis.axis("off")
    for axis, index in zip(np.ravel(axes), chosen, strict=False):
        axis.imshow(load_image(paths[index]))
        truth = CLASS_NAMES[labels[index]]
        colour = "green" if (scores[index] >= threshold) == (labels[index] == 1) else "red"
        title = f"true: {truth}\nP(malignant) = {scores[index]:.2f}"
        axis.set_title(title, color=colour, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_reliability(p: np.ndarray, labels: np.ndarray, path: Path, title: str) -> None:
    """Reliability diagram: observed malignant rate per bin of P(malignant), bar widths the
    bins, the diagonal perfect calibration, the counts on a second axis."""
    bins = reliability_bins(p, labels, 15)
    centres = (np.arange(15) + 0.5) / 15
    observed = [o if o is not None else 0.0 for o in bins["observed"]]
    figure, axis = plt.subplots(figsize=(4.8, 4.4))
    axis.bar(centres, observed, width=1 / 15, edgecolor="black", alpha=0.7, label="observed")
    axis.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8, label="perfect calibration")
    axis.set_xlabel("predicted P(malignant)")
    axis.set_ylabel("observed share malignant")
    ece = expected_calibration_error(p, labels)
    axis.set_title(f"{title}\nECE (15 bins) = {ece:.3f}", fontsize=10)
    counts = axis.twinx()
    counts.plot(centres, bins["count"], "o-", color="tab:orange", markersize=3, label="images")
    counts.set_ylabel("images per bin", color="tab:orange")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_risk_coverage(
    p: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    path: Path,
    title: str,
    shipped: dict | None = None,
) -> None:
    """Error rate of the answered images as the model abstains on the closest calls first;
    ``shipped`` (coverage, covered_accuracy) marks the model's own uncertain band."""
    curve = risk_coverage_curve(p, labels, threshold)
    figure, axis = plt.subplots(figsize=(4.6, 4.4))
    axis.plot(curve["coverage"], curve["risk"], label="abstain closest to the threshold")
    if shipped:
        axis.plot(
            shipped["coverage"],
            1 - shipped["covered_accuracy"],
            "o",
            color="tab:red",
            label="the shipped uncertain band",
        )
    axis.set_xlabel("coverage (share of images answered)")
    axis.set_ylabel("risk (error rate of the answers)")
    axis.set_xlim(0, 1)
    axis.set_title(title, fontsize=10)
    axis.legend(loc="upper left", fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
