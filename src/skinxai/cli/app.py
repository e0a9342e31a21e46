"""The ``skinxai`` Typer application and the consoles every command prints on."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

app = typer.Typer(
    help="Skin-lesion diagnosis (benign / malignant) with CAM-family explanations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Off a terminal (a pipe, a log, make), rich would fold tables at 80 columns: paths break.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True)
