"""``skinxai predict``: a diagnosis per image, printed, or written by an archive run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from skinxai.cli.app import console, errors
from skinxai.cli.archive import print_rows, run_archive_or_fail
from skinxai.cli.common import (
    DevicesOption,
    InputsArgument,
    ModelOption,
    NodesOption,
    PrecisionOption,
    ResumeOption,
    WorkersOption,
    fail,
    image_files,
    load_classifier,
    note_if_untrained,
    output_folder,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
BatchOption = Annotated[int, typer.Option(min=1, max=1024)]
OutOption = Annotated[
    Path | None,
    typer.Option(help="Folder for predictions.csv: an archive run (resumable, parallel)."),
]


def predict(
    paths: InputsArgument,
    model: ModelOption = None,
    as_json: JsonOption = False,
    batch_size: BatchOption = 32,
    precision: PrecisionOption = "auto",
    out: OutOption = None,
    devices: DevicesOption = 1,
    num_nodes: NodesOption = 1,
    workers: WorkersOption = 0,
    resume: ResumeOption = False,
) -> None:
    """Diagnose each image: label and P(malignant). Exits 1 if any input failed."""
    if out is None and (devices > 1 or num_nodes > 1 or resume):
        raise fail("--devices, --num-nodes and --resume need --out (the folder of the run)")
    files = image_files(paths)
    if out is not None:
        output_folder(out)
    classifier = load_classifier(model, precision)
    note_if_untrained(classifier)
    if out is None:
        from skinxai.predict import predict_files

        rows = [row.to_dict() for row in predict_files(classifier, files, batch_size=batch_size)]
    else:  # an archive run: Lightning, imported only for one
        from skinxai.archive import ArchiveOptions, PredictTask

        options = ArchiveOptions(devices, num_nodes, "auto", batch_size, workers, resume, precision)
        result = run_archive_or_fail(classifier, PredictTask(), files, out, options)
        if result is None:
            return
        rows = result.rows
    _report(rows, classifier, as_json, out)


def _report(rows: list[dict], classifier, as_json: bool, out: Path | None) -> None:
    """Print the rows (a table or JSON), name the file written; exit 1 if any input failed."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        print_rows(
            f"skinxai predict — model {classifier.config.version} ({classifier.precision})",
            [(row["file"], row["decision"], row["p_malignant"], row["error"]) for row in rows],
        )
    if out is not None:
        console.print(f"wrote {out / 'predictions.csv'} ({len(rows)} images)", highlight=False)
    failed = sum(row["error"] is not None for row in rows)
    if failed:
        errors.print(f"{failed} of {len(rows)} inputs failed", highlight=False)
        raise typer.Exit(1)
