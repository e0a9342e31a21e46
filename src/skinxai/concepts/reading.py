"""The network's reading of the 7-point checklist for a batch: each criterion's probability,
whether it counts as present, its points, the total, and its concept map (a CAM with the
reader's weights) drawn on the photo as taken."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skinxai.concepts.checklist import CRITERIA, SUSPICIOUS_FROM
from skinxai.concepts.features import LAST
from skinxai.data.canonical import upright_mean
from skinxai.explain.core import normalise_maps
from skinxai.explain.hooks import capture_layer, find_layer
from skinxai.explain.render import three_panels
from skinxai.model import SkinClassifier

CAVEAT = (
    "linear probes fitted on 602 derm7pt atlas images: a research aid, not a dermatologist's "
    "reading"
)


@dataclass(frozen=True)
class ConceptReading:
    """For B images: probabilities (B, 7), 0/1 presence (B, 7), raw maps (B, 7, h, w)."""

    probabilities: np.ndarray
    present: np.ndarray
    maps: torch.Tensor
    layer: str

    def map_in_frame(self, index: int, criterion: int, size: tuple[int, int]) -> torch.Tensor:
        """Image ``index``'s map of one criterion in [0, 1], upsampled to ``size`` (H, W)."""
        return normalise_maps(self.maps[index, criterion : criterion + 1], size)[0]


def read_concepts(model: SkinClassifier, batch: torch.Tensor) -> ConceptReading:
    """The readers on one preprocessed batch; a ValueError if the model has none."""
    readers = model.concept_readers
    if readers is None:
        raise ValueError(
            "this model has no 7-point checklist readers; fit them with "
            "`skinxai concepts fit --model FILE`"
        )
    with torch.no_grad():
        if readers.layer == LAST:
            activations = model.features(batch)
        else:
            with capture_layer(find_layer(model, readers.layer), requires_grad=False) as tap:
                model.features(batch)
                activations = upright_mean(tap.output, len(batch))  # D4: 8 views each
    activations = activations.float()
    pooled = activations.mean(dim=(2, 3)).cpu().numpy()
    return ConceptReading(
        readers.probabilities(pooled),
        readers.decisions(pooled),
        readers.maps(activations).cpu(),
        readers.layer,
    )


def concept_row(reading: ConceptReading, index: int) -> dict:
    """One image's checklist, as explanations.json and the API give it."""
    criteria = [
        {
            "name": criterion.name,
            "words": criterion.words,
            "probability": round(float(reading.probabilities[index, k]), 4),
            "present": bool(reading.present[index, k]),
            "points": criterion.points if reading.present[index, k] else 0,
            "worth": criterion.points,
        }
        for k, criterion in enumerate(CRITERIA)
    ]
    total = sum(entry["points"] for entry in criteria)
    return {
        "layer": reading.layer,
        "criteria": criteria,
        "total_points": total,
        "suspicious": total >= SUSPICIOUS_FROM,
        "note": CAVEAT,
    }


def concepts_figure_name(figure: str) -> str:
    """The concept figure beside a diagnosis figure ``<stem>-<hash>.png``."""
    return figure.removesuffix(".png") + ".concepts.png"


def draw_concepts(
    photo: np.ndarray, reading: ConceptReading, index: int, path: Path, title: str, opacity: float
) -> bool:
    """A row (photo, map, blended) per criterion the readers find; False (nothing drawn) when
    they find none."""
    found = np.flatnonzero(reading.present[index])
    if len(found) == 0:
        return False
    rows = {
        f"{CRITERIA[k].words} (P {reading.probabilities[index, k]:.2f}, "
        f"{CRITERIA[k].points} pt)": reading.map_in_frame(index, k, photo.shape[:2])
        for k in found
    }
    three_panels(photo, rows, path, title, opacity, evidence_for="the criterion")
    return True
