"""The scoring commands: ``evaluate`` (the test report of a diagnosis) and ``explain-eval``
(how good the explanations are)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from skinxai.cli.app import console, errors
from skinxai.cli.common import (
    ModelOption,
    PrecisionOption,
    fail,
    load_classifier,
    output_folder,
    progress_bar,
)

ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(help="Drop test images with a near-duplicate in this set (repeatable)."),
]
MethodsOption = Annotated[
    str, typer.Option(help="Comma-separated methods (scorecam runs on the subset).")
]
MasksOption = Annotated[
    Path | None, typer.Option(help="Folder of lesion masks named like the images' stems.")
]
FaithfulnessOption = Annotated[
    int, typer.Option(min=0, help="Seeded subset for the perturbation metrics (0: none).")
]
LimitOption = Annotated[int | None, typer.Option(min=1, help="Only the first N images.")]


def evaluate(
    data: Annotated[str, typer.Option(help="Folder-per-class DIR, or ham10000:test etc.")],
    out: Annotated[Path, typer.Option(help="Folder for the report files.")],
    model: ModelOption = None,
    exclude_near_duplicates_of: ExcludeOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1024)] = 64,
    precision: PrecisionOption = "auto",
) -> None:
    """Score a model on a labelled set: metrics.json, report.md, confusion matrix, ROC, PR."""
    from skinxai.evaluation import evaluate as run_evaluation
    from skinxai.io import ImageInputError

    output_folder(out)
    classifier = load_classifier(model, precision)
    try:
        result = run_evaluation(
            classifier, data, out, exclude_near_duplicates_of or [], batch_size=batch_size
        )
    except (FileNotFoundError, ValueError, ImageInputError) as exc:
        raise fail(str(exc)) from None
    if exclude_near_duplicates_of:
        console.print(
            f"dropped {result.dropped} near-duplicates of {', '.join(exclude_near_duplicates_of)}"
        )
    console.print(_metrics_table(result.metrics, data, classifier.config.version))
    console.print(f"report written to {out}")
    if result.failed:
        errors.print(
            f"{len(result.failed)} files are not usable images and were left out, e.g. "
            f"{result.failed[0]['error']} (all listed in {out / 'metrics.json'})",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _metrics_table(metrics: dict, data: str, version: str) -> Table:
    """The reported metrics, calibration and the uncertain band's coverage, a row each."""
    from skinxai.metrics.classification import REPORTED_METRICS

    table = Table(title=f"{data}: {metrics['n']} images, model {version}")
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
    return table


def explain_eval(
    data: Annotated[str, typer.Option(help="ham10000:test, isic2017:val, or a folder of images.")],
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, report.md and plots.")],
    methods: MethodsOption = "cam,gradcam,gradcam++,layercam,hirescam,xgradcam,eigencam",
    masks: MasksOption = None,
    faithfulness_images: FaithfulnessOption = 32,
    limit: LimitOption = None,
    model: ModelOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=256)] = 32,
    precision: PrecisionOption = "auto",
) -> None:
    """Measure explanations: localisation against lesion masks, faithfulness, sanity checks,
    each method beside a centred Gaussian, a uniform, a random and a Sobel-edge map."""
    from skinxai.explanation_quality.evaluate import explain_eval as run
    from skinxai.io import ImageInputError

    output_folder(out)
    classifier = load_classifier(model, precision)
    with progress_bar("scoring explanations") as progress:
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
