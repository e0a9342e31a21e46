"""The data commands: ``audit`` (near-duplicates across two sets), ``curate`` (a leakage-free
training list) and ``split-ham10000`` (the grouped split)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from skinxai.cli.app import console
from skinxai.cli.common import fail, output_folder, progress_bar

ThresholdOption = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Thumbnail correlation threshold.")
]
ShowOption = Annotated[int, typer.Option(min=0, help="How many pairs to print.")]
PairsCsvOption = Annotated[
    Path | None, typer.Option("--csv", help="Write every pair to this CSV file.")
]


def audit(
    dir_a: Annotated[Path, typer.Argument(help="First image set (searched recursively).")],
    dir_b: Annotated[Path, typer.Argument(help="Second image set (searched recursively).")],
    threshold: ThresholdOption = 0.995,
    show: ShowOption = 20,
    csv_out: PairsCsvOption = None,
) -> None:
    """Find near-duplicate images across two sets (16x16 grey thumbnail correlation)."""
    from skinxai.data.audit import find_near_duplicates
    from skinxai.data.paths import list_images

    try:
        paths_a, paths_b = list_images(dir_a), list_images(dir_b)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    if csv_out:
        output_folder(csv_out.parent)
    with progress_bar("thumbnails", transient=True) as progress:
        task = progress.add_task("thumbnails", total=len(paths_a) + len(paths_b))
        try:
            result = find_near_duplicates(
                paths_a, paths_b, threshold, lambda n: progress.advance(task, n)
            )
        except OSError as exc:
            raise fail(f"cannot read an image: {exc}") from None
    console.print(_audit_table(result, threshold))
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


def _audit_table(result, threshold: float) -> Table:
    """How many images of each side have a near-duplicate in the other, by folder of A."""
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
    return summary


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
    output_folder(out.parent)
    report = curate_training_set(train_samples, held_out, threshold, drop_repeats=not keep_repeats)
    write_image_list(report.kept, out)
    details = out.with_suffix(".report.json")
    summary = {
        "train": train_sets,
        "exclude": exclude,
        "threshold": threshold,
        **report.summary(),
        "kept_malignant": sum(s.label for s in report.kept),
    }
    details.write_text(json.dumps(summary, indent=2) + "\n")
    console.print(f"wrote {out} and {details}: {report.summary()}")


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
    output_folder(target.parent)
    write_ham_split(records, assignment, target)
    counts = {s: sum(v == s for v in assignment.values()) for s in ("train", "val", "test")}
    console.print(f"wrote {target}: {counts}")
