"""The LightningModule around :class:`SkinClassifier`: loss, metrics, optimiser, schedule."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC

from skinxai.classes import MALIGNANT
from skinxai.model import ModelConfig, SkinClassifier
from skinxai.precision import uses_channels_last
from skinxai.training.balance import weighted_cross_entropy
from skinxai.training.consistency import changed_views, margin_gap
from skinxai.training.lesion_focus import decision_map, outside_lesion_share
from skinxai.training.trunk import freeze_trunk
from skinxai.training.validation import (
    MONITORS,
    auroc_per_source,
    per_source_key,
    worst_auroc,
)

Batch = dict[str, torch.Tensor]


class SkinClassifierModule(L.LightningModule):
    """Class-weighted cross-entropy, or with ``image_weights`` each training image weighted by
    its batch's ``weight`` (plus, when asked, the outside-the-lesion penalty and the JPEG and
    circle consistency term), AdamW, ReduceLROnPlateau on the monitored validation measure;
    AUROC per validation source."""

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
        freeze_blocks: int = 0,
        mask_penalty: float = 0.0,
        consistency: float = 0.0,
        val_sources: list[str] | None = None,
        monitor: str = "val_loss",
        image_weights: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = SkinClassifier(ModelConfig.from_dict(model_config), pretrained=pretrained)
        self.frozen = freeze_trunk(self.model, freeze_blocks)
        weights = torch.tensor(class_weights) if class_weights else None
        self.loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=label_smoothing)
        self.train_accuracy = BinaryAccuracy()
        self.val_accuracy = BinaryAccuracy()
        self.val_auroc = BinaryAUROC()
        self._val_outputs: list[tuple[torch.Tensor, ...]] = []

    def train(self, mode: bool = True) -> SkinClassifierModule:
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def on_fit_start(self) -> None:
        if uses_channels_last(self.device.type):
            self.model.to(memory_format=torch.channels_last)

    def _inputs(self, images: torch.Tensor) -> torch.Tensor:
        if uses_channels_last(self.device.type):
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        labels, images = batch["label"], batch["image"]
        changed = self._changed_half(images) if self.hparams.consistency > 0 else None
        both = images if changed is None else torch.cat([images, changed])
        all_features = self.model.features(self._inputs(both))
        features = all_features[: len(images)]
        logits = self.model.head(features)
        loss = self._classification_loss(logits.float(), batch)
        self.log("ce_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        if self.hparams.mask_penalty > 0:
            loss = loss + self.hparams.mask_penalty * self._outside_lesion(features, batch)
        if changed is not None:
            gap = margin_gap(self.model, features[: len(changed)], all_features[len(images) :])
            self.log("consistency_gap", gap, on_step=False, on_epoch=True, sync_dist=True)
            loss = loss + self.hparams.consistency * gap
        self.train_accuracy(logits.argmax(1), labels)
        self.log("loss", loss, on_step=True, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("accuracy", self.train_accuracy, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def _changed_half(self, images: torch.Tensor) -> torch.Tensor:
        """The first half of the batch as JPEG and with a wide black circle, for the
        consistency term (``training.consistency``)."""
        config = self.model.config
        return changed_views(images[: max(1, len(images) // 2)], config.mean, config.std)

    def _classification_loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        if not self.hparams.image_weights:
            return self.loss_fn(logits, batch["label"])
        return weighted_cross_entropy(
            logits, batch["label"], batch["weight"], self.hparams.label_smoothing
        )

    def _outside_lesion(self, features: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Mean share of the decision map outside the lesion over the images with a mask."""
        has_mask = batch["has_mask"]
        if not has_mask.any():
            return features.new_zeros(())
        share = outside_lesion_share(decision_map(self.model, features.float()), batch["mask"])
        penalty = share[has_mask].mean()
        self.log("outside_lesion", penalty, on_step=False, on_epoch=True, sync_dist=True)
        return penalty

    def on_validation_epoch_start(self) -> None:
        self._val_outputs = []

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """Scored in fp32 whatever the training precision: the selection sees the numbers the
        shipped model's inference computes."""
        labels = batch["label"]
        with torch.autocast(self.device.type, enabled=False):
            logits = self.model(self._inputs(batch["image"])).float()
        loss = self.loss_fn(logits, labels)
        p_malignant = logits.softmax(1)[:, MALIGNANT]
        self.val_accuracy(logits.argmax(1), labels)
        self.val_auroc(p_malignant, labels)
        self._val_outputs.append((p_malignant.detach(), labels, batch["source"]))
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log("val_accuracy", self.val_accuracy, on_epoch=True, prog_bar=True)
        self.log("val_auroc", self.val_auroc, on_epoch=True, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        """AUROC per validation source over every process's images, and the worst of them."""
        if not self._val_outputs:
            return
        gathered = [
            self.all_gather(torch.cat(parts)).flatten().cpu().numpy()
            for parts in zip(*self._val_outputs, strict=True)
        ]
        names = self.hparams.val_sources or ["val"]
        per_source = auroc_per_source(*gathered, names)
        for name, value in per_source.items():
            self.log(per_source_key(name), value)
        self.log("val_worst_auroc", worst_auroc(per_source), prog_bar=True)
        self._val_outputs = []

    def configure_optimizers(self) -> dict[str, Any]:
        trainable = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            trainable, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        monitor = self.hparams.monitor
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=MONITORS[monitor],
            factor=self.hparams.lr_factor,
            patience=self.hparams.lr_patience,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": monitor, "interval": "epoch"},
        }
