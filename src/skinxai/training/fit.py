"""One training run: data, Lightning trainer with the usual callbacks, export of the best model."""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    EMAWeightAveraging,
    ModelCheckpoint,
    RichProgressBar,
)
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, WeightedRandomSampler

import skinxai
from skinxai.data.cache import DecodedDataset
from skinxai.data.folder import LabelledImage
from skinxai.data.specs import resolve_spec, resolve_specs, stratified_subset
from skinxai.data.transforms import eval_transform, train_transform
from skinxai.model import ModelConfig, load_model_file, save_model
from skinxai.precision import training_precision
from skinxai.training.balance import class_weights, source_names, within_source_weights
from skinxai.training.config import TrainConfig
from skinxai.training.history import HistoryCallback
from skinxai.training.lightning_module import SkinClassifierModule
from skinxai.training.validation import MONITORS


def _uses_gpu(config: TrainConfig) -> bool:
    return config.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def _devices(config: TrainConfig) -> int | str | list[int]:
    value = str(config.devices)
    if value == "auto":
        return "auto"
    if "," in value:
        return [int(v) for v in value.split(",") if v]
    return int(value)


def _device_count(devices: int | str | list[int], gpu: bool) -> int:
    if isinstance(devices, list):
        return len(devices)
    if devices == "auto":
        return torch.cuda.device_count() if gpu else 1
    return int(devices)


def _loaders(
    config: TrainConfig, train: DecodedDataset, val: DecodedDataset, gpu: bool
) -> tuple[DataLoader, DataLoader]:
    workers = min(16, os.cpu_count() or 1) if config.workers < 0 else config.workers
    common = {
        "batch_size": config.batch_size,
        "num_workers": workers,
        "persistent_workers": workers > 0,
        "pin_memory": gpu,
    }
    sampler = None
    if config.balance == "sampler":
        weights = class_weights(train.labels.tolist())
        per_sample = [weights[label] for label in train.labels.tolist()]
        generator = torch.Generator().manual_seed(config.seed)
        sampler = WeightedRandomSampler(per_sample, len(per_sample), generator=generator)
    train_loader = DataLoader(
        train,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=len(train) > config.batch_size,
        **common,
    )
    return train_loader, DataLoader(val, shuffle=False, **common)


def _image_weights(
    config: TrainConfig, samples: Sequence[LabelledImage], sources: Sequence[str]
) -> list[float] | None:
    """Per-image loss weights for ``balance: source`` (class balance within each data set)."""
    if config.balance != "source":
        return None
    return within_source_weights([s.label for s in samples], sources)


def _describe(samples: Sequence[LabelledImage]) -> dict[str, int]:
    counts = Counter(s.label for s in samples)
    return {"n": len(samples), "benign": counts[0], "malignant": counts[1]}


