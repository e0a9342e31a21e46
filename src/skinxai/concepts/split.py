"""The concept split of derm7pt: ``concept-fit`` (about 60%), on which only the concept
readers learn, and ``concept-test``, on which they are scored. Seeded and stratified by
diagnosis and by every criterion's presence, committed as a CSV beside the HAM10000 split.
The diagnosis network never trains, selects or calibrates on derm7pt."""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from skinxai.concepts.checklist import ScoredImage

CONCEPT_SPLITS = ("concept-fit", "concept-test")
FIT_FRACTION = 0.6
DEFAULT_SEED = 20261201
MANIFEST_NAME = "derm7pt_concepts.csv"


def manifest_path() -> Path:
    return Path(str(resources.files("skinxai.data") / "splits" / MANIFEST_NAME))


def make_concept_split(
    images: Sequence[ScoredImage], seed: int = DEFAULT_SEED, fraction: float = FIT_FRACTION
) -> dict[str, str]:
    """meta.csv file -> split. Images with the same diagnosis and the same seven readings form
    a stratum; each stratum is shuffled and cut at ``fraction``, the rounding carried from one
    stratum to the next so that small strata do not all round the same way."""
    strata: dict[tuple, list[str]] = defaultdict(list)
    for image in images:
        strata[(image.diagnosis, image.present)].append(image.file)
    rng = random.Random(seed)
    assignment, carried = {}, 0.0
    for key in sorted(strata):
        files = sorted(strata[key])
        rng.shuffle(files)
        wanted = fraction * len(files) + carried
        take = int(wanted + 0.5)
        carried = wanted - take
        for position, file in enumerate(files):
            assignment[file] = CONCEPT_SPLITS[0] if position < take else CONCEPT_SPLITS[1]
    return assignment


def write_concept_split(assignment: dict[str, str], path: str | os.PathLike) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "split"])
        writer.writerows(sorted(assignment.items()))


def read_concept_split(path: str | os.PathLike | None = None) -> dict[str, str]:
    with open(path or manifest_path(), newline="") as handle:
        return {row["file"]: row["split"] for row in csv.DictReader(handle)}


def concept_images(split: str, images: Sequence[ScoredImage]) -> list[ScoredImage]:
    """The images of one concept split, in meta.csv's order."""
    if split not in CONCEPT_SPLITS:
        raise ValueError(f"unknown concept split {split!r}; expected one of {CONCEPT_SPLITS}")
    assignment = read_concept_split()
    return [image for image in images if assignment.get(image.file) == split]
