"""``skinxai calibrate``: probability scaling, the operating point, the "uncertain" band and
the "not a dermoscopic image" gate, fitted on validation data and written into the model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from skinxai.cli.app import console
from skinxai.cli.common import ModelOption, PrecisionOption, fail, load_classifier, output_folder

ValSets = Annotated[
    list[str], typer.Option("--val", help="Validation set spec (repeatable): ham10000:val.")
]
Out = Annotated[Path, typer.Option(help="Model file to write (.safetensors + .json).")]
OperatingPoint = Annotated[
    str,
    typer.Option(help="The threshold's goal on validation: sensitivity=X or specificity=X."),
]
GoalConfidence = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=0.999,
        help="Confidence that the goal holds beyond these images: the threshold meets it at "
        "this lower bound of a bootstrap over lesions (0: on the validation images alone).",
    ),
]
TargetAccuracy = Annotated[
    float,
    typer.Option(min=0.5, max=1.0, help="Accuracy the confident answers must reach."),
]
GateTrain = Annotated[
    list[str] | None,
    typer.Option(
        help="Fit the 'not a dermoscopic image' gate on these training sets (repeatable); "
        "without it the model keeps its gate."
    ),
]
GateVal = Annotated[
    list[str] | None,
    typer.Option(help="More validation sets (repeatable) that set the gate's limit."),
]
GateLimit = Annotated[
    int, typer.Option(min=100, help="Training images (stratified subset) for the gate.")
]
GateBlock = Annotated[
    int,
    typer.Option(min=-1, help="Backbone block the gate reads (-1: the last feature map)."),
]
GoalPerSource = Annotated[
    bool,
    typer.Option(
        "--goal-per-source/--goal-on-pool",
        help="The threshold's goal holds on each --val set (the strictest threshold), "
        "not only on their pool.",
    ),
]


def calibrate(
    val_sets: ValSets,
    out: Out,
    model: ModelOption = None,
    operating_point: OperatingPoint = "sensitivity=0.90",
    goal_confidence: GoalConfidence = 0.95,
    target_accuracy: TargetAccuracy = 0.95,
    gate_train: GateTrain = None,
    gate_val: GateVal = None,
    gate_limit: GateLimit = 3000,
    gate_block: GateBlock = 4,
    goal_per_source: GoalPerSource = False,
    precision: PrecisionOption = "auto",
) -> None:
    """Fit probability scaling, threshold and "uncertain" band on validation data; write the
    model."""
    from skinxai.calibrate import calibrated_config
    from skinxai.io import ImageInputError
    from skinxai.model import save_model

    goal, value = _validation_goal(val_sets, gate_val or [], operating_point)
    output_folder(out.parent)
    classifier = load_classifier(model, precision)
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
    console.print(calibration_table(classifier.config, val_sets))
    console.print(f"wrote {written} and {written.with_suffix('.json')}")


def _validation_goal(val_sets: list[str], gate_val: list[str], operating_point: str):
    """The goal and its value, or one error line for a test split, derm7pt or a bad goal."""
    from skinxai.metrics.calibration import parse_operating_point

    held_out = [v for v in [*val_sets, *gate_val] if v.endswith(":test") or "derm7pt" in v]
    if held_out:
        raise fail(f"calibrate on validation data only, not on {', '.join(held_out)}")
    try:
        return parse_operating_point(operating_point)
    except ValueError as exc:
        raise fail(str(exc)) from None


def goal_text(point: dict) -> str:
    """``sensitivity >= 0.9 with 95% confidence over lesions`` (or without the confidence)."""
    text = f"{point['goal']} >= {point['value']:g}"
    if point.get("confidence"):
        text += f" with {point['confidence']:.0%} confidence over lesions"
    return text


def calibration_table(config, val_sets: list[str]) -> Table:
    """What `calibrate` fitted, with the validation numbers before and after."""
    report = config.calibration
    table = Table(title=f"calibrated on {', '.join(val_sets)} ({report['n']} images)")
    table.add_column("")
    table.add_column("value", justify="right")
    for row in (*_fitted_rows(config), *_per_source_rows(config)):
        table.add_row(*row)
    return table


def _fitted_rows(config) -> list[tuple[str, str]]:
    """Scaling, threshold, band and the calibration metrics before and after."""
    report, point = config.calibration, config.operating_point
    low, high = config.uncertain_band
    return [
        ("scaling", report["method"]),
        (
            "temperature / bias / beta shape",
            f"{config.temperature:.3f} / {config.bias:+.3f} / {config.beta_shape:+.3f}",
        ),
        (f"threshold ({goal_text(point)})", f"{config.threshold:.4f}"),
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


def _per_source_rows(config) -> list[tuple[str, str]]:
    """Sensitivity and specificity on each validation source, and the gate's refusals."""
    rows = [
        (
            f"  {source} (n={rates['n']}): sensitivity / specificity",
            f"{rates['sensitivity']:.3f} / {rates['specificity']:.3f}",
        )
        for source, rates in config.operating_point.get("per_source", {}).items()
    ]
    if config.ood_gate:
        gate = config.ood_gate
        rows.append(
            (
                "gate: validation images refused",
                f"{gate['validation_rejection_rate']:.4f} (limit {gate['limit']:.1f})",
            )
        )
    return rows
