"""The model's JSON config and the one place that checks it: every field's type and range, and
a backbone that timm can build offline (no hub names: skinxai never downloads a model)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import timm
import torch

import skinxai
from skinxai.classes import CLASS_NAMES
from skinxai.data.canonical import SYMMETRIES
from skinxai.metrics.calibration import calibrated_logit

DEFAULT_BACKBONE = "tf_efficientnet_lite0"


class ModelFileError(ValueError):
    """A model file that cannot be loaded safely (wrong format, pickle, mismatched config)."""


def refuse_non_finite(tensors: dict[str, torch.Tensor], what: str) -> None:
    """A weight that is NaN or infinite makes every answer meaningless: refuse the file."""
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(
                f"{what} holds values that are not numbers (NaN or infinity) in {key}; "
                "refusing to load it"
            )


class ModelOutputError(RuntimeError):
    """The model computed a probability that is not a number (NaN or infinity): no decision
    may be read from it. ``code`` names it for machines, as the API answers it."""

    code = "model_output_not_finite"


@dataclass
class ModelConfig:
    """Everything needed to rebuild a classifier and read its output; stored as JSON."""

    backbone: str = DEFAULT_BACKBONE
    input_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    class_names: tuple[str, ...] = CLASS_NAMES
    dropout: float = 0.2
    # Shades of Gray colour constancy with this Minkowski norm, applied inside the model to every
    # input (training and inference alike); None: off.
    colour_constancy_p: float | None = None
    # Canonical views (``data.canonical``), also inside the model for training and inference:
    # the effective resolution every input is reduced to (pixels a side; None: the input size),
    # the radius of a fixed dark rim (share of half the side; None: no rim), and "d4" to average
    # the feature map over the 8 rotations and mirror images of the input ("none": one view).
    canonical_resolution: int | None = None
    rim_radius: float | None = None
    symmetry: str = "none"
    version: str = "imagenet-backbone-untrained-head"
    trained: bool = False
    # Calibration of the margin m = z1 - z0 (``metrics.calibration.calibrated_logit``):
    # logit P(malignant) = m / T + bias + beta_shape * ln(p (1 - p)), p = sigmoid(m).
    # beta_shape 0 is Platt scaling; otherwise beta calibration (Kull et al., 2017).
    temperature: float = 1.0
    bias: float = 0.0
    beta_shape: float = 0.0
    threshold: float = 0.5
    # Written by `skinxai calibrate` from validation data: what the threshold was chosen for,
    # the band of P(malignant) answered "uncertain" ([low, high)), and the calibration report.
    operating_point: dict[str, Any] | None = None
    uncertain_band: tuple[float, float] | None = None
    calibration: dict[str, Any] | None = None
    # The "not a dermoscopic image" gate beside the weights (``file``) and how it was fitted.
    ood_gate: dict[str, Any] | None = None
    # The 7-point checklist readers beside the weights (``file``), the layer they read and how
    # they were fitted (``skinxai concepts fit``).
    concepts: dict[str, Any] | None = None
    skinxai_version: str = skinxai.__version__
    extra: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities (B, 2) from logits (B, 2): [1 - P, P] with
        P(malignant) the sigmoid of the calibrated margin (see the fields above)."""
        margin = (logits[:, 1] - logits[:, 0]).float()
        calibrated = calibrated_logit(margin, self.temperature, self.bias, self.beta_shape)
        not_numbers = ~torch.isfinite(margin) | torch.isnan(calibrated)
        if not_numbers.any():
            bad = int(not_numbers.sum())
            raise ModelOutputError(
                f"the model's output is not a number (NaN or infinity) for {bad} of "
                f"{len(margin)} images; no diagnosis can be read from it (a damaged model?)"
            )
        return torch.stack([torch.sigmoid(-calibrated), torch.sigmoid(calibrated)], dim=1)

    def label(self, p_malignant: float) -> str:
        """The class at the threshold: malignant when P(malignant) >= threshold."""
        return self.class_names[int(p_malignant >= self.threshold)]

    def decision(self, p_malignant: float) -> str:
        """benign, malignant, or uncertain inside the band around the threshold."""
        if self.uncertain_band is not None:
            low, high = self.uncertain_band
            if low <= p_malignant < high:
                return "uncertain"
        return self.label(p_malignant)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        """A checked config from parsed JSON; any problem is a :class:`ModelFileError`."""
        if not isinstance(data, dict):
            raise ModelFileError("the model config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelFileError(f"unknown model config keys: {', '.join(unknown)}")
        config = cls(**data)
        config.validate()
        config.mean, config.std = tuple(config.mean), tuple(config.std)
        config.class_names = tuple(config.class_names)
        if config.uncertain_band is not None:
            config.uncertain_band = tuple(config.uncertain_band)
        return config

    def validate(self) -> None:
        """Raise :class:`ModelFileError` naming the first field that is wrong."""
        check_backbone(self.backbone)
        _check_number("input_size", self.input_size, 32, 1024, integer=True)
        for name, values, low in (("mean", self.mean, 0.0), ("std", self.std, 1e-6)):
            if not isinstance(values, (list, tuple)) or len(values) != 3:
                raise ModelFileError(f"{name} must be a list of 3 numbers (R, G, B)")
            for value in values:
                _check_number(name, value, low, 10.0)
        if (
            not isinstance(self.class_names, (list, tuple))
            or tuple(self.class_names) != CLASS_NAMES
        ):
            raise ModelFileError(f"class_names must be {list(CLASS_NAMES)}")
        _check_number("dropout", self.dropout, 0.0, 0.99)
        if self.colour_constancy_p is not None:
            _check_number("colour_constancy_p", self.colour_constancy_p, 1.0, 20.0)
        self._validate_canonical_views()
        _check_number("temperature", self.temperature, 1e-3, 1e3)
        _check_number("bias", self.bias, -50.0, 50.0)
        limit = 1.0 / self.temperature + 1e-9  # |beta_shape| <= 1/T: P rises with the margin
        _check_number("beta_shape", self.beta_shape, -limit, limit)
        _check_number("threshold", self.threshold, 0.0, 1.0)
        for name in ("version", "skinxai_version"):
            value = getattr(self, name)
            if not isinstance(value, str) or not 0 < len(value) <= 200:
                raise ModelFileError(f"{name} must be a string of 1 to 200 characters")
        if not isinstance(self.trained, bool):
            raise ModelFileError("trained must be true or false")
        for name in ("operating_point", "calibration", "ood_gate", "concepts", "extra"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                raise ModelFileError(f"{name} must be a JSON object")
        self._validate_band()
        if self.ood_gate is not None:
            _check_file_beside("ood_gate.file", self.ood_gate.get("file"))
            if self.ood_gate.get("block") is not None:
                _check_number("ood_gate.block", self.ood_gate["block"], 0, 99, integer=True)
        if self.concepts is not None:
            _check_file_beside("concepts.file", self.concepts.get("file"))
            layer = self.concepts.get("layer")
            if not isinstance(layer, str) or not 0 < len(layer) <= 200:
                raise ModelFileError("concepts.layer must name a layer (a string)")

    def _validate_canonical_views(self) -> None:
        if self.canonical_resolution is not None:
            _check_number(
                "canonical_resolution", self.canonical_resolution, 16, self.input_size, True
            )
        if self.rim_radius is not None:
            _check_number("rim_radius", self.rim_radius, 0.5, 1.5)
        if self.symmetry not in SYMMETRIES:
            raise ModelFileError(
                f"symmetry must be one of {list(SYMMETRIES)}, not {self.symmetry!r}"
            )

    def _validate_band(self) -> None:
        band = self.uncertain_band
        if band is None:
            return
        if not isinstance(band, (list, tuple)) or len(band) != 2:
            raise ModelFileError("uncertain_band must be [low, high] or null")
        for value in band:
            _check_number("uncertain_band", value, 0.0, 1.0)
        if not band[0] <= self.threshold <= band[1]:
            raise ModelFileError(
                f"uncertain_band {list(band)} must hold the threshold {self.threshold}"
            )


def _check_file_beside(field_name: str, name: Any) -> None:
    """A file the config names must be a .safetensors file in the model's own folder."""
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".safetensors"):
        raise ModelFileError(f"{field_name} must be a .safetensors file name beside it")


def _check_number(name: str, value: Any, low: float, high: float, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise ModelFileError(f"{name} must be {kind}, got {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        raise ModelFileError(f"{name} must lie within [{low:g}, {high:g}], got {value!r}")


def check_backbone(name: Any) -> None:
    """A timm architecture name that builds offline; hub references are refused."""
    if not isinstance(name, str) or not name:
        raise ModelFileError("backbone must be a timm architecture name")
    if ":" in name or "/" in name:
        raise ModelFileError(
            f"backbone {name!r} names a model on a hub; skinxai never downloads models: "
            "use a timm architecture name and ship the weights as .safetensors"
        )
    if not timm.is_model(name):
        raise ModelFileError(f"unknown backbone {name!r}: not a timm architecture")
