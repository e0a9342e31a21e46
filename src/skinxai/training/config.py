"""Training configuration: defaults here, overridden by a YAML file, then by CLI options."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from skinxai.data.canonical import SYMMETRIES
from skinxai.data.transforms import RECIPES
from skinxai.training.validation import MONITORS

BALANCES = ("loss", "source", "sampler", "none")


@dataclass
class TrainConfig:
    """Everything a training run depends on; written to ``OUT/config.yaml`` for the record."""

    train: list[str] = field(default_factory=lambda: ["fanconic:train"])
    val: list[str] = field(default_factory=lambda: ["fanconic:test"])
    out: str = "runs/train"
    backbone: str = "tf_efficientnet_lite0"
    pretrained: bool = True
    init: str | None = None  # start from this skinxai model file's weights (safetensors)
    input_size: int = 224
    dropout: float = 0.2
    epochs: int = 40
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 1e-2
    lr_factor: float = 0.5
    lr_patience: int = 2
    early_stop_patience: int = 7
    label_smoothing: float = 0.0
    augmentation: str = (
        "study"  # "study" (the original study's) or "acquisition" (+ camera changes)
    )
    # Share of training images (either class) that get melanoma10k's wide black circle drawn
    # on them, so that a circle says nothing of the label (data.acquisition_augment).
    wide_circle_p: float = 0.0
    # Weight of the consistency term (training.consistency): half of each batch again, as JPEG
    # and with a wide black circle, pulled towards the clean view's logit margin; 0: off.
    consistency: float = 0.0
    colour_constancy_p: float | None = None  # Shades of Gray norm inside the model; None: off
    # Canonical views inside the model (see ModelConfig): effective resolution, rim radius, and
    # the symmetry of the saved model ("d4" averages 8 views; training and selection use one).
    canonical_resolution: int | None = None
    rim_radius: float | None = None
    symmetry: str = "none"
    freeze_blocks: int = 0  # keep the stem and this many first backbone blocks as they start
    mask_folders: list[str] = field(default_factory=list)  # lesion masks named after the images
    mask_penalty: float = 0.0  # weight of the share of the decision map outside the lesion
    # Exponential moving average of the weights (decay per optimiser step; None: off). The
    # average is what validation scores, the checkpoints keep and the run exports.
    ema_decay: float | None = None
    # "val_loss" (pooled) or "val_worst_auroc" (the lowest AUROC among the validation sets, each
    # `val` entry one source): what the checkpoint, early stopping and the LR schedule follow.
    monitor: str = "val_loss"
    # "loss" (class-weighted cross-entropy), "source" (class-weighted within each data set),
    # "sampler" (class-balanced sampling) or "none"
    balance: str = "loss"
    seed: int = 0
    workers: int = -1  # -1: min(16, CPUs)
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    # "auto": bf16-mixed wherever the device computes bf16 natively (a GPU, or a CPU with
    # AVX-512 BF16 / AMX), 32-true elsewhere; "32-true" asks for fp32 (skinxai.precision).
    precision: str = "auto"
    limit: int = 0  # >0: a stratified random subset of this many training images (tests, smoke)
    checkpoint_every_n_steps: int = 50
    max_time: str | None = None  # Lightning's "DD:HH:MM:SS" wall-clock limit
    version: str = ""

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> TrainConfig:
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls().updated(data)

    def updated(self, changes: dict[str, Any]) -> TrainConfig:
        """A copy with ``changes`` applied (``None`` values ignored); unknown keys are errors."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown training options: {', '.join(unknown)}")
        merged = {**asdict(self), **{k: v for k, v in changes.items() if v is not None}}
        config = TrainConfig(**merged)
        if config.balance not in BALANCES:
            raise ValueError(f"balance must be {', '.join(BALANCES)}, not {config.balance!r}")
        if config.augmentation not in RECIPES:
            raise ValueError(f"augmentation must be one of {', '.join(RECIPES)}")
        if config.symmetry not in SYMMETRIES:
            raise ValueError(f"symmetry must be one of {', '.join(SYMMETRIES)}")
        if config.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORS)}")
        if config.ema_decay is not None and not 0 < config.ema_decay < 1:
            raise ValueError(f"ema_decay must lie between 0 and 1, not {config.ema_decay}")
        if not 0 <= config.wide_circle_p <= 1:
            raise ValueError(f"wide_circle_p must lie between 0 and 1, not {config.wide_circle_p}")
        if config.consistency < 0:
            raise ValueError(f"consistency must not be negative, not {config.consistency}")
        if config.mask_penalty > 0 and not config.mask_folders:
            raise ValueError("mask_penalty needs mask_folders (where the lesion masks are)")
        return config

    def to_yaml(self) -> str:
        return yaml.safe_dump(asdict(self), sort_keys=False)
