"""Concept readers: for each checklist criterion a logistic probe on a layer's pooled map.
The standardisation is folded into the weights, so a reader is ``v . mean_ij(A) + b`` and its
concept map is exactly a CAM with the reader's weights, ``sum_k v_k A_k`` (its spatial mean
plus b is the reader's logit)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from skinxai.explain.cam import class_activation_maps

REGULARISATION = np.logspace(-3, 1, 9)  # C values tried by 5-fold CV on the fit split


@dataclass(frozen=True)
class ConceptReaders:
    """K readers on one layer: ``weight`` (K, C), ``bias`` (K,), names in order."""

    layer: str
    names: tuple[str, ...]
    weight: np.ndarray
    bias: np.ndarray

    def logits(self, pooled: np.ndarray) -> np.ndarray:
        """(N, K) from pooled activations (N, C)."""
        return pooled @ self.weight.T + self.bias

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(pooled)))

    def decisions(self, pooled: np.ndarray) -> np.ndarray:
        """0/1 per criterion: present where the reader's probability is at least 0.5 (the
        readers are fitted class-balanced, so 0.5 weighs a miss and a false find alike)."""
        return (self.logits(pooled) >= 0).astype(int)

    def maps(self, activations: torch.Tensor) -> torch.Tensor:
        """Concept maps (B, K, h, w) = sum_k v_k A_k of a layer's activations (B, C, h, w)."""
        weight = torch.as_tensor(self.weight, device=activations.device)
        return class_activation_maps(activations, weight)


def fit_reader(pooled: np.ndarray, present: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    """One class-balanced logistic reader, C chosen by 5-fold CV AUROC on these images only;
    returns (weight (C,), bias) on the raw pooled activations."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    mean, std = pooled.mean(axis=0), pooled.std(axis=0) + 1e-6
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    model = LogisticRegressionCV(
        Cs=REGULARISATION,
        cv=folds,
        scoring="roc_auc",
        class_weight="balanced",
        max_iter=5000,
    ).fit((pooled - mean) / std, present)
    coefficients = model.coef_[0] / std
    return coefficients, float(model.intercept_[0] - coefficients @ mean)


def fit_readers(
    layer: str, names: tuple[str, ...], pooled: np.ndarray, present: np.ndarray, seed: int = 0
) -> ConceptReaders:
    """Readers for every column of ``present`` (N, K) from pooled activations (N, C)."""
    fitted = [fit_reader(pooled, present[:, k], seed) for k in range(present.shape[1])]
    weight = np.stack([w for w, _ in fitted]).astype(np.float32)
    bias = np.array([b for _, b in fitted], dtype=np.float32)
    return ConceptReaders(layer, names, weight, bias)


def cv_auroc(pooled: np.ndarray, present: np.ndarray, seed: int = 0) -> list[float]:
    """Per criterion, the 5-fold CV AUROC of a class-balanced probe (C = 0.1) on these images
    alone: how well a layer reads the concepts, measured without a test set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    values = []
    for k in range(present.shape[1]):
        probe = make_pipeline(
            StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)
        )
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        scores = cross_val_predict(probe, pooled, present[:, k], cv=folds, method="predict_proba")
        values.append(float(roc_auc_score(present[:, k], scores[:, 1])))
    return values
