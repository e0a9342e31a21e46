"""The reproducible HAM10000 train/val/test split, grouped by ``lesion_id``.

Every image of a lesion lands on the same side; lesions are stratified by benign/malignant so
each split keeps HAM10000's ~20% malignant share. The result is committed as a CSV manifest.
"""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from importlib import resources
from pathlib import Path

from skinxai.data.ham10000 import HamRecord

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.70, 0.15, 0.15)
DEFAULT_SEED = 20261126
MANIFEST_NAME = "ham10000_split.csv"


def manifest_path() -> Path:
    """The committed manifest inside the installed package."""
    return Path(str(resources.files("skinxai.data") / "splits" / MANIFEST_NAME))


def make_ham_split(
    records: list[HamRecord],
    seed: int = DEFAULT_SEED,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
) -> dict[str, str]:
    """Assign each image id to train/val/test so that no lesion spans two splits."""
    lesion_label: dict[str, int] = {}
    images_of: dict[str, list[str]] = defaultdict(list)
    for record in records:
        lesion_label[record.lesion_id] = max(lesion_label.get(record.lesion_id, 0), record.label)
        images_of[record.lesion_id].append(record.image_id)
    rng = random.Random(seed)
    assignment: dict[str, str] = {}
    for label in sorted(set(lesion_label.values())):
        lesions = sorted(lid for lid, lab in lesion_label.items() if lab == label)
        rng.shuffle(lesions)
        n_train = round(fractions[0] * len(lesions))
        n_val = round(fractions[1] * len(lesions))
        for position, lesion in enumerate(lesions):
            split = (
                "train" if position < n_train else "val" if position < n_train + n_val else "test"
            )
            for image_id in images_of[lesion]:
                assignment[image_id] = split
    return assignment


def write_ham_split(
    records: list[HamRecord], assignment: dict[str, str], path: str | os.PathLike
) -> None:
    """Write ``image_id,lesion_id,dx,split`` rows sorted by image id."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image_id", "lesion_id", "dx", "split"])
        for record in sorted(records, key=lambda r: r.image_id):
            writer.writerow(
                [record.image_id, record.lesion_id, record.dx, assignment[record.image_id]]
            )


def read_ham_split(path: str | os.PathLike | None = None) -> dict[str, str]:
    """Read a manifest (the committed one by default) into ``{image_id: split}``."""
    with open(path or manifest_path(), newline="") as handle:
        return {row["image_id"]: row["split"] for row in csv.DictReader(handle)}
