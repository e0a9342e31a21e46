"""Training throughput on this machine: fp32 NCHW (how CPU runs trained before), fp32
channels-last, and bf16 autocast + channels-last (what ``precision: auto`` picks on a CPU with
AVX-512 BF16 or AMX), in one process on the same real images.

One step is what ``skinxai train`` runs for the shipped recipe (configs/canonical.yaml: the
canonical views and Shades of Gray inside the model, the stem and blocks 0-2 frozen, the mask
penalty off for lack of masks on these images): forward, loss, backward, AdamW step; bf16 goes
through Lightning's own ``MixedPrecision`` plugin, as in a run. The settings take turns, a warm-up
step each, then timed rounds; the median round gives images/s and the ratio to fp32 NCHW.
Prints a table and writes benchmarks/results/training_speed.json.

Run: .venv/bin/python benchmarks/training_speed.py [--batch-size 32] [--rounds 3 --steps 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # name: (Lightning precision, channels_last)
    "fp32 NCHW": ("32-true", False),
    "fp32 channels-last": ("32-true", True),
    "bf16-mixed channels-last": ("bf16-mixed", True),
}


def real_samples(batch_size: int) -> list:
    """``batch_size`` fanconic training images, spread over the set (both classes)."""
    from skinxai.data.specs import resolve_spec

    return resolve_spec("fanconic:train")[::97][:batch_size]


def real_batch(module, samples: list) -> dict[str, torch.Tensor]:
    """The images as the model preprocesses them, with their labels."""
    images = torch.stack([module.model.preprocess(s.path) for s in samples])
    return {"image": images, "label": torch.tensor([s.label for s in samples])}


def make_module(recipe: Path, samples: list):
    """The recipe's Lightning module as ``skinxai train`` builds it, from ImageNet weights
    (the recipe's ``init`` is a run this machine may not have)."""
    import dataclasses

    from skinxai.training.config import TrainConfig
    from skinxai.training.fit import _model_config, _module

    config = dataclasses.replace(TrainConfig.from_yaml(recipe), init=None)
    return _module(config, _model_config(config), samples), config


def step_runner(module, precision: str, channels_last: bool):
    """``prepare`` (the weights' memory format, outside the timing) and one training step as
    Lightning runs it for ``precision`` (its own plugin)."""
    from lightning.pytorch.plugins.precision import MixedPrecision, Precision

    plugin = MixedPrecision(precision, "cpu") if precision != "32-true" else Precision()
    model = module.model
    layout = torch.channels_last if channels_last else torch.contiguous_format
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-4)
    module.train()

    def prepare() -> None:
        model.to(memory_format=layout)

    def step(batch: dict[str, torch.Tensor]) -> float:
        images = batch["image"].contiguous(memory_format=layout)
        with plugin.forward_context():
            logits = model.head(model.features(images))
            loss = module.loss_fn(logits.float(), batch["label"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return prepare, step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default=str(ROOT / "configs" / "canonical.yaml"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="Timed steps per round.")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/training_speed.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from skinxai.precision import bf16_supported, training_precision

    torch.manual_seed(0)
    samples = real_samples(args.batch_size)
    module, config = make_module(Path(args.recipe), samples)
    batch = real_batch(module, samples)
    runners = {name: step_runner(module, *setting) for name, setting in SETTINGS.items()}
    for prepare, run in runners.values():  # warm-up: oneDNN picks kernels on the first step
        prepare()
        run(batch)
    seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    losses: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (prepare, run) in runners.items():
            prepare()
            started = time.perf_counter()
            for _ in range(args.steps):
                losses[name] = run(batch)
            seconds[name].append(time.perf_counter() - started)
    rows = {}
    baseline = None
    for name in SETTINGS:
        per_step = statistics.median(seconds[name]) / args.steps
        rate = args.batch_size / per_step
        baseline = baseline or rate
        rows[name] = {
            "precision": SETTINGS[name][0],
            "channels_last": SETTINGS[name][1],
            "images_per_second": round(rate, 2),
            "seconds_per_step": round(per_step, 3),
            "over_fp32_nchw": round(rate / baseline, 2),
            "last_loss": round(losses[name], 4),
        }
    table = Table(title=f"training step, batch {args.batch_size}, {Path(args.recipe).name}")
    for column in ("setting", "img/s", "s/step", "x fp32 NCHW", "last loss"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for name, row in rows.items():
        table.add_row(
            name,
            f"{row['images_per_second']:.1f}",
            f"{row['seconds_per_step']:.2f}",
            f"{row['over_fp32_nchw']:.2f}",
            f"{row['last_loss']:.3f}",
        )
    Console(width=140).print(table)
    payload = {
        "machine": platform.platform(),
        "processor": platform.processor(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_bf16": bf16_supported("cpu"),
        "auto_picks": training_precision("auto", "cpu"),
        "recipe": Path(args.recipe).name,
        "freeze_blocks": config.freeze_blocks,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "settings": rows,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
