"""What predict and explain share: an archive run with one-line errors, and the table of
diagnoses they print."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from skinxai.cli.app import console, errors
from skinxai.cli.common import fail
from skinxai.cli.signals import interrupted_exit_code

TABLE_ROWS = 100  # a run over an archive prints its first rows; the files hold them all


def run_archive_or_fail(classifier, task, files: list[Path], out: Path, options):
    """``archive.run_archive`` with one-line errors; None on every rank but the first. An
    interrupted run exits 130 / 143 once its outputs list what it finished."""
    from skinxai.archive import run_archive
    from skinxai.model_config import ModelOutputError

    try:
        result = run_archive(classifier, task, files, out, options, progress_console=errors)
    except ValueError as exc:  # --resume on another run, an unknown layer or target
        raise fail(str(exc)) from None
    except ModelOutputError as exc:
        raise fail(str(exc), code=1) from None
    if result is not None and result.interrupted:
        errors.print(
            f"interrupted: {len(result.rows)} of {len(files)} images done; the files in {out} "
            "list exactly those (run again with --resume to finish)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(interrupted_exit_code())
    return result


def diagnosis_table(title: str, rows: list[tuple], extra_column: str | None = None) -> Table:
    """One row per input: (file, decision, P(malignant), error[, extra]); errors in red."""
    table = Table(title=title)
    table.add_column("file", overflow="fold")
    table.add_column("decision")
    table.add_column("P(malignant)", justify="right")
    if extra_column:
        table.add_column(extra_column, overflow="fold")
    for file, label, p_malignant, error, *extra in rows:
        if error:
            table.add_row(file, "[red]error[/]", f"[red]{error}[/]", *([""] if extra else []))
        else:
            colour = {"malignant": "red", "benign": "green"}.get(label, "yellow")
            table.add_row(file, f"[{colour}]{label}[/]", f"{p_malignant:.3f}", *extra)
    return table


def print_rows(title: str, rows: list[tuple], extra_column: str | None = None) -> None:
    """The first TABLE_ROWS rows as a table, and how many more there are."""
    console.print(diagnosis_table(title, rows[:TABLE_ROWS], extra_column))
    if len(rows) > TABLE_ROWS:
        console.print(f"... and {len(rows) - TABLE_ROWS} more", highlight=False)
