"""The ``skinxai`` command: predict, explain, evaluate, train, curate, audit, serve."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    help="Skin-lesion diagnosis (benign / malignant) with CAM-family explanations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Off a terminal (a pipe, a log, make), rich would fold tables at 80 columns: paths break.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True)


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


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one readable error line and return the exit to raise."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


_signals_received: list[int] = []


def _interrupt_on_signals() -> None:
    """SIGTERM ends a command as Ctrl-C does (a KeyboardInterrupt, so every command cleans up
    the same way); a second signal during that clean-up is ignored, so it cannot break it off
    with a traceback; a third ends the process at once."""

    def on_signal(signum: int, _frame) -> None:
        _signals_received.append(signum)
        if len(_signals_received) == 1:
            raise KeyboardInterrupt
        if len(_signals_received) >= 3:
            os._exit(128 + _signals_received[0])

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)


def interrupted_exit_code() -> int:
    """128 + the signal that stopped the command: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + (_signals_received[0] if _signals_received else signal.SIGINT)


def _output_folder(out: Path) -> Path:
    """Create ``out`` if needed and check that it can be written, or fail with one line."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot create the output folder '{out}': {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise fail(f"the output folder '{out}' is not writable")
    return out


def _progress(label: str, transient: bool = False) -> Progress:
    """A progress bar on stderr: label, bar, done/total, time elapsed."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=transient,
    )


def _load(model_path: Path | None, precision: str = "auto"):
    from skinxai.model import load_default_model, load_model_file

    try:
        if model_path:
            return load_model_file(model_path, precision=precision)
        return load_default_model(precision=precision)
    except ValueError as exc:  # a ModelFileError, or a precision that is not auto, 32 or bf16
        raise fail(str(exc)) from None


def _diagnosis_table(
    title: str,
    rows: list[tuple],
    extra_column: str | None = None,
) -> Table:
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


def _image_files(paths: list[Path]) -> list[Path]:
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
TABLE_ROWS = 100  # a run over an archive prints its first rows; the files hold them all


def _note_if_untrained(classifier) -> None:
    if not classifier.config.trained:
        errors.print(
            "[yellow]note:[/] the model's head is untrained (ImageNet backbone only); "
            "its probabilities are not a diagnosis.",
            highlight=False,
        )


def _run_archive(classifier, task, files: list[Path], out: Path, options):
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


def _print_rows(title: str, rows: list[tuple], extra_column: str | None = None) -> None:
    console.print(_diagnosis_table(title, rows[:TABLE_ROWS], extra_column))
    if len(rows) > TABLE_ROWS:
        console.print(f"... and {len(rows) - TABLE_ROWS} more", highlight=False)


@app.command()
def predict(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Image files, folders of images, list:FILE.csv or a set name."),
    ],
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=1024)] = 32,
    precision: PrecisionOption = "auto",
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for predictions.csv: an archive run (resumable, parallel)."),
    ] = None,
    devices: DevicesOption = 1,
    num_nodes: NodesOption = 1,
    workers: Annotated[int, typer.Option(min=0, max=32, help="DataLoader workers.")] = 0,
    resume: ResumeOption = False,
) -> None:
    """Diagnose each image: label and P(malignant). Exits 1 if any input failed."""
    from skinxai.predict import predict_files

    if out is None and (devices > 1 or num_nodes > 1 or resume):
        raise fail("--devices, --num-nodes and --resume need --out (the folder of the run)")
    files = _image_files(paths)
    if out is not None:
        _output_folder(out)
    classifier = _load(model, precision)
    _note_if_untrained(classifier)
    if out is None:
        rows = [row.to_dict() for row in predict_files(classifier, files, batch_size=batch_size)]
    else:  # an archive run: Lightning, imported only for one
        from skinxai.archive import ArchiveOptions, PredictTask

        options = ArchiveOptions(devices, num_nodes, "auto", batch_size, workers, resume, precision)
        result = _run_archive(classifier, PredictTask(), files, out, options)
        if result is None:
            return
        rows = result.rows
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        _print_rows(
            f"skinxai predict — model {classifier.config.version} ({classifier.precision})",
            [(row["file"], row["decision"], row["p_malignant"], row["error"]) for row in rows],
        )
    if out is not None:
        console.print(f"wrote {out / 'predictions.csv'} ({len(rows)} images)", highlight=False)
    failed = sum(row["error"] is not None for row in rows)
    if failed:
        errors.print(f"{failed} of {len(rows)} inputs failed", highlight=False)
        raise typer.Exit(1)


