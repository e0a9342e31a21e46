"""Stream a folder of any size through ``explain`` in batches, with per-file errors and flat
memory: figures are drawn on the photo as taken, and the index (``explanations.json`` and
``index.html``) is rewritten atomically as each batch finishes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from skinxai.explain.core import Explanation, explain_methods, peak_in_original
from skinxai.explain.index_files import write_index
from skinxai.explain.render import photo_array, three_panels
from skinxai.io import ImageInputError, load_image
from skinxai.model import SkinClassifier
from skinxai.ood_gate import not_dermoscopic
from skinxai.precision import computed_in
from skinxai.preprocessing import normalize, to_square_uint8


@dataclass
class DecodedImage:
    """One decoded file: the model's input, the photo for display and its original size."""

    index: int
    inputs: torch.Tensor | None = None
    photo: np.ndarray | None = None
    original_size: tuple[int, int] | None = None  # (width, height)
    error: str | None = None
    error_code: str | None = None


class DecodedImages(Dataset):
    """Files decoded for the model (in DataLoader workers when there are some): the input
    tensor, the photo for the figure, or the decoding error."""

    def __init__(
        self, paths: Sequence[Path], model: SkinClassifier, keep_photo: bool = True
    ) -> None:
        self.paths, self.keep_photo = list(paths), keep_photo
        self.size, self.mean, self.std = (
            model.config.input_size,
            model.config.mean,
            model.config.std,
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> DecodedImage:
        try:
            image = load_image(self.paths[index])
        except ImageInputError as exc:
            return DecodedImage(index, error=str(exc), error_code=exc.code)
        inputs = normalize(to_square_uint8(image, self.size), self.mean, self.std)
        photo = photo_array(image) if self.keep_photo else None
        return DecodedImage(index, inputs, photo, image.size)


def as_list(items: list) -> list:
    """A DataLoader collate that keeps a batch as its list of items."""
    return items


@dataclass
class ExplainedFile:
    """One index row: the file, its prediction, and for each method the map's peak."""

    file: str
    label: str | None = None
    decision: str | None = None
    probability: float | None = None
    methods: dict[str, dict] | None = None
    figure: str | None = None
    inference_precision: str | None = None  # what the backbone computed in: bf16-mixed or 32-true
    error: str | None = None
    error_code: str | None = None


def figure_name(path: Path) -> str:
    """The input's figure: its stem and a hash of its absolute path, so that two inputs of
    one name in different folders never share a figure."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{path.stem}-{digest}.png"


def _grid(explanation: Explanation, row: int) -> dict:
    """The raw map on the feature grid (h rows of w values, 6 significant digits), for
    analyses that need the map itself; guided methods' input-sized maps have none."""
    if explanation.raw.dim() != 3:
        return {}
    values = explanation.raw[row].float().tolist()
    return {"grid": [[float(f"{v:.6g}") for v in line] for line in values]}


def explain_decoded(
    model: SkinClassifier,
    loaded: list[DecodedImage],
    paths: Sequence[Path],
    methods: Sequence[str],
    out: Path,
    target: int | str | None,
    layer: str | None,
    opacity: float,
    unindexed: list[Path],
) -> Iterator[ExplainedFile]:
    """Explain the decoded files of one batch; one figure per file on the photo as taken, its
    path added to ``unindexed`` before it is written."""
    batch = torch.stack([item.inputs for item in loaded])
    explanations: dict[str, Explanation] = explain_methods(model, batch, methods, target, layer)
    first = next(iter(explanations.values()))
    config = model.config
    accepted = first.extra.get("accepted")
    for row, item in enumerate(loaded):
        path = paths[item.index]
        if accepted is not None and not accepted[row]:
            refusal = not_dermoscopic(f"'{path}'")
            yield ExplainedFile(file=str(path), error=str(refusal), error_code=refusal.code)
            continue
        p_malignant = float(first.probs[row, 1])
        decision = config.decision(p_malignant)
        explained = config.class_names[int(first.targets[row])]
        frame = item.photo.shape[:2]
        maps = {m: e.map_in_frame(row, frame) for m, e in explanations.items()}
        figure = out / figure_name(path)
        width, height = item.original_size
        title = (
            f"{path.name} ({width}x{height}): {decision} "
            f"(P(malignant) = {p_malignant:.3f}, threshold {config.threshold:.3f}); "
            f"maps for class '{explained}'"
        )
        unindexed.append(figure)
        three_panels(item.photo, maps, figure, title, opacity, evidence_for=explained)
        peaks = {m: e.peak()[row] for m, e in explanations.items()}
        yield ExplainedFile(
            file=str(path),
            label=config.label(p_malignant),
            decision=decision,
            probability=p_malignant,
            methods={
                m: {
                    "target": explained,
                    "peak_row_col": list(peaks[m]),
                    "peak_fraction_xy": [
                        round(peaks[m][1] / config.input_size, 4),
                        round(peaks[m][0] / config.input_size, 4),
                    ],
                    "peak_original_xy": peak_in_original(maps[m], item.original_size),
                    **_grid(explanations[m], row),
                }
                for m in methods
            },
            figure=figure.name,
            inference_precision=computed_in(model),
        )


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
    """Explain every file, writing ``out/<stem>-<hash>.png`` (three panels per method) and,
    after every batch, an index of the rows so far (an earlier run's index is replaced). If
    the run stops (Ctrl-C, an error), the figures of the unfinished batch are removed, so
    the index lists exactly the figures on disk."""
    out.mkdir(parents=True, exist_ok=True)
    loader = DataLoader(
        DecodedImages(paths, model), batch_size=batch_size, num_workers=workers, collate_fn=as_list
    )
    rows: list[dict] = []
    version = f"{model.config.version} ({computed_in(model)})"
    write_index(out, rows, methods, version)
    unindexed: list[Path] = []  # figures of this batch that the index does not list yet
    for items in loader:
        try:
            good = [item for item in items if item.error is None]
            explained = explain_decoded(
                model, good, paths, methods, out, target, layer, opacity, unindexed
            )
            produced = [
                next(explained)
                if item.error is None
                else ExplainedFile(
                    file=str(paths[item.index]), error=item.error, error_code=item.error_code
                )
                for item in items
            ]
            write_index(out, rows + [asdict(row) for row in produced], methods, version)
            rows += [asdict(row) for row in produced]
            unindexed.clear()
        except BaseException:  # Ctrl-C included: the index and the figures must agree
            if unindexed:
                for figure in unindexed:
                    figure.unlink(missing_ok=True)
                write_index(out, rows, methods, version)
            raise
        yield from produced
        if progress:
            progress(len(items))
