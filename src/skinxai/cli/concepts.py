"""``skinxai concepts fit``: the 7-point checklist readers, fitted and stored beside a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from skinxai.cli.app import console
from skinxai.cli.common import load_classifier

concepts_app = typer.Typer(
    help="The 7-point checklist read from the network (derm7pt concept readers).",
    no_args_is_help=True,
)


@concepts_app.command("fit")
def concepts_fit(
    model: Annotated[
        Path, typer.Option("--model", help="Model weights (.safetensors) to fit readers for.")
    ],
) -> None:
    """Fit the seven checklist readers on derm7pt concept-fit and store them beside the model
    (``<stem>.concepts.safetensors`` and a ``concepts`` section in its JSON)."""
    from skinxai.concepts.fit import fit_model_readers
    from skinxai.concepts.store import attach_readers

    classifier = load_classifier(model, "32")
    readers, report = fit_model_readers(classifier)
    weights = model.with_suffix(".safetensors")
    path = attach_readers(weights, readers, report)
    table = Table(title=f"concept readers on {readers.layer}, 5-fold CV on concept-fit")
    for column in ("criterion", "positives", "CV AUROC"):
        table.add_column(column, justify="left" if column == "criterion" else "right")
    for name in readers.names:
        auroc = report["fit_cv_auroc"][name][readers.layer]
        table.add_row(name, str(report["positives"][name]), f"{auroc:.3f}")
    console.print(table)
    console.print(f"wrote {path} and the concepts section of {weights.with_suffix('.json')}")