def _validation_samples(config: TrainConfig) -> tuple[list[LabelledImage], list[int]]:
    """The validation images and, for each, the index of its ``val`` entry (its source)."""
    samples: list[LabelledImage] = []
    sources: list[int] = []
    for index, spec in enumerate(config.val):
        part = resolve_spec(spec)
        if config.limit:
            size = max(config.limit // (2 * len(config.val)), 16)
            part = stratified_subset(part, size, config.seed + index)
        samples += part
        sources += [index] * len(part)
    return samples, sources


def _model_config(config: TrainConfig) -> ModelConfig:
    """The trained model's config (checked, so a bad option fails before any decoding)."""
    model_config = ModelConfig(
        backbone=config.backbone,
        input_size=config.input_size,
        dropout=config.dropout,
        colour_constancy_p=config.colour_constancy_p,
        canonical_resolution=config.canonical_resolution,
        rim_radius=config.rim_radius,
        version=config.version or f"{config.backbone}-{time.strftime('%Y%m%d')}",
        trained=True,
    )
    model_config.validate()
    return model_config


def _module(
    config: TrainConfig, model_config: ModelConfig, train_samples: Sequence[LabelledImage]
) -> SkinClassifierModule:
    module = SkinClassifierModule(
        model_config=json.loads(model_config.to_json()),
        lr=config.lr,
        weight_decay=config.weight_decay,
        lr_factor=config.lr_factor,
        lr_patience=config.lr_patience,
        class_weights=(
            class_weights([s.label for s in train_samples]) if config.balance == "loss" else None
        ),
        image_weights=config.balance == "source",
        pretrained=config.pretrained and not config.init,
        label_smoothing=config.label_smoothing,
        freeze_blocks=config.freeze_blocks,
        mask_penalty=config.mask_penalty,
        consistency=config.consistency,
        val_sources=list(config.val),
        monitor=config.monitor,
    )
    if config.init:
        start = load_model_file(config.init)
        if start.config.backbone != config.backbone:
            raise ValueError(f"--init model is {start.config.backbone}, not {config.backbone}")
        module.model.load_state_dict(start.state_dict())
    return module


def _trainer(
    config: TrainConfig, out: Path, gpu: bool, batches_per_epoch: int
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Lightning trainer with the best checkpoint (by ``config.monitor``), a rolling last
    checkpoint for resuming, early stopping, history.csv and a progress bar."""
    devices = _devices(config)
    distributed = _device_count(devices, gpu) > 1 or config.num_nodes > 1
    mode = MONITORS[config.monitor]
    best = ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="best",
        monitor=config.monitor,
        mode=mode,
        save_top_k=1,
        enable_version_counter=False,
    )
    latest = ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="last",
        every_n_train_steps=config.checkpoint_every_n_steps,
        save_top_k=1,
        enable_version_counter=False,
    )
    trainer = L.Trainer(
        max_epochs=config.epochs,
        max_time=config.max_time,
        accelerator=config.accelerator,
        devices=devices,
        num_nodes=config.num_nodes,
        strategy="ddp" if distributed else "auto",
        precision=_precision(config, gpu),
        callbacks=[
            *_weight_averaging(config),
            best,
            latest,
            EarlyStopping(monitor=config.monitor, mode=mode, patience=config.early_stop_patience),
            HistoryCallback(out),
            RichProgressBar(leave=True),
        ],
        logger=CSVLogger(out, name="logs"),
        default_root_dir=out,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(50, batches_per_epoch)),
    )
    return trainer, best


def _weight_averaging(config: TrainConfig) -> list[Callback]:
    """Lightning's EMA of the weights, when asked: validation, the checkpoints (so selection,
    early stopping and the LR schedule) and the exported model all use the averaged weights,
    which wander less between steps than the live ones (a cheap ensemble along the path)."""
    if config.ema_decay is None:
        return []
    return [EMAWeightAveraging(decay=config.ema_decay)]


def _precision(config: TrainConfig, gpu: bool) -> str:
    return training_precision(config.precision, "cuda" if gpu else "cpu")


def fit(config: TrainConfig, resume: bool = False) -> Path:
    """Train, keep the checkpoint of the best monitored validation measure, export it as
    safetensors. Returns the exported model path (``OUT/model.safetensors``)."""
    out = Path(config.out)
    last_checkpoint = out / "checkpoints" / "last.ckpt"
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(config.seed, workers=True, verbose=False)
    gpu = _uses_gpu(config)

    train_samples = resolve_specs(config.train)
    if config.limit:
        train_samples = stratified_subset(train_samples, config.limit, config.seed)
    train_sources = source_names([s.path for s in train_samples])
    val_samples, val_sources = _validation_samples(config)
    (out / "config.yaml").write_text(config.to_yaml())

    model_config = _model_config(config)
    mean, std = model_config.mean, model_config.std
    started = time.perf_counter()
    train_set = DecodedDataset(
        train_samples,
        config.input_size,
        train_transform(mean, std, config.augmentation, config.wide_circle_p),
        mask_folders=[Path(f) for f in config.mask_folders] if config.mask_penalty > 0 else (),
        weights=_image_weights(config, train_samples, train_sources),
    )
    val_set = DecodedDataset(
        val_samples, config.input_size, eval_transform(mean, std), sources=val_sources
    )
    decode_seconds = time.perf_counter() - started
    train_loader, val_loader = _loaders(config, train_set, val_set, gpu)

    module = _module(config, model_config, train_samples)
    trainer, best = _trainer(config, out, gpu, len(train_loader))
    ckpt_path = None
    if resume:
        if last_checkpoint.is_file():
            ckpt_path = str(last_checkpoint)
        else:
            print(f"no checkpoint at {last_checkpoint}; starting from scratch")
    fit_started = time.perf_counter()
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt_path)
    fit_seconds = time.perf_counter() - fit_started

    model_path = out / "model.safetensors"
    if trainer.is_global_zero:
        if best.best_model_path:
            checkpoint = torch.load(best.best_model_path, map_location="cpu", weights_only=False)
            module.load_state_dict(checkpoint["state_dict"])
        module.model.cpu().float()
        module.model.config.symmetry = config.symmetry
        save_model(module.model, model_path)
        summary = {
            **_data_facts(config, train_set, train_sources, val_samples, val_sources),
            "monitor": config.monitor,
            f"best_{config.monitor}": _score(best),
            "best_checkpoint": Path(best.best_model_path).name if best.best_model_path else None,
            "decode_seconds": round(decode_seconds, 1),
            **_run_facts(trainer, len(train_set), fit_seconds, gpu, config),
            "resumed": ckpt_path is not None,
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return model_path


def _score(best: ModelCheckpoint) -> float | None:
    return float(best.best_model_score) if best.best_model_score is not None else None


def _data_facts(
    config: TrainConfig,
    train_set: DecodedDataset,
    train_sources: list[str],
    val_samples: list[LabelledImage],
    val_sources: list[int],
) -> dict:
    """Class counts of the training set and of each data set in it, of the validation set and
    of each validation source."""
    per_source = {
        spec: _describe([s for s, i in zip(val_samples, val_sources, strict=True) if i == index])
        for index, spec in enumerate(config.val)
    }
    by_source: dict[str, list[LabelledImage]] = {}
    for sample, name in zip(train_set.samples, train_sources, strict=True):
        by_source.setdefault(name, []).append(sample)
    return {
        "train": _describe(train_set.samples),
        "train_sources": {name: _describe(group) for name, group in sorted(by_source.items())},
        "train_with_mask": int(train_set.has_mask.sum()),
        "val": _describe(val_samples),
        "val_sources": per_source,
    }


def _run_facts(
    trainer: L.Trainer, n_train: int, fit_seconds: float, gpu: bool, config: TrainConfig
) -> dict:
    """Epochs, speed and the hardware and software a run had, for the model card. Counted from
    the optimiser steps taken (full batches: ``drop_last``), so a run that ``max_time`` stops
    inside an epoch reports the part it trained, not the epoch it began."""
    images = trainer.global_step * min(config.batch_size, n_train) * trainer.world_size
    return {
        "epochs_run": round(images / n_train, 2) if n_train else 0,
        "steps_run": trainer.global_step,
        "fit_seconds": round(fit_seconds, 1),
        "train_images_per_second": round(images / fit_seconds, 1) if fit_seconds > 0 else None,
        "accelerator": torch.cuda.get_device_name(0) if gpu else platform.processor() or "cpu",
        "world_size": trainer.world_size,
        "strategy": type(trainer.strategy).__name__,
        "precision": _precision(config, gpu),
        "torch": torch.__version__,
        "skinxai": skinxai.__version__,
    }
