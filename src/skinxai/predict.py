"""Batch prediction over files and folders; a bad file becomes an error row, never a crash."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from skinxai.classes import MALIGNANT
from skinxai.data.paths import list_images
from skinxai.io import ImageInputError
from skinxai.model import SkinClassifier
from skinxai.model_config import ModelOutputError
from skinxai.ood_gate import not_dermoscopic


@dataclass(frozen=True)
class PredictionRow:
    """One input's outcome: a label and P(malignant), or an error message."""

    file: str
    label: str | None = None  # the class at the threshold
    decision: str | None = None  # benign, malignant, or uncertain inside the band
    p_malignant: float | None = None
    error: str | None = None
    error_code: str | None = None  # as in the API: not_an_image, corrupt_image, ...

    def to_dict(self) -> dict:
        return asdict(self)


def expand_inputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders expanded to the image files inside them (sorted)."""
    expanded: list[Path] = []
    for raw in paths:
        path = Path(raw)
        expanded.extend(list_images(path) if path.is_dir() else [path])
    return expanded


def predict_files(
    model: SkinClassifier, paths: Sequence[Path], batch_size: int = 32
) -> Iterator[PredictionRow]:
    """Predict each file in order; undecodable inputs yield a row with ``error`` set."""
    for start in range(0, len(paths), batch_size):
        tensors: list[torch.Tensor] = []
        outcomes: list[PredictionRow | int] = []
        for path in paths[start : start + batch_size]:
            try:
                tensors.append(model.preprocess(path))
                outcomes.append(len(tensors) - 1)
            except ImageInputError as exc:
                outcomes.append(PredictionRow(file=str(path), error=str(exc), error_code=exc.code))
        failure: ModelOutputError | None = None
        try:
            probs, accepted = (
                model.predict_with_gate(torch.stack(tensors)) if tensors else (None, None)
            )
        except ModelOutputError as exc:  # an error row for each image, never a decision
            failure, probs, accepted = exc, None, None
        for path, outcome in zip(paths[start : start + batch_size], outcomes, strict=True):
            if isinstance(outcome, PredictionRow):
                yield outcome
                continue
            if failure is not None:
                yield PredictionRow(file=str(path), error=str(failure), error_code=failure.code)
                continue
            if accepted is not None and not accepted[outcome]:
                refusal = not_dermoscopic(f"'{path}'")
                yield PredictionRow(file=str(path), error=str(refusal), error_code=refusal.code)
                continue
            p_malignant = float(probs[outcome, MALIGNANT])
            yield PredictionRow(
                file=str(path),
                label=model.config.label(p_malignant),
                decision=model.config.decision(p_malignant),
                p_malignant=p_malignant,
            )
