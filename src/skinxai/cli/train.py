"""``skinxai train``: a YAML recipe, changed by the options given, run once on Lightning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skinxai.cli.app import console
from skinxai.cli.common import fail, output_folder

# One alias per option, so the command's signature reads as the list of what it takes.
Config = Annotated[Path | None, typer.Option(help="YAML file of training options.")]
TrainSets = Annotated[
    list[str] | None,
    typer.Option("--train", help="Training set spec (repeatable): fanconic:train, list:F, DIR."),
]
ValSets = Annotated[
    list[str] | None, typer.Option("--val", help="Validation set spec (repeatable).")
]
Out = Annotated[str | None, typer.Option(help="Run folder.")]
Epochs = Annotated[int | None, typer.Option(min=1)]
BatchSize = Annotated[int | None, typer.Option(min=1)]
LearningRate = Annotated[float | None, typer.Option()]
LabelSmoothing = Annotated[float | None, typer.Option(min=0.0, max=0.5)]
InputSize = Annotated[int | None, typer.Option(min=32, max=1024)]
Limit = Annotated[int | None, typer.Option(help="Train on a stratified subset.")]
Workers = Annotated[int | None, typer.Option(help="DataLoader workers (-1: auto).")]
Accelerator = Annotated[str | None, typer.Option(help="auto, cpu or gpu.")]
Devices = Annotated[str | None, typer.Option(help="auto, a count, or ids like 0,1.")]
NumNodes = Annotated[int | None, typer.Option(min=1)]
Precision = Annotated[str | None, typer.Option(help="auto, 32-true, bf16-mixed...")]
MaxTime = Annotated[str | None, typer.Option(help="Wall-clock limit DD:HH:MM:SS.")]
CheckpointSteps = Annotated[int | None, typer.Option(min=1)]
Seed = Annotated[int | None, typer.Option()]
Version = Annotated[str | None, typer.Option(help="Model version string.")]
Pretrained = Annotated[
    bool | None, typer.Option("--pretrained/--no-pretrained", help="ImageNet start.")
]
Init = Annotated[
    str | None, typer.Option(help="Start from this model file's weights (.safetensors).")
]
Augmentation = Annotated[
    str | None, typer.Option(help="study, or acquisition (+ JPEG, light, rim, zoom).")
]
ColourConstancy = Annotated[
    float | None, typer.Option(help="Shades of Gray norm inside the model (e.g. 6).")
]
WideCircle = Annotated[
    float | None,
    typer.Option(help="Share of images given melanoma10k's wide black circle (both classes)."),
]
CanonicalResolution = Annotated[
    int | None, typer.Option(help="Reduce every input to N px a side inside the model.")
]
RimRadius = Annotated[
    float | None, typer.Option(help="Black outside this centred circle (share of half side).")
]
Symmetry = Annotated[
    str | None, typer.Option(help="none, or d4: the saved model averages 8 turned views.")
]
FreezeBlocks = Annotated[
    int | None, typer.Option(min=0, help="Keep the stem and the first N blocks fixed.")
]
MaskFolders = Annotated[
    list[str] | None,
    typer.Option("--mask-folder", help="Lesion masks named after the images (repeatable)."),
]
Consistency = Annotated[
    float | None,
    typer.Option(min=0.0, help="Weight of the same decision on half the batch as JPEG + circle."),
]
MaskPenalty = Annotated[
    float | None, typer.Option(min=0.0, help="Weight of the evidence outside the lesion.")
]
Monitor = Annotated[
    str | None, typer.Option(help="val_loss, or val_worst_auroc (each --val a source).")
]
EmaDecay = Annotated[
    float | None, typer.Option(help="Keep, score and export a moving average of the weights.")
]
Balance = Annotated[
    str | None,
    typer.Option(help="loss (by class), source (by class within each data set), sampler."),
]
Resume = Annotated[bool, typer.Option(help="Resume from OUT/checkpoints/last.ckpt.")]


def train(
    config: Config = None,
    train_sets: TrainSets = None,
    val_sets: ValSets = None,
    out: Out = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    label_smoothing: LabelSmoothing = None,
    input_size: InputSize = None,
    limit: Limit = None,
    workers: Workers = None,
    accelerator: Accelerator = None,
    devices: Devices = None,
    num_nodes: NumNodes = None,
    precision: Precision = None,
    max_time: MaxTime = None,
    checkpoint_every_n_steps: CheckpointSteps = None,
    seed: Seed = None,
    version: Version = None,
    pretrained: Pretrained = None,
    init: Init = None,
    augmentation: Augmentation = None,
    colour_constancy_p: ColourConstancy = None,
    wide_circle_p: WideCircle = None,
    consistency: Consistency = None,
    canonical_resolution: CanonicalResolution = None,
    rim_radius: RimRadius = None,
    symmetry: Symmetry = None,
    freeze_blocks: FreezeBlocks = None,
    mask_folders: MaskFolders = None,
    mask_penalty: MaskPenalty = None,
    monitor: Monitor = None,
    ema_decay: EmaDecay = None,
    balance: Balance = None,
    resume: Resume = False,
) -> None:
    """Train a classifier (Lightning); writes checkpoints, history.csv, curves.png, model."""
    options = {name: value for name, value in locals().items() if name not in ("config", "resume")}
    run_training(config, options, resume)


# The train command's options that TrainConfig names otherwise (the rest share their names).
_TRAIN_OPTION_KEYS = {"train_sets": "train", "val_sets": "val"}


def run_training(config: Path | None, options: dict, resume: bool) -> None:
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
    output_folder(Path(settings.out))
    try:
        model_path = fit(settings, resume=resume)
    except (FileNotFoundError, ImageInputError, ValueError) as exc:  # ModelFileError too
        raise fail(str(exc)) from None
    console.print(f"model written to {model_path}")
