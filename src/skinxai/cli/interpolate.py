"""``skinxai interpolate``: one model from the weights of two fine-tunes of the same network."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skinxai.cli.app import console
from skinxai.cli.common import fail, load_classifier, output_folder


def interpolate(
    first: Annotated[Path, typer.Argument(help="Model weights A (.safetensors).")],
    second: Annotated[Path, typer.Argument(help="Model weights B, fine-tuned from A's line.")],
    out: Annotated[Path, typer.Option(help="Weights to write (.safetensors).")],
    weight: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="B's share: (1 - w) A + w B.")
    ] = 0.5,
    version: Annotated[str | None, typer.Option(help="The new model's version.")] = None,
) -> None:
    """Write the weights (1 - w) A + w B as one model (WiSE-FT), uncalibrated: fit its
    calibration, operating point and gate on validation with ``skinxai calibrate``."""
    from skinxai.model import save_model
    from skinxai.model_config import ModelFileError
    from skinxai.training.interpolate import interpolate_models

    if out.suffix.lower() != ".safetensors":
        raise fail(f"--out must name a .safetensors file, not '{out}'")
    a, b = load_classifier(first, precision="32"), load_classifier(second, precision="32")
    name = version or f"{a.config.version}+{weight:g}x{b.config.version}"
    try:
        mixed = interpolate_models(a, b, weight, name)
    except ModelFileError as exc:
        raise fail(f"cannot interpolate '{first}' and '{second}': {exc}") from None
    output_folder(out.parent)
    written = save_model(mixed, out)
    console.print(
        f"wrote {written}: {1 - weight:g} x {a.config.version} + {weight:g} x "
        f"{b.config.version} (uncalibrated)",
        highlight=False,
        soft_wrap=True,
    )
