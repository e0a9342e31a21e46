"""The consolidated test report's numbers, computed with scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn import metrics

# The scalar metrics every report shows, in this order.
REPORTED_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "auroc",
    "auc_pr",
    "f1",
    "mcc",
    "precision",
    "sensitivity",
    "specificity",
    "sensitivity_at_specificity_0.80",
)


def sensitivity_at_specificity(labels: np.ndarray, scores: np.ndarray, specificity: float) -> float:
    """The highest sensitivity among ROC operating points with specificity >= ``specificity``."""
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    allowed = fpr <= 1.0 - specificity + 1e-12
    return float(tpr[allowed].max()) if allowed.any() else 0.0


def classification_metrics(
    labels: Sequence[int], p_malignant: Sequence[float], threshold: float = 0.5
) -> dict:
    """Accuracy, balanced accuracy, AUROC, AUC-PR, F1, MCC, precision, recall/sensitivity,
    specificity and the confusion matrix ([[TN, FP], [FN, TP]], rows = truth) at ``threshold``."""
    y = np.asarray(labels, dtype=int)
    scores = np.asarray(p_malignant, dtype=float)
    predicted = (scores >= threshold).astype(int)
    (tn, fp), (fn, tp) = metrics.confusion_matrix(y, predicted, labels=[0, 1])
    both_classes = len(np.unique(y)) == 2
    return {
        "n": len(y),
        "n_benign": int((y == 0).sum()),
        "n_malignant": int((y == 1).sum()),
        "threshold": float(threshold),
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(y, predicted)),
        "auroc": float(metrics.roc_auc_score(y, scores)) if both_classes else None,
        "auc_pr": float(metrics.average_precision_score(y, scores)) if both_classes else None,
        "f1": float(metrics.f1_score(y, predicted, zero_division=0)),
        "mcc": float(metrics.matthews_corrcoef(y, predicted)),
        "precision": float(metrics.precision_score(y, predicted, zero_division=0)),
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
        "sensitivity": float(tp / (tp + fn)) if tp + fn else 0.0,
        "specificity": float(tn / (tn + fp)) if tn + fp else 0.0,
        "sensitivity_at_specificity_0.80": (
            sensitivity_at_specificity(y, scores, 0.80) if both_classes else None
        ),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }
