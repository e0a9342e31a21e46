"""`skinxai train` on real images: a small run, kill-and-resume, and 2-process DDP on CPU."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from skinxai.model import SkinClassifier, load_model_file
from skinxai.training.balance import class_weights
from skinxai.training.config import TrainConfig
from skinxai.training.fit import stratified_subset

SMALL = [
    "--train",
    "fanconic:train",
    "--val",
    "fanconic:test",
    "--input-size",
    "64",
    "--workers",
    "0",
    "--accelerator",
    "cpu",
]


def train_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "skinxai.cli", "train", *SMALL, "--out", str(out), *extra]


def history(out: Path) -> list[dict[str, str]]:
    with (out / "history.csv").open() as handle:
        return list(csv.DictReader(handle))


def run_training(out: Path, *extra: str) -> None:
    """A small `skinxai train` run in a process of its own; it must succeed."""
    done = subprocess.run(train_command(out, *extra), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def test_small_run_writes_everything(tmp_path: Path, fanconic: Path) -> None:
    out = tmp_path / "run"
    run_training(out, "--limit", "64", "--epochs", "2", "--batch-size", "16")
    rows = history(out)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert list(rows[0]) == [
        "epoch",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "val_auroc",
        "val_worst_auroc",
        "outside_lesion",
        "lr",
        "val_auroc[fanconic:test]",
    ]
    assert all(0 <= float(r["accuracy"]) <= 1 and float(r["loss"]) > 0 for r in rows)
    assert float(rows[0]["lr"]) == pytest.approx(5e-4)
    assert (out / "curves.png").stat().st_size > 10_000
    assert (out / "checkpoints" / "best.ckpt").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train"] == {"n": 64, "benign": 35, "malignant": 29}
    assert summary["steps_run"] == 8 and summary["epochs_run"] == 2  # 4 full batches an epoch
    assert summary["train_images_per_second"] == pytest.approx(
        128 / summary["fit_seconds"],
        rel=0.05,  # fit_seconds is rounded to 0.1 s
    )
    model = load_model_file(out / "model.safetensors")
    assert model.config.trained and model.config.input_size == 64
    image = next((fanconic / "test" / "malignant").glob("*.jpg"))
    assert model.predict_proba(image).shape == (1, 2)


def test_killed_mid_epoch_then_resumed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = (
        "--limit",
        "64",
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--input-size",
        "96",
        "--checkpoint-every-n-steps",
        "3",
    )
    process = subprocess.Popen(
        train_command(out, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoint = out / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            done_epochs = len(history(out)) if (out / "history.csv").is_file() else 0
            history_file = out / "history.csv"
            if (
                done_epochs >= 1
                and checkpoint.is_file()
                and checkpoint.stat().st_mtime > history_file.stat().st_mtime
            ):
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    steps_per_epoch = 16  # 64 images, batch 4
    assert state["global_step"] % steps_per_epoch != 0, "checkpoint is not mid-epoch"
    killed_at_epoch = state["epoch"]
    resumed = subprocess.run(
        train_command(out, *args, "--resume"), capture_output=True, text=True, check=False
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [r["epoch"] for r in history(out)] == ["1", "2", "3"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed"] is True and killed_at_epoch >= 1
    assert (out / "model.safetensors").is_file()


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    done = subprocess.run(
        train_command(out, "--limit", "32", "--epochs", "1", "--batch-size", "8", "--devices", "2"),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["strategy"] == "DDPStrategy"
    assert len(history(out)) == 1


def test_yaml_config_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\nlr: 0.001\ntrain: [ham10000:train]\n")
    config = TrainConfig.from_yaml(path).updated({"epochs": 5, "lr": None})
    assert (config.epochs, config.lr, config.train) == (5, 0.001, ["ham10000:train"])
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig().updated({"epoch": 3})


def test_class_weights_and_subset(fanconic: Path) -> None:
    assert class_weights([0, 0, 0, 1]) == pytest.approx([4 / 6, 2.0])
    from skinxai.data.specs import resolve_spec

    samples = resolve_spec("fanconic:train")
    subset = stratified_subset(samples, 100, seed=0)
    assert len(subset) == 100 and subset == stratified_subset(samples, 100, seed=0)
    assert 40 <= sum(s.label for s in subset) <= 50


def test_other_clinics_recipe_selects_on_the_worst_source(tmp_path: Path, ham_root: Path) -> None:
    """Every lever of configs/clinics.yaml on a small real run: validation per source with
    the checkpoint on the worst AUROC, the lesion penalty from HAM10000 masks, acquisition
    augmentation, the JPEG and circle consistency term, Shades of Gray in the model and a
    frozen ImageNet trunk."""
    out = tmp_path / "clinics"
    command = [
        sys.executable,
        "-m",
        "skinxai.cli",
        "train",
        "--train",
        "ham10000:train",
        "--val",
        "ham10000:val",
        "--val",
        "isic2017:val",
        "--monitor",
        "val_worst_auroc",
        "--mask-folder",
        str(ham_root / "masks"),
        "--mask-penalty",
        "0.5",
        "--consistency",
        "1.0",
        "--augmentation",
        "acquisition",
        "--colour-constancy-p",
        "6",
        "--freeze-blocks",
        "4",
        *("--input-size", "64", "--workers", "0", "--accelerator", "cpu"),
        *("--limit", "48", "--epochs", "2", "--batch-size", "16", "--out", str(out)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = history(out)
    for row in rows:
        per_source = [float(row["val_auroc[ham10000:val]"]), float(row["val_auroc[isic2017:val]"])]
        assert float(row["val_worst_auroc"]) == pytest.approx(min(per_source))
        assert 0 < float(row["outside_lesion"]) < 1
        assert 0 < float(row["consistency_gap"]) < 100
    summary = json.loads((out / "summary.json").read_text())
    assert summary["monitor"] == "val_worst_auroc" and summary["train_with_mask"] == 48
    best = max(float(r["val_worst_auroc"]) for r in rows)
    assert summary["best_val_worst_auroc"] == pytest.approx(best)
    assert set(summary["val_sources"]) == {"ham10000:val", "isic2017:val"}
    model = load_model_file(out / "model.safetensors")
    assert model.config.colour_constancy_p == 6.0
    imagenet = SkinClassifier(pretrained=True)
    assert torch.equal(
        model.backbone.blocks[3][0].conv_pw.weight, imagenet.backbone.blocks[3][0].conv_pw.weight
    )
    assert not torch.equal(model.classifier.weight, imagenet.classifier.weight)


def test_weight_average_is_what_validation_scores_and_the_run_exports(tmp_path: Path) -> None:
    """With --ema-decay the exported model is the moving average kept in the best checkpoint,
    not the live weights, and the validation AUROC in history.csv of the selected epoch is that
    model's own."""
    from sklearn.metrics import roc_auc_score

    from skinxai.evaluation.report import predict_logits
    from skinxai.training.fit import _validation_samples

    out = tmp_path / "ema"
    args = ("--limit", "48", "--epochs", "2", "--batch-size", "16", "--freeze-blocks", "3")
    done = subprocess.run(
        train_command(out, *args, "--ema-decay", "0.9"), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = torch.load(
        out / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False
    )
    average, live = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert int(checkpoint["averaging_state"]["n_averaged"]) == checkpoint["global_step"]
    model = load_model_file(out / "model.safetensors", precision="32")  # as validation scores
    exported = model.state_dict()
    assert all(torch.equal(exported[k], average[f"model.{k}"]) for k in exported)
    head = "model.classifier.weight"
    assert not torch.equal(average[head], live[head])
    stem = "model.backbone.conv_stem.weight"  # frozen: the average of equal weights (rounding)
    assert torch.allclose(average[stem], live[stem], rtol=0, atol=1e-6)

    config = TrainConfig.from_yaml(out / "config.yaml")
    samples, _ = _validation_samples(config)
    margin = predict_logits(model, samples).logits @ np.array([-1.0, 1.0])
    auroc = roc_auc_score([s.label for s in samples], margin)
    best = min(history(out), key=lambda row: float(row["val_loss"]))  # what selection follows
    assert auroc == pytest.approx(float(best["val_auroc"]), abs=1e-4)
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig().updated({"ema_decay": 1.0})
