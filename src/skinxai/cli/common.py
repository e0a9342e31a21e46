"""What the commands share: one-line failures, output folders, progress bars, loading the
model, expanding the inputs, and the options that several commands take."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from skinxai.cli.app import errors

if TYPE_CHECKING:
    from skinxai.model import SkinClassifier

ModelOption = Annotated[
    Path | None, typer.Option("--model", help="Model weights (.safetensors); default: shipped.")
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="auto (bf16 where this CPU or GPU computes it natively), 32 or bf16: what the "
        "backbone computes in; maps, head and calibration stay fp32.",
    ),
]
InputsArgument = Annotated[
    list[Path],
    typer.Argument(help="Image files, folders of images, list:FILE.csv or a set name."),
]
DevicesOption = Annotated[
    int,
    typer.Option(
        "--devices",
        min=1,
        max=64,
        help="Processes on this machine, one per GPU (or CPU processes on gloo); each takes a "
        "share of the inputs.",
    ),
]
NodesOption = Annotated[
    int,
    typer.Option(
        "--num-nodes",
        min=1,
        max=1024,
        help="Machines in the run (Lightning's MASTER_ADDR, MASTER_PORT, NODE_RANK); they "
        "must share --out.",
    ),
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Skip the images a stopped run in --out finished.")
]
WorkersOption = Annotated[int, typer.Option(min=0, max=32, help="DataLoader workers.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one readable error line and return the exit to raise."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def output_folder(out: Path) -> Path:
    """Create ``out`` if needed and check that it can be written, or fail with one line."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot create the output folder '{out}': {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise fail(f"the output folder '{out}' is not writable")
    return out


def progress_bar(label: str, transient: bool = False) -> Progress:
    """A progress bar on stderr: label, bar, done/total, time elapsed."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=transient,
    )


def load_classifier(model_path: Path | None, precision: str = "auto") -> SkinClassifier:
    """The model file given, or the shipped one; a damaged file is one error line."""
    from skinxai.model import load_default_model, load_model_file

    try:
        if model_path:
            return load_model_file(model_path, precision=precision)
        return load_default_model(precision=precision)
    except ValueError as exc:  # a ModelFileError, or a precision that is not auto, 32 or bf16
        raise fail(str(exc)) from None


def note_if_untrained(classifier: SkinClassifier) -> None:
    """Warn that an ImageNet-only head gives probabilities that are not a diagnosis."""
    if not classifier.config.trained:
        errors.print(
            "[yellow]note:[/] the model's head is untrained (ImageNet backbone only); "
            "its probabilities are not a diagnosis.",
            highlight=False,
        )


def image_files(paths: list[Path]) -> list[Path]:
    """Files as given and the images inside folders; a readable error if there are none."""
    from skinxai.predict import expand_inputs, names_a_set

    missing = [p for p in paths if not p.exists() and not p.is_symlink() and not names_a_set(p)]
    if missing:
        raise fail(f"'{missing[0]}' does not exist")
    try:
        files = expand_inputs(paths)
    except FileNotFoundError as exc:
        raise fail(f"'{exc.filename}' does not exist" if exc.filename else str(exc)) from None
    except (ValueError, KeyError, OSError) as exc:
        raise fail(f"cannot read the inputs: {exc}") from None
    if not files:
        raise fail("no image files found in the given paths")
    return files