def _explain_methods(method: str | None, layer: str | None) -> list[str]:
    """The methods asked for, or a one-line error for an unknown one or CAM at a layer."""
    from skinxai.explain import METHODS

    if method is None:
        method = "gradcam" if layer else "cam,gradcam"
    methods = [m.strip().lower() for m in method.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise fail(
            f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(METHODS)}"
        )
    if layer and "cam" in methods:
        raise fail(
            "cam uses the classifier weights, so it needs the last feature map: leave out "
            "--layer, or choose gradient methods (gradcam, gradcam++, hirescam, ...)"
        )
    return methods


@app.command()
def explain(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Image files, folders of images, list:FILE.csv or a set name."),
    ],
    method: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated methods: cam,gradcam,gradcam++,hirescam,... "
            "(default: cam,gradcam; with --layer: gradcam, as CAM needs the last feature map)."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(help="Class to explain (benign/malignant/0/1); default: predicted."),
    ] = None,
    layer: Annotated[
        str | None, typer.Option(help="Named layer (default: last feature map).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for figures and explanations.json.")] = Path(
        "out/explain"
    ),
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=512)] = 16,
    workers: Annotated[int, typer.Option(min=0, max=32, help="DataLoader workers.")] = 0,
    opacity: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.4,
    precision: PrecisionOption = "auto",
    devices: DevicesOption = 1,
    num_nodes: NodesOption = 1,
    resume: ResumeOption = False,
    concepts: Annotated[
        bool,
        typer.Option(
            "--concepts",
            help="Add the network's 7-point checklist reading (a map per criterion found).",
        ),
    ] = False,
) -> None:
    """Explain each image with CAM-family maps: a three-panel PNG per image + an index."""
    from skinxai.archive import ArchiveOptions, ExplainTask
    from skinxai.explain.core import parse_target

    methods = _explain_methods(method, layer)
    files = _image_files(paths)
    _output_folder(out)
    classifier = _load(model, precision)
    try:
        chosen_target = parse_target(target, classifier.config.class_names)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if concepts and classifier.concept_readers is None:
        raise fail(
            "this model has no 7-point checklist readers; fit them with "
            "`skinxai concepts fit --model FILE`"
        )
    task = ExplainTask(tuple(methods), chosen_target, layer, opacity, concepts)
    options = ArchiveOptions(devices, num_nodes, "auto", batch_size, workers, resume, precision)
    result = _run_archive(classifier, task, files, out, options)
    if result is None:
        return
    rows = result.rows
    failed = sum(r["error"] is not None for r in rows)
    table_rows = [
        (Path(r["file"]).name, r["decision"], r["probability"], r["error"], f"{out}/{r['figure']}")
        for r in rows
    ]
    _print_rows(
        f"skinxai explain — model {classifier.config.version} ({classifier.precision})",
        table_rows,
        extra_column="figure",
    )
    if failed:
        errors.print(
            f"{failed} of {len(rows)} inputs failed (see {out / 'explanations.json'})",
            highlight=False,
        )
    resumed = f" ({result.resumed_from} by the earlier run)" if result.resumed_from else ""
    console.print(
        f"explained {len(rows) - failed} images{resumed} with {', '.join(methods)} in "
        f"{result.world_size} process(es): figures, explanations.json and a summary page in "
        f"{out}/ (open {out / 'index.html'})",
        highlight=False,
        soft_wrap=True,
    )
    if failed:
        raise typer.Exit(1)


