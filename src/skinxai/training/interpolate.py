"""Weight-space ensembles of two fine-tunes of one network (WiSE-FT: Wortsman et al., "Robust
fine-tuning of zero-shot models", CVPR 2022): the weights (1 - w) A + w B answer as one model at
one model's cost, and often keep A's accuracy where B lost some and B's robustness where A
lacked it. Both must share the canonical views and descend from the same weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

from skinxai.model import SkinClassifier
from skinxai.model_config import ModelConfig, ModelFileError

# What a model computes before and around its weights: two models that differ here read
# different images, and their weights cannot be averaged into one that means anything.
VIEW_FIELDS = (
    "backbone",
    "input_size",
    "mean",
    "std",
    "class_names",
    "colour_constancy_p",
    "canonical_resolution",
    "rim_radius",
    "symmetry",
)
# Calibration, operating point, gate and readers were fitted to one model's outputs: the
# mixture starts without them, to be fitted again on validation (``skinxai calibrate``).
UNFITTED = {
    "temperature": 1.0,
    "bias": 0.0,
    "beta_shape": 0.0,
    "threshold": 0.5,
    "operating_point": None,
    "uncertain_band": None,
    "calibration": None,
    "ood_gate": None,
    "concepts": None,
}


def interpolated_state(
    first: Mapping[str, torch.Tensor], second: Mapping[str, torch.Tensor], weight: float
) -> dict[str, torch.Tensor]:
    """(1 - weight) * first + weight * second for every floating tensor (batch-norm statistics
    too); integer buffers (batch counts) are first's."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the weight of the second model must lie in [0, 1], not {weight}")
    if first.keys() != second.keys():
        only = sorted(set(first) ^ set(second))
        raise ModelFileError(f"the two models' weights have different names: {only[:3]}")
    mixed = {}
    for name, a in first.items():
        b = second[name]
        if a.shape != b.shape:
            raise ModelFileError(f"{name} is {tuple(a.shape)} in one model, {tuple(b.shape)}")
        mixed[name] = torch.lerp(a, b.to(a.dtype), weight) if a.is_floating_point() else a.clone()
    return mixed


def interpolated_config(
    first: ModelConfig, second: ModelConfig, weight: float, version: str
) -> ModelConfig:
    """first's config with the calibration unfitted, the new version and, in ``extra``, what
    was mixed; a view field that differs between the two raises ModelFileError."""
    differing = [f for f in VIEW_FIELDS if getattr(first, f) != getattr(second, f)]
    if differing:
        raise ModelFileError(f"the two models see their inputs differently: {differing}")
    mixed_from = {"first": first.version, "second": second.version, "weight_of_second": weight}
    extra = {**first.extra, "interpolated": mixed_from}
    return dataclasses.replace(first, version=version, trained=True, extra=extra, **UNFITTED)


def interpolate_models(
    first: SkinClassifier, second: SkinClassifier, weight: float, version: str
) -> SkinClassifier:
    """One classifier with the weights (1 - weight) * first + weight * second, uncalibrated."""
    config = interpolated_config(first.config, second.config, weight, version)
    state = interpolated_state(first.state_dict(), second.state_dict(), weight)
    mixed = SkinClassifier(config, pretrained=False)
    mixed.load_state_dict(state)
    return mixed.eval()
