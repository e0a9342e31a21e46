"""The ``skinxai`` command: one module per command or family, thin over the library.

This module registers the commands on ``app`` in the order ``--help`` lists them; ``main``
is the console entry point (``skinxai = skinxai.cli:main``), and ``python -m skinxai.cli``
runs the same.
"""

from __future__ import annotations

import sys

from skinxai.cli.app import app, errors
from skinxai.cli.calibrate import calibrate
from skinxai.cli.concepts import concepts_app
from skinxai.cli.data import audit, curate, split_ham10000
from skinxai.cli.evaluate import evaluate, explain_eval
from skinxai.cli.explain import explain
from skinxai.cli.export import export
from skinxai.cli.interpolate import interpolate
from skinxai.cli.predict import predict
from skinxai.cli.serve import serve
from skinxai.cli.signals import interrupt_on_signals, interrupted_exit_code
from skinxai.cli.train import train

app.command()(predict)
app.command()(explain)
app.command()(audit)
app.command()(curate)
app.command()(train)
app.command()(interpolate)
app.command()(evaluate)
app.command("explain-eval")(explain_eval)
app.command()(calibrate)
app.command()(serve)
app.command()(export)
app.add_typer(concepts_app, name="concepts")
app.command("split-ham10000")(split_ham10000)


def main() -> None:
    """The console entry point: user-facing failures end in one line, never a traceback."""
    interrupt_on_signals()
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted", highlight=False)
        sys.exit(interrupted_exit_code())
    except OSError as exc:  # a full disk, a file removed mid-run, a permission changed
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


__all__ = ["app", "main"]
