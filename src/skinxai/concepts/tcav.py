"""Does the malignant decision use a concept? TCAV (Kim et al., ICML 2018) at an inner layer,
with the paper's test against random directions, and at the last layer, where the head is
linear, the exact cosine between a concept's direction and w_malignant - w_benign."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression


def concept_direction(positives: np.ndarray, negatives: np.ndarray, seed: int) -> np.ndarray:
    """A CAV: the unit normal of a linear classifier between two sets of pooled activations
    (standardised, then mapped back to the activations' own axes)."""
    data = np.concatenate([positives, negatives])
    labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    mean, std = data.mean(axis=0), data.std(axis=0) + 1e-6
    model = LogisticRegression(C=0.1, max_iter=5000, random_state=seed)
    model.fit((data - mean) / std, labels)
    direction = model.coef_[0] / std
    return direction / np.linalg.norm(direction)


def tcav_score(gradients: np.ndarray, direction: np.ndarray) -> float:
    """The share of images whose malignant logit grows along ``direction`` (its directional
    derivative, the position-summed gradient . direction, is positive)."""
    return float(np.mean(gradients @ direction > 0))


@dataclass(frozen=True)
class TcavResult:
    scores: list[float]  # one per concept CAV (concept vs a random set)
    random_scores: list[float]  # one per random CAV (random vs random)
    mean: float
    p_value: float  # two-sided t-test, concept CAVs against random ones

    def significant(self, alpha: float) -> bool:
        return self.p_value < alpha


def tcav(
    pooled: np.ndarray,
    present: np.ndarray,
    gradients: np.ndarray,
    runs: int = 20,
    seed: int = 0,
) -> TcavResult:
    """TCAV of one concept. ``pooled`` (N, C) and 0/1 ``present`` (N,) train the CAVs: each run
    draws as many concept images and random images (any of the N) as the concept has, up to
    50; random CAVs separate two random draws. ``gradients`` (M, C) are those of the images
    whose decision is explained (predicted malignant)."""
    rng = np.random.default_rng(seed)
    positives = np.flatnonzero(present == 1)
    size = min(50, len(positives))
    scores, random_scores = [], []
    for run in range(runs):
        concept = pooled[rng.choice(positives, size, replace=False)]
        random_a = pooled[rng.choice(len(pooled), size, replace=False)]
        random_b = pooled[rng.choice(len(pooled), size, replace=False)]
        scores.append(tcav_score(gradients, concept_direction(concept, random_a, run)))
        random_scores.append(tcav_score(gradients, concept_direction(random_b, random_a, run)))
    _, p_value = stats.ttest_ind(scores, random_scores)
    return TcavResult(scores, random_scores, float(np.mean(scores)), float(p_value))


def head_alignment(direction: np.ndarray, head_weight: np.ndarray) -> float:
    """cos(direction, w_malignant - w_benign) at the last layer, where the logit margin is
    exactly (w_malignant - w_benign) . mean_ij(A) + const."""
    margin = head_weight[1] - head_weight[0]
    return float(direction @ margin / (np.linalg.norm(direction) * np.linalg.norm(margin)))
