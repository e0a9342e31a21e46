"""``history.csv`` with the original study's columns (+ val_auroc, the worst per-source
validation AUROC, the share of the decision outside the lesion, one AUROC column per
validation source and, when trained for it, the consistency gap) and ``curves.png``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import lightning as L

from skinxai.training.validation import PER_SOURCE_PREFIX

COLUMNS = (
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "val_auroc",
    "val_worst_auroc",
    "outside_lesion",
    "lr",
)


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    columns = list(COLUMNS) + sorted({k for row in rows for k in row if k not in COLUMNS})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", restval="nan")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (int(v) if k == "epoch" else v) for k, v in row.items()})


def plot_curves(rows: list[dict[str, float]], path: Path) -> None:
    """Loss and accuracy per epoch, training and validation, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    figure, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for axis, key, title in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        axis.plot(epochs, [r[key] for r in rows], "o-", label=f"train {key}")
        axis.plot(epochs, [r[f"val_{key}"] for r in rows], "o-", label=f"validation {key}")
        axis.set_xlabel("epoch")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


class HistoryCallback(L.Callback):
    """After each epoch (training and validation done), append a row and redraw the curves.

    On resume, rows of epochs that are run again replace the old ones, so each epoch appears
    once.
    """

    def __init__(self, out_dir: Path) -> None:
        self.csv_path = out_dir / "history.csv"
        self.png_path = out_dir / "curves.png"
        self.epoch_lr = math.nan

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch_lr = trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics

        def value(*keys: str) -> float:
            for key in keys:
                if key in metrics:
                    return float(metrics[key])
            return math.nan

        row = {
            "epoch": trainer.current_epoch + 1,
            "loss": value("loss_epoch", "loss"),
            "accuracy": value("accuracy_epoch", "accuracy"),
            "val_loss": value("val_loss"),
            "val_accuracy": value("val_accuracy"),
            "val_auroc": value("val_auroc"),
            "val_worst_auroc": value("val_worst_auroc"),
            "outside_lesion": value("outside_lesion"),
            "lr": self.epoch_lr,
            **{k: float(v) for k, v in metrics.items() if k.startswith(PER_SOURCE_PREFIX)},
        }
        if "consistency_gap" in metrics:
            row["consistency_gap"] = value("consistency_gap")
        rows = [r for r in read_history(self.csv_path) if r["epoch"] < row["epoch"]] + [row]
        write_history(self.csv_path, rows)
        plot_curves(rows, self.png_path)
