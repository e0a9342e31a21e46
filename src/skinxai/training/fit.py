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
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, WeightedRandomSampler

import skinxai
from skinxai.data.cache import DecodedDataset
from skinxai.data.folder import LabelledImage
from skinxai.data.specs import resolve_specs, stratified_subset
from skinxai.data.transforms import eval_transform, train_transform
from skinxai.model import ModelConfig, load_model_file, save_model
from skinxai.training.config import TrainConfig
from skinxai.training.history import HistoryCallback
from skinxai.training.lightning_module import SkinClassifierModule


def class_weights(labels: Sequence[int], n_classes: int = 2) -> list[float]:
    """Inverse-frequency weights n / (k * n_c): each class contributes equally to the loss."""
    counts = Counter(labels)
    return [len(labels) / (n_classes * max(counts[c], 1)) for c in range(n_classes)]


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


def _describe(samples: Sequence[LabelledImage]) -> dict[str, int]:
    counts = Counter(s.label for s in samples)
    return {"n": len(samples), "benign": counts[0], "malignant": counts[1]}


def fit(config: TrainConfig, resume: bool = False) -> Path:
    """Train, keep the checkpoint of the best validation loss, export it as safetensors.

    Returns the exported model path (``OUT/model.safetensors``).
    """
    out = Path(config.out)
    checkpoints = out / "checkpoints"
    last_checkpoint = checkpoints / "last.ckpt"
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(config.seed, workers=True, verbose=False)
    gpu = _uses_gpu(config)
    devices = _devices(config)
    distributed = _device_count(devices, gpu) > 1 or config.num_nodes > 1

    train_samples = resolve_specs(config.train)
    val_samples = resolve_specs(config.val)
    if config.limit:
        train_samples = stratified_subset(train_samples, config.limit, config.seed)
        val_samples = stratified_subset(val_samples, max(config.limit // 2, 16), config.seed)
    (out / "config.yaml").write_text(config.to_yaml())

    model_config = ModelConfig(
        backbone=config.backbone,
        input_size=config.input_size,
        dropout=config.dropout,
        version=config.version or f"{config.backbone}-{time.strftime('%Y%m%d')}",
        trained=True,
    )
    started = time.perf_counter()
    train_set = DecodedDataset(
        train_samples, config.input_size, train_transform(model_config.mean, model_config.std)
    )
    val_set = DecodedDataset(
        val_samples, config.input_size, eval_transform(model_config.mean, model_config.std)
    )
    decode_seconds = time.perf_counter() - started
    train_loader, val_loader = _loaders(config, train_set, val_set, gpu)

    module = SkinClassifierModule(
        model_config=json.loads(model_config.to_json()),
        lr=config.lr,
        weight_decay=config.weight_decay,
        lr_factor=config.lr_factor,
        lr_patience=config.lr_patience,
        class_weights=(
            class_weights([s.label for s in train_samples]) if config.balance == "loss" else None
        ),
        pretrained=config.pretrained and not config.init,
        label_smoothing=config.label_smoothing,
    )
    if config.init:
        start = load_model_file(config.init)
        if start.config.backbone != config.backbone:
            raise ValueError(f"--init model is {start.config.backbone}, not {config.backbone}")
        module.model.load_state_dict(start.state_dict())
    best = ModelCheckpoint(
        dirpath=checkpoints,
        filename="best",
        monitor="val_loss",
        mode="min",
        save_top_k=1,
        enable_version_counter=False,
    )
    latest = ModelCheckpoint(
        dirpath=checkpoints,
        filename="last",
        every_n_train_steps=config.checkpoint_every_n_steps,
        save_top_k=1,
        enable_version_counter=False,
    )
    precision = config.precision
    if precision == "auto":
        precision = "bf16-mixed" if gpu else "32-true"
    trainer = L.Trainer(
        max_epochs=config.epochs,
        max_time=config.max_time,
        accelerator=config.accelerator,
        devices=devices,
        num_nodes=config.num_nodes,
        strategy="ddp" if distributed else "auto",
        precision=precision,
        callbacks=[
            best,
            latest,
            EarlyStopping(monitor="val_loss", mode="min", patience=config.early_stop_patience),
            HistoryCallback(out),
            RichProgressBar(leave=True),
        ],
        logger=CSVLogger(out, name="logs"),
        default_root_dir=out,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(50, len(train_loader))),
    )
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
        save_model(module.model, model_path)
        epochs_run = trainer.current_epoch
        summary = {
            "train": _describe(train_samples),
            "val": _describe(val_samples),
            "best_val_loss": float(best.best_model_score) if best.best_model_score else None,
            "best_checkpoint": Path(best.best_model_path).name if best.best_model_path else None,
            "epochs_run": epochs_run,
            "decode_seconds": round(decode_seconds, 1),
            "fit_seconds": round(fit_seconds, 1),
            "train_images_per_second": round(len(train_set) * epochs_run / fit_seconds, 1)
            if fit_seconds > 0
            else None,
            "accelerator": torch.cuda.get_device_name(0) if gpu else platform.processor() or "cpu",
            "world_size": trainer.world_size,
            "strategy": type(trainer.strategy).__name__,
            "precision": precision,
            "torch": torch.__version__,
            "skinxai": skinxai.__version__,
            "resumed": ckpt_path is not None,
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return model_path
