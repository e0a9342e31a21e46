"""The dermoscopic 7-point checklist (Argenziano et al., Arch Dermatol 1998) in the binary
form a dermatologist scores it, read from derm7pt's ``meta.csv``: three major criteria worth
2 points, four minor worth 1; a total of 3 or more is suspicious for melanoma."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skinxai.data.paths import shared_data_dir

SUSPICIOUS_FROM = 3  # points


@dataclass(frozen=True)
class Criterion:
    """One checklist criterion: its meta.csv column, the values that count as present in the
    checklist's sense, its points and the words a dermatologist uses for it."""

    name: str
    column: str
    present: frozenset[str]
    points: int
    words: str


CRITERIA: tuple[Criterion, ...] = (
    Criterion("atypical_pigment_network", "pigment_network", frozenset({"atypical"}), 2,
              "atypical pigment network"),
    Criterion("blue_whitish_veil", "blue_whitish_veil", frozenset({"present"}), 2,
              "blue-whitish veil"),
    # Argenziano 1998: linear-irregular or dotted vessels not seen within regression structures
    Criterion("atypical_vascular_pattern", "vascular_structures",
              frozenset({"dotted", "linear irregular"}), 2, "atypical vascular pattern"),
    Criterion("irregular_streaks", "streaks", frozenset({"irregular"}), 1, "irregular streaks"),
    Criterion("irregular_pigmentation", "pigmentation",
              frozenset({"diffuse irregular", "localized irregular"}), 1,
              "irregular pigmentation (blotches)"),
    Criterion("irregular_dots_and_globules", "dots_and_globules", frozenset({"irregular"}), 1,
              "irregular dots and globules"),
    Criterion("regression_structures", "regression_structures",
              frozenset({"blue areas", "white areas", "combinations"}), 1,
              "regression structures"),
)  # fmt: skip
POINTS = np.array([criterion.points for criterion in CRITERIA])
CRITERION_NAMES = tuple(criterion.name for criterion in CRITERIA)


@dataclass(frozen=True)
class ScoredImage:
    """A derm7pt image with its diagnosis and the dermatologists' reading of each criterion."""

    path: Path
    file: str  # as meta.csv names it, relative to the derm7pt folder
    diagnosis: str
    malignant: int
    present: tuple[int, ...]  # one 0/1 per CRITERIA entry

    @property
    def melanoma(self) -> int:
        return int("melanoma" in self.diagnosis)


def presence(row: Mapping[str, str]) -> tuple[int, ...]:
    """The checklist reading of one meta.csv row: 1 where a criterion is present."""
    return tuple(int(row[c.column].strip() in c.present) for c in CRITERIA)


def seven_point_score(present: np.ndarray) -> np.ndarray:
    """The 7-point sum of (N, 7) readings: 0/1 decisions or probabilities (an expected sum)."""
    return np.asarray(present, dtype=float) @ POINTS


def read_scored_images(root: Path | None = None) -> list[ScoredImage]:
    """Every labelled derm7pt image with its checklist reading, in meta.csv's order."""
    root = root or shared_data_dir() / "derm7pt"
    with open(root / "meta.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = {c.column for c in CRITERIA} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{root / 'meta.csv'} lacks the columns {sorted(missing)}")
    return [
        ScoredImage(root / row["file"], row["file"], row["diagnosis"],
                    int(row["label"] == "malignant"), presence(row))
        for row in rows
    ]  # fmt: skip


def presence_matrix(images: Sequence[ScoredImage]) -> np.ndarray:
    """(N, 7) 0/1: the dermatologists' reading of every criterion."""
    return np.array([image.present for image in images], dtype=int).reshape(-1, len(CRITERIA))
