"""``skinxai explain``: CAM-family maps for every image, a figure each, an index and a page."""

from __future__ import annotations

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
    output_folder,
)

MethodOption = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated methods: cam,gradcam,gradcam++,hirescam,... "
        "(default: cam,gradcam; with --layer: gradcam, as CAM needs the last feature map)."
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option(help="Class to explain (benign/malignant/0/1); default: predicted."),
]
LayerOption = Annotated[str | None, typer.Option(help="Named layer (default: last feature map).")]
OutOption = Annotated[Path, typer.Option(help="Folder for figures and explanations.json.")]
BatchOption = Annotated[int, typer.Option(min=1, max=512)]
OpacityOption = Annotated[float, typer.Option(min=0.0, max=1.0)]
ConceptsOption = Annotated[
    bool,
    typer.Option(
        "--concepts",
        help="Add the network's 7-point checklist reading (a map per criterion found).",
    ),
]


def explain(
    paths: InputsArgument,
    method: MethodOption = None,
    target: TargetOption = None,
    layer: LayerOption = None,
    out: OutOption = Path("out/explain"),
    model: ModelOption = None,
    batch_size: BatchOption = 16,
    workers: WorkersOption = 0,
    opacity: OpacityOption = 0.4,
    precision: PrecisionOption = "auto",
    devices: DevicesOption = 1,
    num_nodes: NodesOption = 1,
    resume: ResumeOption = False,
    concepts: ConceptsOption = False,
) -> None:
    """Explain each image with CAM-family maps: a three-panel PNG per image + an index."""
    from skinxai.archive import ArchiveOptions, ExplainTask
    from skinxai.explain.core import parse_target

    methods = explain_methods(method, layer)
    files = image_files(paths)
    output_folder(out)
    classifier = load_classifier(model, precision)
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
    result = run_archive_or_fail(classifier, task, files, out, options)
    if result is not None:
        _report(result, classifier, methods, out)


def explain_methods(method: str | None, layer: str | None) -> list[str]:
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


def _report(result, classifier, methods: list[str], out: Path) -> None:
    """The table of figures, how many failed and where everything is; exit 1 on a failure."""
    rows = result.rows
    failed = sum(r["error"] is not None for r in rows)
    table_rows = [
        (Path(r["file"]).name, r["decision"], r["probability"], r["error"], f"{out}/{r['figure']}")
        for r in rows
    ]
    print_rows(
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
