"""``skinxai export``: the model as one ONNX graph, checked with onnxruntime before it lands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skinxai.cli.app import console
from skinxai.cli.common import ModelOption, fail, load_classifier, output_folder

FormatOption = Annotated[
    str, typer.Option("--format", help="onnx: logits, P(malignant), CAM and gate.")
]


def export(
    out: Annotated[Path, typer.Option(help="File to write (.onnx).")] = Path("out/model.onnx"),
    export_format: FormatOption = "onnx",
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
    output_folder(out.parent)
    classifier = load_classifier(model)
    staging = out.with_name(f".{out.name}.partial")  # `out` changes only to a checked graph
    try:
        export_onnx(classifier, staging)
        check = check_onnx(staging, classifier, sample_pixels(classifier.config.input_size))
        if not check.within_tolerance():
            raise fail(f"the exported graph differs from PyTorch beyond {TOLERANCE}: {check}", 1)
        staging.replace(out)
    finally:
        staging.unlink(missing_ok=True)
    gate = check.gate_disagreements if check.gate_disagreements is not None else "n/a"
    console.print(
        f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB); onnxruntime against PyTorch fp32"
        f" on {check.images} sample photos: logits within {check.logits_max_abs:.1e},"
        f" P(malignant) within {check.p_malignant_max_abs:.1e}, CAM within "
        f"{check.cam_max_abs_relative:.1e} of its peak, gate disagreements {gate}",
        highlight=False,
        soft_wrap=True,
    )
