"""Data sets read from ../shared/data as they are, and the grouped HAM10000 split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from skinxai.data import (
    FolderDataset,
    HAM10000Dataset,
    list_labelled_images,
    load_mask,
    make_ham_split,
    read_ham_records,
    read_ham_split,
    write_ham_split,
)


@pytest.mark.parametrize(
    ("split", "benign", "malignant"), [("train", 1440, 1197), ("test", 360, 300)]
)
def test_fanconic_counts(fanconic: Path, split: str, benign: int, malignant: int) -> None:
    labels = Counter(s.label for s in list_labelled_images(fanconic / split))
    assert labels == {0: benign, 1: malignant}


def test_folder_dataset_items(fanconic: Path) -> None:
    dataset = FolderDataset(fanconic / "test", transform=v2.Compose([v2.ToImage()]))
    image, label = dataset[0]
    assert image.shape == (3, 224, 224) and label == 0
    assert dataset[len(dataset) - 1][1] == 1


def test_folder_dataset_needs_class_folders(tmp_path: Path) -> None:
    (tmp_path / "benign").mkdir()
    with pytest.raises(FileNotFoundError, match="malignant"):
        FolderDataset(tmp_path)


def test_ham_records(ham_root: Path) -> None:
    records = read_ham_records(ham_root)
    assert len(records) == 10015
    assert len({r.lesion_id for r in records}) == 7470
    assert sum(r.label for r in records) == 1954
    assert Counter(r.dx for r in records)["nv"] == 6705
    assert all(r.label == 1 for r in records if r.dx in {"mel", "bcc", "akiec"})


def test_mask_resized_to_image(ham_root: Path) -> None:
    record = read_ham_records(ham_root)[0]
    mask = load_mask(record, (200, 150))
    assert mask.shape == (150, 200) and mask.dtype == bool
    assert 0.01 < mask.mean() < 0.99


def test_ham_dataset_moves_mask_with_image(ham_root: Path) -> None:
    flip = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(p=1.0)])
    plain = HAM10000Dataset(ham_root, split="test", return_mask=True, transform=v2.ToImage())
    flipped = HAM10000Dataset(ham_root, split="test", return_mask=True, transform=flip)
    image, label, mask = plain[3]
    image_f, label_f, mask_f = flipped[3]
    assert label == label_f and mask.shape == image.shape[1:]
    assert torch.equal(mask_f, mask.flip(-1)) and torch.equal(image_f, image.flip(-1))


def test_committed_split_is_grouped_and_reproducible(ham_root: Path, tmp_path: Path) -> None:
    records = read_ham_records(ham_root)
    committed = read_ham_split()
    assert set(committed) == {r.image_id for r in records}
    regenerated = tmp_path / "split.csv"
    write_ham_split(records, make_ham_split(records), regenerated)
    assert read_ham_split(regenerated) == committed
    split_of_lesion: dict[str, set[str]] = {}
    for r in records:
        split_of_lesion.setdefault(r.lesion_id, set()).add(committed[r.image_id])
    assert all(len(s) == 1 for s in split_of_lesion.values())
    counts = Counter(committed.values())
    for split, fraction in (("train", 0.70), ("val", 0.15), ("test", 0.15)):
        assert abs(counts[split] / len(records) - fraction) < 0.02
        share = np.mean([r.label for r in records if committed[r.image_id] == split])
        assert abs(share - 1954 / 10015) < 0.02


def test_split_depends_on_seed(ham_root: Path) -> None:
    records = read_ham_records(ham_root)
    assert make_ham_split(records, seed=1) != make_ham_split(records, seed=2)


def test_unknown_split_is_an_error(ham_root: Path) -> None:
    with pytest.raises(ValueError, match="no HAM10000 images"):
        HAM10000Dataset(ham_root, split="holdout")


def test_melanoma10k_splits_are_named_sets() -> None:
    from skinxai.data.specs import resolve_spec

    train, val = resolve_spec("melanoma10k:train"), resolve_spec("melanoma10k:val")
    assert (len(train), sum(s.label for s in train)) == (7946, 2947)
    assert (len(val), sum(s.label for s in val)) == (999, 500)
    assert not {s.path.name for s in train} & {s.path.name for s in val}
    with pytest.raises(FileNotFoundError, match="not a folder-per-class"):
        resolve_spec("melanoma10k:test")
