"""The "not a dermoscopic image" gate: how far an image's pooled features lie from those of the
training images, as a probabilistic-PCA distance (Mahalanobis inside the top principal
components, scaled residual outside them). Fitted on training features, its limit set on
validation images, and stored beside the model as safetensors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from skinxai.io import ImageInputError
from skinxai.model_config import ModelFileError, refuse_non_finite
from skinxai.preprocessing import denormalize

DEFAULT_COMPONENTS = 256
DEFAULT_QUANTILE = 0.995  # of validation scores: about 0.5% of real images over the limit


# The backbone block whose pooled output the gate reads. The last feature map of a model trained
# to look only at the lesion no longer separates lesions from other pictures (session 5: AUROC
# 0.51 for the canonical-view model), while block 4's output (112 channels) keeps colour and
# texture statistics (0.998 on a probe of 500 training, 400 validation and test lesions against
# the natural and synthetic images; blocks 3-6 gave 0.99-0.998).
DEFAULT_GATE_BLOCK = 4

# Dermoscopy is read from its colours (the blue-white veil, the pigment network's browns): an image
# without them gets no diagnosis, whatever its features. The mean over pixels of max - min
# channel, in grey levels of 255, on the model's square input: 0 for a grey image, 0-1 for one
# saved as RGB; real dermoscopy measured 2.65 at least (3000 training images, all 2917 validation
# images; median 46-69), the natural photographs in colour 5-114. Session 13.
MIN_MEAN_CHROMA = 1.0


def has_colour(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(B,) bool: True where a normalised batch (B, 3, H, W) has colour (``MIN_MEAN_CHROMA``)."""
    pixels = denormalize(batch.float(), mean, std) * 255
    chroma = (pixels.amax(dim=1) - pixels.amin(dim=1)).mean(dim=(1, 2))
    return chroma >= MIN_MEAN_CHROMA


class NotDermoscopicError(ImageInputError):
    """A usable image that the gate finds unlike any dermoscopic training image."""

    code = "not_dermoscopic"


def not_dermoscopic(name: str) -> NotDermoscopicError:
    """The refusal for the image called ``name`` (a quoted path, or "The uploaded image")."""
    return NotDermoscopicError(
        f"{name} does not look like a dermoscopic skin-lesion image (its features are far from "
        "those of every training image); skinxai gives no diagnosis for it."
    )


@dataclass
class FeatureGate:
    """Scores pooled features (B, D); a score above ``limit`` means "not like the training
    images". ``limit`` is NaN until :meth:`set_limit` is called."""

    mean: torch.Tensor  # (D,)
    components: torch.Tensor  # (k, D), orthonormal rows
    variances: torch.Tensor  # (k,)
    noise_variance: torch.Tensor  # scalar: the mean variance outside the components
    limit: float = float("nan")

    @classmethod
    def fit(cls, features: np.ndarray, components: int = DEFAULT_COMPONENTS) -> FeatureGate:
        """Principal components of training features (N, D), N > components; at most D / 2
        of them, so that the rest still estimates the noise variance."""
        x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
        components = min(components, x.shape[-1] // 2)
        if x.dim() != 2 or len(x) <= components:
            raise ValueError(f"need more than {components} feature vectors, got {tuple(x.shape)}")
        mean = x.mean(dim=0)
        centred = x - mean
        _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
        variances = singular**2 / (len(x) - 1)
        rest = variances[components:]
        return cls(
            mean=mean.float(),
            components=vh[:components].float(),
            variances=variances[:components].float().clamp_min(1e-8),
            noise_variance=rest.mean().float().clamp_min(1e-8),
        )

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """(B,) distances: sum over components of projection^2 / variance, plus the squared
        residual over the noise variance (both are per-dimension normalised squares)."""
        centred = features.float().to(self.mean.device) - self.mean
        projection = centred @ self.components.T
        inside = (projection**2 / self.variances).sum(dim=1)
        residual = (centred**2).sum(dim=1) - (projection**2).sum(dim=1)
        return inside + residual.clamp_min(0.0) / self.noise_variance

    def set_limit(
        self, validation_features: np.ndarray, quantile: float = DEFAULT_QUANTILE
    ) -> None:
        """The limit: the ``quantile`` of the scores of validation (in-distribution) images."""
        scores = self.score(torch.as_tensor(np.asarray(validation_features)))
        self.limit = float(torch.quantile(scores.double(), quantile))

    def accepts(self, features: torch.Tensor) -> torch.Tensor:
        """(B,) bool: the images whose features lie within the limit."""
        return self.score(features) <= self.limit

    def refusals(
        self, pooled: np.ndarray, also_refused: np.ndarray | None = None
    ) -> dict[str, float]:
        """How many of these pooled features (N, D) the gate refuses, and their share; images
        marked in ``also_refused`` (N,) (refused for another reason) count as refused."""
        refused = ~self.accepts(torch.as_tensor(np.asarray(pooled)))
        if also_refused is not None:
            refused |= torch.as_tensor(np.asarray(also_refused, bool))
        return {"rejected": int(refused.sum()), "rejection_rate": float(refused.double().mean())}

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        tensors = {
            "mean": self.mean,
            "components": self.components,
            "variances": self.variances,
            "noise_variance": self.noise_variance.reshape(1),
            "limit": torch.tensor([self.limit], dtype=torch.float64),
        }
        save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, str(path))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, feature_dim: int) -> FeatureGate:
        """Read a gate file; its shapes must fit ``feature_dim`` and its limit be finite."""
        try:
            tensors = load_file(str(path))
            gate = cls(
                mean=tensors["mean"].float(),
                components=tensors["components"].float(),
                variances=tensors["variances"].float(),
                noise_variance=tensors["noise_variance"].float()[0],
                limit=float(tensors["limit"][0]),
            )
        except (OSError, SafetensorError, KeyError, IndexError) as exc:
            raise ModelFileError(f"gate file '{path}' is missing or damaged: {exc}") from exc
        k = gate.components.shape[0]
        shapes_fit = (
            gate.mean.shape == (feature_dim,)
            and gate.components.shape == (k, feature_dim)
            and gate.variances.shape == (k,)
        )
        if not shapes_fit:
            raise ModelFileError(f"gate file '{path}' does not fit this model")
        refuse_non_finite(tensors, f"gate file '{path}'")
        return gate
