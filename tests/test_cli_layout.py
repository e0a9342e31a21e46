"""The CLI is a package of small modules, one per command or family: every command short."""

from __future__ import annotations

import inspect
from pathlib import Path

import typer.main

import skinxai
from skinxai.cli import app

LONGEST_COMMAND_LINES = 50


def _commands() -> dict[str, object]:
    """Every command's name (``concepts fit`` for a subcommand) and its function."""
    group = typer.main.get_command(app)
    found = {}
    for name, command in group.commands.items():
        for sub_name, sub in getattr(command, "commands", {}).items():
            found[f"{name} {sub_name}"] = sub.callback
        if command.callback is not None and not getattr(command, "commands", None):
            found[name] = command.callback
    return found


def test_every_command_function_is_at_most_fifty_lines() -> None:
    lengths = {name: len(inspect.getsourcelines(f)[0]) for name, f in _commands().items()}
    too_long = {name: n for name, n in lengths.items() if n > LONGEST_COMMAND_LINES}
    assert not too_long, f"command functions past {LONGEST_COMMAND_LINES} lines: {too_long}"


def test_every_command_lives_in_the_cli_package() -> None:
    package = Path(skinxai.__file__).parent
    assert not (package / "cli.py").exists()
    commands = _commands()
    assert set(commands) == {
        "predict",
        "explain",
        "audit",
        "curate",
        "train",
        "interpolate",
        "evaluate",
        "explain-eval",
        "calibrate",
        "serve",
        "export",
        "concepts fit",
        "split-ham10000",
    }
    for function in commands.values():
        assert function.__module__.startswith("skinxai.cli."), function.__module__