@app.command()
def audit(
    dir_a: Annotated[Path, typer.Argument(help="First image set (searched recursively).")],
    dir_b: Annotated[Path, typer.Argument(help="Second image set (searched recursively).")],
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Thumbnail correlation threshold.")
    ] = 0.995,
    show: Annotated[int, typer.Option(min=0, help="How many pairs to print.")] = 20,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Write every pair to this CSV file.")
    ] = None,
) -> None:
    """Find near-duplicate images across two sets (16x16 grey thumbnail correlation)."""
    from skinxai.data.audit import find_near_duplicates
    from skinxai.data.paths import list_images

    try:
        paths_a, paths_b = list_images(dir_a), list_images(dir_b)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    if csv_out:
        _output_folder(csv_out.parent)
    with _progress("thumbnails", transient=True) as progress:
        task = progress.add_task("thumbnails", total=len(paths_a) + len(paths_b))
        try:
            result = find_near_duplicates(
                paths_a, paths_b, threshold, lambda n: progress.advance(task, n)
            )
        except OSError as exc:
            raise fail(f"cannot read an image: {exc}") from None
    summary = Table(title=f"near-duplicates (correlation >= {threshold})")
    summary.add_column("")
    summary.add_column("A", justify="right")
    summary.add_column("B", justify="right")
    summary.add_row("images", str(result.n_a), str(result.n_b))
    summary.add_row(
        "with a near-duplicate in the other set",
        str(len(result.images_a_with_duplicate)),
        str(len(result.images_b_with_duplicate)),
    )
    for folder in sorted({p.parent for p in result.images_a_with_duplicate}):
        count = sum(p.parent == folder for p in result.images_a_with_duplicate)
        summary.add_row(f"  of which in A:{folder}", str(count), "")
    summary.add_row("pairs", str(len(result.pairs)), "")
    console.print(summary)
    for pair in result.pairs[:show]:
        console.print(f"{pair.path_a}\t{pair.path_b}\t{pair.correlation:.4f}", highlight=False)
    if len(result.pairs) > show:
        console.print(f"... {len(result.pairs) - show} more pairs (use --show or --csv)")
    if csv_out:
        with csv_out.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path_a", "path_b", "correlation"])
            for pair in result.pairs:
                writer.writerow([pair.path_a, pair.path_b, f"{pair.correlation:.6f}"])
        console.print(f"wrote {len(result.pairs)} pairs to {csv_out}")


