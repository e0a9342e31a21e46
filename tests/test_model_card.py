"""The model card names what trained the shipped weights, interpolated ones included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from skinxai.model_card import write_model_card

ROOT = Path(__file__).resolve().parents[1]
CURATION = ROOT / "configs" / "melanoma10k_train.report.json"
HISTORY = ROOT / "benchmarks" / "results" / "consistency_steps_history.csv"
SHIPPED_JSON = ROOT / "src" / "skinxai" / "assets" / "model.json"


def _training_run(folder: Path, decode_seconds: float | None) -> Path:
    """A run folder as `skinxai train` leaves it: summary, config and the real v3f history."""
    folder.mkdir()
    summary = {
        "val": {"n": 1494, "malignant": 296},
        "monitor": "val_worst_auroc",
        "accelerator": "cpu",
        "precision": "32-true",
        "torch": "2.x",
        "epochs_run": 3,
        "steps_run": 771,
        "fit_seconds": 4138.0,
        "train_images_per_second": 11.9,
        "decode_seconds": decode_seconds,
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    config = {"train": ["list:configs/melanoma10k_train.csv"], "monitor": "val_worst_auroc"}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    shutil.copyfile(HISTORY, folder / "history.csv")
    return folder


def _card(tmp_path: Path, model: dict, decode_seconds: float | None, separate: bool) -> str:
    trained = _training_run(tmp_path / "trained", decode_seconds)
    shipped = tmp_path / "shipped" if separate else trained
    shipped.mkdir(exist_ok=True)
    (shipped / "model.json").write_text(json.dumps(model))
    out = tmp_path / "MODEL_CARD.md"
    write_model_card(
        shipped,
        tmp_path / "no-accuracy.json",
        CURATION,
        tmp_path / "no-notes.md",
        out,
        training_run=trained if separate else None,
    )
    return out.read_text()


def test_interpolated_weights_name_both_parents_and_the_training_run(tmp_path: Path) -> None:
    model = json.loads(SHIPPED_JSON.read_text())
    model["extra"] = {
        "interpolated": {"first": "model-a", "second": "model-b", "weight_of_second": 0.25}
    }
    card = _card(tmp_path, model, decode_seconds=None, separate=True)
    assert "0.75 x `model-a` + 0.25 x `model-b`" in card
    assert "- 3 epochs, 771 optimiser steps in 4138.0 s (11.9 training images/s)." in card
    assert "decoding" not in card  # not recorded, so not claimed
    # the best epoch of the real v3f history (worst source 0.809 at epoch 2)
    assert "Best epoch 2:" in card and "isic2017:val 0.809" in card


def test_a_trained_run_ships_its_own_epoch(tmp_path: Path) -> None:
    model = json.loads(SHIPPED_JSON.read_text())
    model["extra"] = {}
    card = _card(tmp_path, model, decode_seconds=42.5, separate=False)
    assert "Shipped epoch 2:" in card and "decoding the image cache took 42.5 s" in card
    assert "skinxai interpolate" not in card
