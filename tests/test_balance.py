"""Loss weights by class within each data set (``balance: source``) on the real training list."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

from skinxai.data.cache import DecodedDataset
from skinxai.data.specs import resolve_spec, stratified_subset
from skinxai.training.balance import (
    class_weights,
    source_names,
    weighted_cross_entropy,
    within_source_weights,
)
from skinxai.training.config import TrainConfig


def test_every_source_weighs_its_classes_equally(data_dir: Path) -> None:
    samples = stratified_subset(resolve_spec("fanconic:train"), 30, seed=0)
    samples += stratified_subset(resolve_spec("isic2017:train"), 40, seed=0)
    names = source_names([s.path for s in samples])
    assert Counter(names) == {"fanconic": 30, "isic2017": 40}
    labels = [s.label for s in samples]
    weights = within_source_weights(labels, names)
    totals: Counter = Counter()
    for name, label, weight in zip(names, labels, weights, strict=True):
        totals[name, label] += weight
    for name, count in Counter(names).items():
        assert totals[name, 0] == pytest.approx(count / 2)
        assert totals[name, 1] == pytest.approx(count / 2)
    # one source alone: the same weights as class weighting
    alone = labels[30:]
    per_class = class_weights(alone)
    assert within_source_weights(alone, names[30:]) == pytest.approx(
        [per_class[label] for label in alone]
    )
    with pytest.raises(ValueError, match="sources"):
        within_source_weights(labels, names[:-1])


def test_folder_outside_the_shared_data_is_its_own_source(tmp_path: Path) -> None:
    image = tmp_path / "clinic_a" / "benign" / "lesion.jpg"
    assert source_names([image]) == ["clinic_a"]


def test_weighted_cross_entropy_matches_torch_class_weights() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 2, generator=generator)
    labels = torch.tensor([0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    per_class = class_weights(labels.tolist())
    expected = nn.CrossEntropyLoss(weight=torch.tensor(per_class))(logits, labels)
    weights = torch.tensor([per_class[label] for label in labels.tolist()])
    assert weighted_cross_entropy(logits, labels, weights) == pytest.approx(expected.item())
    plain = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels)
    ones = torch.ones(len(labels))
    assert weighted_cross_entropy(logits, labels, ones, 0.1) == pytest.approx(plain.item())


def test_training_images_carry_their_weight(data_dir: Path) -> None:
    from skinxai.training.fit import _image_weights

    samples = resolve_spec("fanconic:train")[-6:] + resolve_spec("isic2017:train")[:6]
    names = source_names([s.path for s in samples])
    config = TrainConfig().updated({"balance": "source"})
    weights = _image_weights(config, samples, names)
    assert weights == within_source_weights([s.label for s in samples], names)
    assert _image_weights(TrainConfig(), samples, names) is None
    dataset = DecodedDataset(samples, 32, weights=weights)
    assert [float(dataset[i]["weight"]) for i in range(len(samples))] == pytest.approx(weights)
    assert float(DecodedDataset(samples[:1], 32)[0]["weight"]) == 1.0
    with pytest.raises(ValueError, match="balance must be"):
        TrainConfig().updated({"balance": "clinic"})


def test_small_run_balanced_within_sources(tmp_path: Path) -> None:
    """`skinxai train --balance source` on two real data sets: it trains, and the run's
    summary counts each data set's classes."""
    out = tmp_path / "source"
    limit = 48
    command = [
        *(sys.executable, "-m", "skinxai.cli", "train", "--balance", "source"),
        *("--train", "fanconic:train", "--train", "isic2017:train", "--val", "isic2017:val"),
        *("--input-size", "64", "--workers", "0", "--accelerator", "cpu", "--freeze-blocks", "4"),
        *("--limit", str(limit), "--epochs", "1", "--batch-size", "16", "--out", str(out)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    chosen = stratified_subset(
        resolve_spec("fanconic:train") + resolve_spec("isic2017:train"), limit, seed=0
    )
    names = source_names([s.path for s in chosen])
    expected = Counter(zip(names, [s.label for s in chosen], strict=True))
    for name, counts in summary["train_sources"].items():
        assert (counts["benign"], counts["malignant"]) == (expected[name, 0], expected[name, 1])
    assert sum(c["n"] for c in summary["train_sources"].values()) == limit
    assert TrainConfig.from_yaml(out / "config.yaml").balance == "source"
