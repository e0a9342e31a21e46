"""The two things an archive run does to each batch, and the outputs they merge into:
``explain`` (a figure per image, ``explanations.json`` and ``index.html``) and ``predict``
(``predictions.csv``). Both turn a batch of decoded images into one JSON row per image."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from skinxai.concepts.reading import (
    CAVEAT,
    concept_row,
    concepts_figure_name,
    draw_concepts,
    read_concepts,
)
from skinxai.explain.batch import DecodedImage, ExplainedFile, explain_decoded, figure_name
from skinxai.explain.index_files import write_index, write_text_atomically
from skinxai.model import SkinClassifier
from skinxai.predict import PredictionRow, predict_batch


def _error_row(kind, path: Path, item: DecodedImage) -> dict:
    return asdict(kind(file=str(path), error=item.error, error_code=item.error_code))


@dataclass(frozen=True)
class ExplainTask:
    """CAM-family figures for every image, indexed by ``explanations.json`` and a page."""

    methods: tuple[str, ...]
    target: int | str | None = None
    layer: str | None = None
    opacity: float = 0.4
    concepts: bool = False  # the network's 7-point checklist reading and its figure, too
    name: str = "explain"
    keeps_photo: bool = True

    def options(self) -> dict:
        return {
            "methods": list(self.methods),
            "target": self.target,
            "layer": self.layer,
            "concepts": self.concepts,
        }

    def rows(
        self, model: SkinClassifier, items: Sequence[DecodedImage], paths: Sequence[Path], out: Path
    ) -> list[dict]:
        """Explain one batch: its figures are on disk when this returns, its rows in input order."""
        good = [item for item in items if item.error is None]
        written: list[Path] = []  # explain_decoded lists its figures; merge removes strays
        explained = [
            asdict(row)
            for row in explain_decoded(
                *(model, good, paths, self.methods, out),
                *(self.target, self.layer, self.opacity, written),
            )
        ] if good else []  # fmt: skip
        if self.concepts and good:
            self._add_concepts(model, good, explained, out)
        explained_rows = iter(explained)
        return [
            next(explained_rows)
            if item.error is None
            else _error_row(ExplainedFile, paths[item.index], item)
            for item in items
        ]

    def _add_concepts(
        self, model: SkinClassifier, good: Sequence[DecodedImage], rows: list[dict], out: Path
    ) -> None:
        """The checklist reading of each explained image and, where the readers find a
        criterion, a figure of its concept maps beside the diagnosis figure."""
        batch = torch.stack([item.inputs for item in good]).to(model.device)
        reading = read_concepts(model, batch)
        for position, (item, row) in enumerate(zip(good, rows, strict=True)):
            if row["error"] is not None:  # refused by the gate: no reading either
                continue
            row["concepts"] = concept_row(reading, position)
            name = concepts_figure_name(row["figure"])
            title = (
                f"{Path(row['file']).name}: the network's 7-point checklist reading, "
                f"{row['concepts']['total_points']} points ({CAVEAT})"
            )
            drawn = draw_concepts(item.photo, reading, position, out / name, title, self.opacity)
            row["concepts_figure"] = name if drawn else None

    def merge(self, out: Path, files: Sequence[str], rows: dict[str, dict], version: str) -> None:
        """Write the index of every finished image in input order, and remove the figures of
        unfinished ones (drawn by a run killed before it recorded them)."""
        listed = [rows[file] for file in files if file in rows]
        write_index(out, listed, self.methods, version)
        for file in files:
            row, figure = rows.get(file, {}), figure_name(Path(file))
            if not row.get("figure"):
                (out / figure).unlink(missing_ok=True)
            if not row.get("concepts_figure"):
                (out / concepts_figure_name(figure)).unlink(missing_ok=True)


PREDICTION_COLUMNS = [field.name for field in fields(PredictionRow)]


@dataclass(frozen=True)
class PredictTask:
    """A label and P(malignant) for every image, merged into ``predictions.csv``."""

    name: str = "predict"
    keeps_photo: bool = False

    def options(self) -> dict:
        return {}

    def rows(
        self, model: SkinClassifier, items: Sequence[DecodedImage], paths: Sequence[Path], out: Path
    ) -> list[dict]:
        good = [item for item in items if item.error is None]
        predicted = iter(
            predict_batch(model, [paths[item.index] for item in good], [i.inputs for i in good])
        )
        return [
            next(predicted).to_dict()
            if item.error is None
            else _error_row(PredictionRow, paths[item.index], item)
            for item in items
        ]

    def merge(self, out: Path, files: Sequence[str], rows: dict[str, dict], version: str) -> None:
        """``predictions.csv``: one line per finished image, in input order."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=PREDICTION_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[file] for file in files if file in rows)
        write_text_atomically(out / "predictions.csv", text.getvalue())


ArchiveTask = ExplainTask | PredictTask
