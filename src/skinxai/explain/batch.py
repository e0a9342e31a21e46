"""Stream a folder of any size through ``explain`` in batches, with per-file errors and flat
memory: figures and index rows are written as each batch finishes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from skinxai.explain.core import explain_methods
from skinxai.explain.render import input_image, three_panels
from skinxai.io import ImageInputError, load_image
from skinxai.model import SkinClassifier
from skinxai.preprocessing import normalize, to_square_uint8


class _PathDataset(Dataset):
    def __init__(self, paths: Sequence[Path], model: SkinClassifier) -> None:
        self.paths = list(paths)
        self.size, self.mean, self.std = (
            model.config.input_size,
            model.config.mean,
            model.config.std,
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            image = to_square_uint8(load_image(self.paths[index]), self.size)
            return index, normalize(image, self.mean, self.std), None
        except ImageInputError as exc:
            return index, None, str(exc)


def _collate(items: list) -> list:
    return items


@dataclass
class ExplainedFile:
    """One index row: the file, its prediction, and for each method the map's peak."""

    file: str
    label: str | None = None
    probability: float | None = None
    methods: dict[str, dict] | None = None
    figure: str | None = None
    error: str | None = None


def _figure_name(path: Path) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{path.stem}-{digest}.png"


def explain_files(
    model: SkinClassifier,
    paths: Sequence[Path],
    methods: Sequence[str],
    out: Path,
    target: int | str | None = None,
    layer: str | None = None,
    batch_size: int = 16,
    workers: int = 0,
    opacity: float = 0.4,
    progress: Callable[[int], None] | None = None,
) -> Iterator[ExplainedFile]:
    """Explain every file, writing ``out/<stem>-<hash>.png`` (three panels per method)."""
    out.mkdir(parents=True, exist_ok=True)
    loader = DataLoader(
        _PathDataset(paths, model), batch_size=batch_size, num_workers=workers, collate_fn=_collate
    )
    names = model.config.class_names
    for items in loader:
        good = [(i, t) for i, t, error in items if error is None]
        for index, _, error in items:
            if error is not None:
                yield ExplainedFile(file=str(paths[index]), error=error)
        if good:
            batch = torch.stack([t for _, t in good])
            explanations = explain_methods(model, batch, methods, target, layer)
            first = next(iter(explanations.values()))
            for row, (index, _) in enumerate(good):
                path = paths[index]
                predicted = int(first.probs[row].argmax())
                target_index = int(first.targets[row])
                peaks = {m: e.peak()[row] for m, e in explanations.items()}
                image = input_image(batch, row, model.config.mean, model.config.std)
                figure = out / _figure_name(path)
                title = (
                    f"{path.name}: {names[predicted]} "
                    f"(P(malignant) = {float(first.probs[row, 1]):.3f}); "
                    f"maps for class '{names[target_index]}'"
                )
                three_panels(
                    image, {m: e.maps[row] for m, e in explanations.items()}, figure, title, opacity
                )
                yield ExplainedFile(
                    file=str(path),
                    label=names[predicted],
                    probability=float(first.probs[row, 1]),
                    methods={
                        m: {
                            "target": names[target_index],
                            "peak_row_col": list(peaks[m]),
                            "peak_fraction_xy": [
                                round(peaks[m][1] / image.shape[1], 4),
                                round(peaks[m][0] / image.shape[0], 4),
                            ],
                        }
                        for m in methods
                    },
                    figure=figure.name,
                )
        if progress:
            progress(len(items))
