"""Sanity checks for saliency maps (Adebayo et al., 2018): a map that explains the model must
change when the model's weights are replaced by random ones.

Cascading randomisation re-initialises the classifier, then the last layers one after
another, top down; at each stage the maps are compared with the trained model's maps by
Spearman rank correlation and SSIM. A method whose maps stay alike has failed the check.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import nn

# Top-down stages of a SkinClassifier on an EfficientNet(-Lite) backbone; each stage also
# keeps the randomisation of those before it.
CASCADE: tuple[tuple[str, ...], ...] = (
    ("classifier",),
    ("backbone.conv_head", "backbone.bn2"),
    ("backbone.blocks.6",),
    ("backbone.blocks.5",),
)
COMPARE_SIZE = 56  # maps are compared pooled to 56x56: they hold no detail finer than 7x7
PASS_BELOW = 0.5  # the check passes when the mean rank correlation at the last stage < this


LABELS_STAGE = "random labels (head refit)"


def cascade_stage_names(cascade: Sequence[Sequence[str]] = CASCADE) -> list[str]:
    """A short name per stage: the module it adds, e.g. ``+backbone.blocks.6``."""
    return [f"+{stage[0]}" if i else stage[0] for i, stage in enumerate(cascade)]


def randomised_copy(model: nn.Module, modules: Sequence[str], seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose named modules are re-initialised (every submodule with a
    ``reset_parameters``, batch norm statistics included), seeded."""
    clone = copy.deepcopy(model)
    found = dict(clone.named_modules())
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for name in modules:
            if name not in found:
                raise ValueError(f"the model has no module {name!r} to randomise")
            for part in found[name].modules():
                if hasattr(part, "reset_parameters"):
                    part.reset_parameters()
                if hasattr(part, "reset_running_stats"):
                    part.reset_running_stats()
    finally:
        torch.random.set_rng_state(generator_state)
    return clone.eval()


def cascade_models(model: nn.Module, cascade: Sequence[Sequence[str]] = CASCADE) -> list:
    """One randomised copy per stage, each adding its modules to the stages above it."""
    randomised, stages = [], []
    for stage in cascade:
        randomised += list(stage)
        stages.append(randomised_copy(model, randomised))
    return stages


def label_randomised_copy(model: nn.Module, pooled: torch.Tensor, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose linear head is refit (logistic regression) on ``pooled``
    features (N, C) with labels drawn at random: Adebayo's label randomisation, applied to
    the head only (retraining the whole network would cost a training run)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    classes = int(model.classifier.out_features)
    labels = np.arange(len(pooled)) % classes
    rng.shuffle(labels)
    fitted = LogisticRegression(max_iter=2000).fit(pooled.double().cpu().numpy(), labels)
    weight = np.asarray(fitted.coef_, dtype=np.float32)
    bias = np.asarray(fitted.intercept_, dtype=np.float32)
    if classes == 2:  # scikit-learn keeps one row for two classes: logit(1) - logit(0)
        weight, bias = (
            np.stack([-weight[0] / 2, weight[0] / 2]),
            np.array([-bias[0] / 2, bias[0] / 2]),
        )
    clone = copy.deepcopy(model).eval()
    with torch.no_grad():
        clone.classifier.weight.copy_(torch.from_numpy(weight))
        clone.classifier.bias.copy_(torch.from_numpy(bias))
    return clone


def _pooled(maps: torch.Tensor) -> torch.Tensor:
    return F.adaptive_avg_pool2d(maps[:, None].float(), COMPARE_SIZE)[:, 0]


def spearman(first: torch.Tensor, second: torch.Tensor) -> np.ndarray:
    """Per pair of maps (B, H, W), the Spearman rank correlation (ties share their mean
    rank); NaN where a map is constant."""
    a = rankdata(_pooled(first).flatten(1).cpu().numpy(), axis=1)
    b = rankdata(_pooled(second).flatten(1).cpu().numpy(), axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(1) / denominator, np.nan)


def _gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def ssim(first: torch.Tensor, second: torch.Tensor, data_range: float = 1.0) -> np.ndarray:
    """Per pair of maps (B, H, W), the structural similarity of Wang et al. (2004): Gaussian
    window sigma 1.5, K1 0.01, K2 0.03, mean over the pixels whose window fits (as
    scikit-image's ``structural_similarity(gaussian_weights=True)``)."""
    x = _pooled(first).double()[:, None]
    y = _pooled(second).double()[:, None]
    kernel = _gaussian_window()

    def blur(t: torch.Tensor) -> torch.Tensor:
        t = F.conv2d(t, kernel.view(1, 1, 1, -1))
        return F.conv2d(t, kernel.view(1, 1, -1, 1))

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return index.flatten(1).mean(1).numpy()
