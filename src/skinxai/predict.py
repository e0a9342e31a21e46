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
from skinxai.precision import computed_in


@dataclass(frozen=True)
class PredictionRow:
    """One input's outcome: a label and P(malignant), or an error message."""

    file: str
    label: str | None = None  # the class at the threshold
    decision: str | None = None  # benign, malignant, or uncertain inside the band
    p_malignant: float | None = None
    inference_precision: str | None = None  # what the backbone computed in: bf16-mixed or 32-true
    error: str | None = None
    error_code: str | None = None  # as in the API: not_an_image, corrupt_image, ...

    def to_dict(self) -> dict:
        return asdict(self)


def names_a_set(raw: str | os.PathLike) -> bool:
    """Whether an input that is no file names a ``list:`` CSV or a set such as
    ``ham10000:test`` (``data.specs.input_paths``)."""
    path = Path(raw)
    return not path.exists() and not path.is_symlink() and ":" in str(raw)


def expand_inputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders expanded to the image files inside them (sorted), ``list:``
    CSVs and named sets to the images they hold (in their order)."""
    from skinxai.data.specs import input_paths

    expanded: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if names_a_set(raw):
            expanded.extend(input_paths(str(raw)))
        else:
            expanded.extend(list_images(path) if path.is_dir() else [path])
    return expanded


def predict_batch(
    model: SkinClassifier, paths: Sequence[Path], tensors: Sequence[torch.Tensor]
) -> list[PredictionRow]:
    """One row per decoded image from one forward pass with the gate: a decision, a refusal
    by the gate, or, if the model returns no usable output, an error row each."""
    if not tensors:
        return []
    try:
        probs, accepted = model.predict_with_gate(torch.stack(list(tensors)))
    except ModelOutputError as exc:  # an error row for each image, never a decision
        return [PredictionRow(file=str(p), error=str(exc), error_code=exc.code) for p in paths]
    precision = computed_in(model)
    rows = []
    for row, path in enumerate(paths):
        if accepted is not None and not accepted[row]:
            refusal = not_dermoscopic(f"'{path}'")
            rows.append(PredictionRow(file=str(path), error=str(refusal), error_code=refusal.code))
            continue
        p_malignant = float(probs[row, MALIGNANT])
        rows.append(
            PredictionRow(
                file=str(path),
                label=model.config.label(p_malignant),
                decision=model.config.decision(p_malignant),
                p_malignant=p_malignant,
                inference_precision=precision,
            )
        )
    return rows


def predict_files(
    model: SkinClassifier, paths: Sequence[Path], batch_size: int = 32
) -> Iterator[PredictionRow]:
    """Predict each file in order; undecodable inputs yield a row with ``error`` set."""
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        decoded: list[torch.Tensor | ImageInputError] = []
        for path in chunk:
            try:
                decoded.append(model.preprocess(path))
            except ImageInputError as exc:
                decoded.append(exc)
        good = [(p, t) for p, t in zip(chunk, decoded, strict=True) if isinstance(t, torch.Tensor)]
        predicted = iter(predict_batch(model, [p for p, _ in good], [t for _, t in good]))
        for path, outcome in zip(chunk, decoded, strict=True):
            if isinstance(outcome, ImageInputError):
                yield PredictionRow(file=str(path), error=str(outcome), error_code=outcome.code)
            else:
                yield next(predicted)