@app.command()
def curate(
    train_sets: Annotated[
        list[str],
        typer.Option("--train", help="Training set spec (repeatable), in priority order."),
    ],
    exclude: Annotated[
        list[str],
        typer.Option("--exclude", help="Evaluation set spec whose near-duplicates are dropped."),
    ],
    out: Annotated[Path, typer.Option(help="CSV image list to write (use as list:FILE).")],
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.995,
    keep_repeats: Annotated[
        bool, typer.Option(help="Keep repeated photos inside the training set.")
    ] = False,
) -> None:
    """Write a leakage-free training list: no near-duplicate of any evaluation image."""
    from skinxai.data.curation import curate_training_set
    from skinxai.data.specs import resolve_specs, write_image_list

    try:
        train_samples = resolve_specs(train_sets)
        held_out = [s.path for s in resolve_specs(exclude)]
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    _output_folder(out.parent)
    report = curate_training_set(train_samples, held_out, threshold, drop_repeats=not keep_repeats)
    write_image_list(report.kept, out)
    details = out.with_suffix(".report.json")
    details.write_text(
        json.dumps(
            {
                "train": train_sets,
                "exclude": exclude,
                "threshold": threshold,
                **report.summary(),
                "kept_malignant": sum(s.label for s in report.kept),
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {out} and {details}: {report.summary()}")


@app.command()
def train(
    config: Annotated[Path | None, typer.Option(help="YAML file of training options.")] = None,
    train_sets: Annotated[
        list[str] | None,
        typer.Option(
            "--train", help="Training set spec (repeatable): fanconic:train, list:F, DIR."
        ),
    ] = None,
    val_sets: Annotated[
        list[str] | None, typer.Option("--val", help="Validation set spec (repeatable).")
    ] = None,
    out: Annotated[str | None, typer.Option(help="Run folder.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
    batch_size: Annotated[int | None, typer.Option(min=1)] = None,
    lr: Annotated[float | None, typer.Option()] = None,
    label_smoothing: Annotated[float | None, typer.Option(min=0.0, max=0.5)] = None,
    input_size: Annotated[int | None, typer.Option(min=32, max=1024)] = None,
    limit: Annotated[int | None, typer.Option(help="Train on a stratified subset.")] = None,
    workers: Annotated[int | None, typer.Option(help="DataLoader workers (-1: auto).")] = None,
    accelerator: Annotated[str | None, typer.Option(help="auto, cpu or gpu.")] = None,
    devices: Annotated[str | None, typer.Option(help="auto, a count, or ids like 0,1.")] = None,
    num_nodes: Annotated[int | None, typer.Option(min=1)] = None,
    precision: Annotated[str | None, typer.Option(help="auto, 32-true, bf16-mixed...")] = None,
    max_time: Annotated[str | None, typer.Option(help="Wall-clock limit DD:HH:MM:SS.")] = None,
    checkpoint_every_n_steps: Annotated[int | None, typer.Option(min=1)] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    version: Annotated[str | None, typer.Option(help="Model version string.")] = None,
    pretrained: Annotated[
        bool | None, typer.Option("--pretrained/--no-pretrained", help="ImageNet start.")
    ] = None,
    init: Annotated[
        str | None, typer.Option(help="Start from this model file's weights (.safetensors).")
    ] = None,
    augmentation: Annotated[
        str | None, typer.Option(help="study, or acquisition (+ JPEG, light, rim, zoom).")
    ] = None,
    colour_constancy_p: Annotated[
        float | None, typer.Option(help="Shades of Gray norm inside the model (e.g. 6).")
    ] = None,
    wide_circle_p: Annotated[
        float | None,
        typer.Option(help="Share of images given melanoma10k's wide black circle (both classes)."),
    ] = None,
    canonical_resolution: Annotated[
        int | None, typer.Option(help="Reduce every input to N px a side inside the model.")
    ] = None,
    rim_radius: Annotated[
        float | None, typer.Option(help="Black outside this centred circle (share of half side).")
    ] = None,
    symmetry: Annotated[
        str | None, typer.Option(help="none, or d4: the saved model averages 8 turned views.")
    ] = None,
    freeze_blocks: Annotated[
        int | None, typer.Option(min=0, help="Keep the stem and the first N blocks fixed.")
    ] = None,
    mask_folders: Annotated[
        list[str] | None,
        typer.Option("--mask-folder", help="Lesion masks named after the images (repeatable)."),
    ] = None,
    mask_penalty: Annotated[
        float | None, typer.Option(min=0.0, help="Weight of the evidence outside the lesion.")
    ] = None,
    monitor: Annotated[
        str | None, typer.Option(help="val_loss, or val_worst_auroc (each --val a source).")
    ] = None,
    ema_decay: Annotated[
        float | None, typer.Option(help="Keep, score and export a moving average of the weights.")
    ] = None,
    balance: Annotated[
        str | None,
        typer.Option(help="loss (by class), source (by class within each data set), sampler."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Resume from OUT/checkpoints/last.ckpt.")] = False,
) -> None:
    """Train a classifier (Lightning); writes checkpoints, history.csv, curves.png, model."""
    options = {name: value for name, value in locals().items() if name not in ("config", "resume")}
    _train(config, options, resume)


# The train command's options that TrainConfig names otherwise (the rest share their names).
_TRAIN_OPTION_KEYS = {"train_sets": "train", "val_sets": "val"}


def _train(config: Path | None, options: dict, resume: bool) -> None:
    """The YAML config (or the defaults) updated by the options given, then one run of fit;
    a bad option or data set is one error line."""
    from skinxai.io import ImageInputError
    from skinxai.training import TrainConfig, fit

    changes = {
        _TRAIN_OPTION_KEYS.get(k, k): (v or None) if isinstance(v, list) else v
        for k, v in options.items()
    }
    try:
        base = TrainConfig.from_yaml(config) if config else TrainConfig()
        settings = base.updated(changes)
    except (OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    _output_folder(Path(settings.out))
    try:
        model_path = fit(settings, resume=resume)
    except (FileNotFoundError, ImageInputError, ValueError) as exc:  # ModelFileError too
        raise fail(str(exc)) from None
    console.print(f"model written to {model_path}")


@app.command()
def evaluate(
    data: Annotated[str, typer.Option(help="Folder-per-class DIR, or ham10000:test etc.")],
    out: Annotated[Path, typer.Option(help="Folder for the report files.")],
    model: ModelOption = None,
    exclude_near_duplicates_of: Annotated[
        list[str] | None,
        typer.Option(help="Drop test images with a near-duplicate in this set (repeatable)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1024)] = 64,
    precision: PrecisionOption = "auto",
) -> None:
    """Score a model on a labelled set: metrics.json, report.md, confusion matrix, ROC, PR."""
    from skinxai.evaluation import evaluate as run_evaluation
    from skinxai.io import ImageInputError
    from skinxai.metrics.classification import REPORTED_METRICS

    _output_folder(out)
    classifier = _load(model, precision)
    try:
        result = run_evaluation(
            classifier, data, out, exclude_near_duplicates_of or [], batch_size=batch_size
        )
    except (FileNotFoundError, ValueError, ImageInputError) as exc:
        raise fail(str(exc)) from None
    metrics = result.metrics
    if exclude_near_duplicates_of:
        console.print(
            f"dropped {result.dropped} near-duplicates of {', '.join(exclude_near_duplicates_of)}"
        )
    table = Table(title=f"{data}: {metrics['n']} images, model {classifier.config.version}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in REPORTED_METRICS:
        value = metrics[key]
        table.add_row(key, "n/a" if value is None else f"{value:.4f}")
    for key, value in metrics["calibration"].items():
        table.add_row(key, f"{value:.4f}")
    if metrics["uncertain_band"]:
        for key in ("coverage", "covered_accuracy"):
            table.add_row(key, f"{metrics['uncertain_band'][key]:.4f}")
    console.print(table)
    console.print(f"report written to {out}")
    if result.failed:
        errors.print(
            f"{len(result.failed)} files are not usable images and were left out, e.g. "
            f"{result.failed[0]['error']} (all listed in {out / 'metrics.json'})",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


@app.command("explain-eval")
def explain_eval(
    data: Annotated[str, typer.Option(help="ham10000:test, isic2017:val, or a folder of images.")],
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, report.md and plots.")],
    methods: Annotated[
        str, typer.Option(help="Comma-separated methods (scorecam runs on the subset).")
    ] = "cam,gradcam,gradcam++,layercam,hirescam,xgradcam,eigencam",
    masks: Annotated[
        Path | None, typer.Option(help="Folder of lesion masks named like the images' stems.")
    ] = None,
    faithfulness_images: Annotated[
        int, typer.Option(min=0, help="Seeded subset for the perturbation metrics (0: none).")
    ] = 32,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N images.")] = None,
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=256)] = 32,
    precision: PrecisionOption = "auto",
) -> None:
    """Measure explanations: localisation against lesion masks, faithfulness, sanity checks,
    each method beside a centred Gaussian, a uniform, a random and a Sobel-edge map."""
    from skinxai.explanation_quality.evaluate import explain_eval as run
    from skinxai.io import ImageInputError

    _output_folder(out)
    classifier = _load(model, precision)
    with _progress("scoring explanations") as progress:
        task = progress.add_task("explain-eval", total=None)
        try:
            summary, _ = run(
                classifier,
                data,
                out,
                methods.split(","),
                masks,
                faithfulness_images,
                limit,
                batch_size,
                lambda n: progress.advance(task, n),
                lambda images: progress.update(task, total=len(images.samples)),
            )
        except (FileNotFoundError, ValueError, ImageInputError) as exc:
            raise fail(str(exc)) from None
    console.print(_explain_eval_table(summary))
    console.print(f"report written to {out / 'report.md'} (metrics.json, plots, worst cases)")
    if summary["n_failed"]:
        errors.print(
            f"{summary['n_failed']} images could not be used (listed in {out / 'metrics.json'})",
            highlight=False,
        )
        raise typer.Exit(1)


def _explain_eval_table(summary: dict) -> Table:
    """The headline numbers for the predicted class, one row per method and baseline; the
    sanity column is the rank correlation after the whole randomisation cascade."""
    from skinxai.metrics.sanity import CASCADE

    columns = ("pointing_game", "energy_inside", "best_iou", "deletion_auc", "insertion_auc")
    table = Table(title=f"{summary['data']}: {summary['n_images']} images, predicted class")
    table.add_column("method")
    for column in (*columns, "sanity rho (cascade)"):
        table.add_column(column, justify="right")
    for name, metrics in summary["targets"]["predicted"]["methods"].items():
        values = [metrics.get(c, {}).get("mean") for c in columns]
        sanity = metrics.get("sanity")
        rho = sanity["spearman"][len(CASCADE) - 1]["mean"] if sanity else None
        cells = ["n/a" if v is None else f"{v:.3f}" for v in (*values, rho)]
        table.add_row(name, *cells)
    return table


@app.command()
def calibrate(
    val_sets: Annotated[
        list[str], typer.Option("--val", help="Validation set spec (repeatable): ham10000:val.")
    ],
    out: Annotated[Path, typer.Option(help="Model file to write (.safetensors + .json).")],
    model: ModelOption = None,
    operating_point: Annotated[
        str,
        typer.Option(help="The threshold's goal on validation: sensitivity=X or specificity=X."),
    ] = "sensitivity=0.90",
    goal_confidence: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.999,
            help="Confidence that the goal holds beyond these images: the threshold meets it at "
            "this lower bound of a bootstrap over lesions (0: on the validation images alone).",
        ),
    ] = 0.95,
    target_accuracy: Annotated[
        float,
        typer.Option(min=0.5, max=1.0, help="Accuracy the confident answers must reach."),
    ] = 0.95,
    gate_train: Annotated[
        list[str] | None,
        typer.Option(
            help="Fit the 'not a dermoscopic image' gate on these training sets (repeatable); "
            "without it the model keeps its gate."
        ),
    ] = None,
    gate_val: Annotated[
        list[str] | None,
        typer.Option(help="More validation sets (repeatable) that set the gate's limit."),
    ] = None,
    gate_limit: Annotated[
        int, typer.Option(min=100, help="Training images (stratified subset) for the gate.")
    ] = 3000,
    gate_block: Annotated[
        int,
        typer.Option(min=-1, help="Backbone block the gate reads (-1: the last feature map)."),
    ] = 4,
    goal_per_source: Annotated[
        bool,
        typer.Option(
            "--goal-per-source/--goal-on-pool",
            help="The threshold's goal holds on each --val set (the strictest threshold), "
            "not only on their pool.",
        ),
    ] = False,
    precision: PrecisionOption = "auto",
) -> None:
    """Fit probability scaling, threshold and "uncertain" band on validation data; write the
    model."""
    from skinxai.calibrate import calibrated_config
    from skinxai.io import ImageInputError
    from skinxai.metrics.calibration import parse_operating_point
    from skinxai.model import save_model

    held_out = [v for v in [*val_sets, *(gate_val or [])] if v.endswith(":test") or "derm7pt" in v]
    if held_out:
        raise fail(f"calibrate on validation data only, not on {', '.join(held_out)}")
    try:
        goal, value = parse_operating_point(operating_point)
    except ValueError as exc:
        raise fail(str(exc)) from None
    _output_folder(out.parent)
    classifier = _load(model, precision)
    try:
        classifier.config, classifier.gate = calibrated_config(
            classifier,
            val_sets,
            goal,
            value,
            target_accuracy,
            goal_confidence=goal_confidence or None,
            gate_train_specs=gate_train or (),
            gate_val_specs=gate_val or (),
            gate_limit=gate_limit,
            gate_block=None if gate_block == -1 else gate_block,
            goal_per_source=goal_per_source,
        )
    except (FileNotFoundError, ValueError, ImageInputError) as exc:
        raise fail(str(exc)) from None
    written = save_model(classifier, out)
    console.print(_calibration_table(classifier.config, val_sets))
    console.print(f"wrote {written} and {written.with_suffix('.json')}")


def _goal_text(point: dict) -> str:
    """``sensitivity >= 0.9 with 95% confidence over lesions`` (or without the confidence)."""
    text = f"{point['goal']} >= {point['value']:g}"
    if point.get("confidence"):
        text += f" with {point['confidence']:.0%} confidence over lesions"
    return text


def _calibration_table(config, val_sets: list[str]) -> Table:
    """What `calibrate` fitted, with the validation numbers before and after."""
    report, point = config.calibration, config.operating_point
    table = Table(title=f"calibrated on {', '.join(val_sets)} ({report['n']} images)")
    table.add_column("")
    table.add_column("value", justify="right")
    low, high = config.uncertain_band
    rows = [
        ("scaling", report["method"]),
        (
            "temperature / bias / beta shape",
            f"{config.temperature:.3f} / {config.bias:+.3f} / {config.beta_shape:+.3f}",
        ),
        (f"threshold ({_goal_text(point)})", f"{config.threshold:.4f}"),
        (
            "sensitivity / specificity there",
            f"{point['sensitivity']:.3f} / {point['specificity']:.3f}",
        ),
        ("uncertain band [low, high)", f"[{low:.4f}, {high:.4f})"),
        (
            "coverage / accuracy of the answers",
            f"{report['coverage']:.3f} / {report['covered_accuracy']:.3f}",
        ),
        *(
            (f"{key} before -> after", f"{report['before'][key]:.4f} -> {report['after'][key]:.4f}")
            for key in ("ece_15_bins", "brier", "nll")
        ),
    ]
    for source, rates in point.get("per_source", {}).items():
        rows.append(
            (
                f"  {source} (n={rates['n']}): sensitivity / specificity",
                f"{rates['sensitivity']:.3f} / {rates['specificity']:.3f}",
            )
        )
    if config.ood_gate:
        gate = config.ood_gate
        rows.append(
            (
                "gate: validation images refused",
                f"{gate['validation_rejection_rate']:.4f} (limit {gate['limit']:.1f})",
            )
        )
    for row in rows:
        table.add_row(*row)
    return table


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    model: ModelOption = None,
    max_upload_mb: Annotated[int, typer.Option(min=1, max=200)] = 20,
    queue: Annotated[int, typer.Option(min=1, max=256, help="Requests waiting or running.")] = 3,
    workers: Annotated[int, typer.Option(min=1, max=8, help="Inference threads.")] = 1,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated Host header values to serve (example.org, *.example.org, *); "
            "default: the bound address and localhost (any host when bound to 0.0.0.0)."
        ),
    ] = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Start the web page (/) and JSON API (/api/v1, docs at /docs)."""
    import uvicorn

    from skinxai.serve import create_app
    from skinxai.serve.guards import default_allowed_hosts

    if model is not None and not model.is_file():
        raise fail(f"model file '{model}' does not exist")
    hosts = (
        [h.strip() for h in allowed_hosts.split(",") if h.strip()]
        if allowed_hosts
        else default_allowed_hosts(host)
    )
    if hosts == ["*"] and not allowed_hosts:
        errors.print(
            f"[yellow]note:[/] bound to {host}: any Host header is served; "
            "set --allowed-hosts to the names clients use",
            highlight=False,
        )
    try:
        application = create_app(
            model, max_upload_mb * 2**20, queue, workers, hosts, precision=precision
        )
    except ValueError as exc:  # a ModelFileError, or a precision that is not auto, 32 or bf16
        raise fail(str(exc)) from None
    listener = _listening_socket(host, port)
    shown = f"[{host}]" if ":" in host else host
    errors.print(f"serving on http://{shown}:{port} (Ctrl-C to stop)", highlight=False)
    server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_level="info"))
    server.run(sockets=[listener])


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` for uvicorn, or one error line and exit 2 when the
    address is unknown or taken (uvicorn itself would exit 3)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise fail(f"cannot listen on {host!r}: not an address of this machine ({exc})") from None
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return listener


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="File to write (.onnx).")] = Path("out/model.onnx"),
    export_format: Annotated[
        str, typer.Option("--format", help="onnx: logits, P(malignant), CAM and gate.")
    ] = "onnx",
    model: ModelOption = None,
) -> None:
    """Write the model as one ONNX graph (pixels in; logits, calibrated P(malignant), the CAM
    grid and the gate out) and check it with onnxruntime on the shipped sample photos."""
    if export_format != "onnx":
        raise fail(f"unknown format {export_format!r}; the one format is onnx")
    try:
        import onnxruntime  # noqa: F401  (the check needs it too)

        from skinxai.export import TOLERANCE, check_onnx, export_onnx, sample_pixels
    except ImportError as exc:
        raise fail(
            f"ONNX export needs the onnx extra (pip install 'skinxai[onnx]'): {exc}"
        ) from None
    _output_folder(out.parent)
    classifier = _load(model)
    staging = out.with_name(f".{out.name}.partial")  # `out` changes only to a checked graph
    try:
        export_onnx(classifier, staging)
        check = check_onnx(staging, classifier, sample_pixels(classifier.config.input_size))
        if not check.within_tolerance():
            raise fail(f"the exported graph differs from PyTorch beyond {TOLERANCE}: {check}", 1)
        staging.replace(out)
    finally:
        staging.unlink(missing_ok=True)
    console.print(
        f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB); onnxruntime against PyTorch fp32"
        f" on {check.images} sample photos: logits within {check.logits_max_abs:.1e},"
        f" P(malignant) within {check.p_malignant_max_abs:.1e}, CAM within "
        f"{check.cam_max_abs_relative:.1e} of its peak, gate disagreements "
        f"{check.gate_disagreements if check.gate_disagreements is not None else 'n/a'}",
        highlight=False,
        soft_wrap=True,
    )


concepts_app = typer.Typer(
    help="The 7-point checklist read from the network (derm7pt concept readers).",
    no_args_is_help=True,
)
app.add_typer(concepts_app, name="concepts")


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

    classifier = _load(model, "32")
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


@app.command("split-ham10000")
def split_ham10000(
    data: Annotated[Path | None, typer.Option(help="HAM10000 folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Manifest to write.")] = None,
    seed: Annotated[int, typer.Option()] = 20261126,
) -> None:
    """(Re)write the HAM10000 train/val/test manifest, grouped by lesion_id."""
    from skinxai.data.ham10000 import read_ham_records
    from skinxai.data.paths import shared_data_dir
    from skinxai.data.splits import make_ham_split, manifest_path, write_ham_split

    try:
        root = data or shared_data_dir() / "ham10000"
        records = read_ham_records(root)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    assignment = make_ham_split(records, seed=seed)
    target = out or manifest_path()
    _output_folder(target.parent)
    write_ham_split(records, assignment, target)
    counts = {s: sum(v == s for v in assignment.values()) for s in ("train", "val", "test")}
    console.print(f"wrote {target}: {counts}")


def main() -> None:
    """The console entry point: user-facing failures end in one line, never a traceback."""
    _interrupt_on_signals()
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted", highlight=False)
        sys.exit(interrupted_exit_code())
    except OSError as exc:  # a full disk, a file removed mid-run, a permission changed
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
