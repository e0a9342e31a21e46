"""The LightningModule around :class:`SkinClassifier`: loss, metrics, optimiser, schedule."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC

from skinxai.classes import MALIGNANT
from skinxai.model import ModelConfig, SkinClassifier


class SkinClassifierModule(L.LightningModule):
    """Class-weighted cross-entropy, AdamW, ReduceLROnPlateau on validation loss."""

    def __init__(
        self,
        model_config: dict[str, Any],
        lr: float,
        weight_decay: float,
        lr_factor: float,
        lr_patience: int,
        class_weights: list[float] | None = None,
        pretrained: bool = True,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = SkinClassifier(ModelConfig.from_dict(model_config), pretrained=pretrained)
        weights = torch.tensor(class_weights) if class_weights else None
        self.loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=label_smoothing)
        self.train_accuracy = BinaryAccuracy()
        self.val_accuracy = BinaryAccuracy()
        self.val_auroc = BinaryAUROC()

    def on_fit_start(self) -> None:
        if self.device.type == "cuda":
            self.model.to(memory_format=torch.channels_last)

    def _inputs(self, images: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        images, labels = batch
        logits = self.model(self._inputs(images))
        loss = self.loss_fn(logits.float(), labels)
        self.train_accuracy(logits.argmax(1), labels)
        self.log("loss", loss, on_step=True, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("accuracy", self.train_accuracy, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        images, labels = batch
        logits = self.model(self._inputs(images)).float()
        loss = self.loss_fn(logits, labels)
        p_malignant = logits.softmax(1)[:, MALIGNANT]
        self.val_accuracy(logits.argmax(1), labels)
        self.val_auroc(p_malignant, labels)
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("val_accuracy", self.val_accuracy, on_epoch=True, prog_bar=True)
        self.log("val_auroc", self.val_auroc, on_epoch=True, prog_bar=True)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.hparams.lr_factor, patience=self.hparams.lr_patience
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch"},
        }
