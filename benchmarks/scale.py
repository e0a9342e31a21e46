"""Inference at scale: bf16 against fp32 in one process (speed of predict, CAM and Grad-CAM,
Grad-CAM against pytorch-grad-cam's GradCAM, and how far bf16 moves P(malignant), labels,
decisions and maps on real images); an archive run in 1 and 2 gloo processes (end to end,
compared image by image); the ONNX graph in onnxruntime against PyTorch.

The shipped model, fanconic test and HAM10000 val photos (660 + 340 by default), decoded once
into the model's input. Speed in one process: best of ``--repeats`` over one batch of 32, the
maps' own computation (figures are drawn the same way in either precision). The archive rows
time the CLI itself, figures and start-up included. Prints tables and writes
benchmarks/results/scale.json. Run: .venv/bin/python benchmarks/scale.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import skinxai
from explain_speed import measure
from scale_archive import archive_processes, onnx_against_pytorch
from skinxai.data.cache import decode_images
from skinxai.data.specs import resolve_spec
from skinxai.explain import explain, explain_methods
from skinxai.preprocessing import normalize

ROOT = Path(__file__).resolve().parents[1]
SETS = ("fanconic:test", "ham10000:val")


def real_paths(limit: int) -> list[Path]:
    return [s.path for spec in SETS for s in resolve_spec(spec)][:limit]


def real_pixels(model, limit: int) -> torch.Tensor:
    """The first ``limit`` images of ``SETS`` as the uint8 squares ``predict`` makes."""
    return decode_images(real_paths(limit), model.config.input_size)


def speed(models: dict, inputs: torch.Tensor, repeats: int) -> dict[str, dict]:
    """Images/s of predict, CAM and Grad-CAM for each precision, and pytorch-grad-cam's
    GradCAM (fp32, at the same last feature map) on one batch."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    device, n = inputs.device, len(inputs)
    rows = {}
    for name, model in models.items():
        rows[f"predict, {name}"] = measure(
            lambda m=model: m.predict_proba(inputs), n, device, repeats
        )
        for method in ("cam", "gradcam"):
            rows[f"{method}, {name}"] = measure(
                lambda m=model, k=method: explain(m, inputs, k, target=1), n, device, repeats
            )
    fp32 = models["fp32"]

    def oracle() -> None:
        with GradCAM(model=fp32, target_layers=[fp32.backbone.bn2]) as engine:
            engine(input_tensor=inputs, targets=[ClassifierOutputTarget(1)] * n)

    rows["pytorch-grad-cam GradCAM, fp32"] = measure(oracle, n, device, repeats)
    rate = {k: v["images_per_second"] for k, v in rows.items()}
    for name in models:
        for what in ("predict", "cam", "gradcam"):
            rows[f"{what}, {name}"]["ratio_to_fp32"] = (
                rate[f"{what}, {name}"] / rate[f"{what}, fp32"]
            )
        rows[f"gradcam, {name}"]["ratio_to_pytorch_grad_cam"] = (
            rate[f"gradcam, {name}"] / rate["pytorch-grad-cam GradCAM, fp32"]
        )
    return rows


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-row correlation of two (N, D) batches of maps (a flat map gives NaN)."""
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


def differences(models: dict, inputs: torch.Tensor, batch: int) -> dict:
    """What bf16 changes against fp32, image by image."""
    config = models["fp32"].config
    p = {name: [] for name in models}
    maps = {(name, m): [] for name in models for m in ("cam", "gradcam")}
    for chunk in inputs.split(batch):
        for name, model in models.items():
            explained = explain_methods(model, chunk, ["cam", "gradcam"], target=1)
            p[name].append(explained["cam"].probs[:, 1])
            for method in ("cam", "gradcam"):
                maps[(name, method)].append(explained[method].maps.flatten(1))
    p32, p16 = torch.cat(p["fp32"]).double(), torch.cat(p["bf16"]).double()
    shift = (p32 - p16).abs().numpy()
    pairs = list(zip(p32.tolist(), p16.tolist(), strict=True))
    result = {
        "n": len(inputs),
        "p_malignant_abs_difference": {
            "mean": float(shift.mean()),
            "p99": float(np.quantile(shift, 0.99)),
            "max": float(shift.max()),
        },
        "label_flips": sum(config.label(a) != config.label(b) for a, b in pairs),
        "decision_changes": sum(config.decision(a) != config.decision(b) for a, b in pairs),
        "maps": {},
    }
    for method in ("cam", "gradcam"):
        a, b = torch.cat(maps[("fp32", method)]), torch.cat(maps[("bf16", method)])
        correlation = _pearson(a, b)
        usable = ~torch.isnan(correlation)
        result["maps"][method] = {
            "mean_abs_difference": float((a - b).abs().mean()),
            "max_abs_difference": float((a - b).abs().max()),
            "pearson_mean": float(correlation[usable].mean()),
            "pearson_p01": float(torch.quantile(correlation[usable].double(), 0.01)),
            "pearson_min": float(correlation[usable].min()),
            "share_pearson_below_0_9": float((correlation[usable] < 0.9).double().mean()),
            "same_peak_pixel": float((a.argmax(dim=1) == b.argmax(dim=1)).double().mean()),
            "flat_maps_left_out": int((~usable).sum()),
        }
    return result


def print_tables(payload: dict) -> None:
    console = Console(width=160)
    table = Table(title=f"speed on {payload['machine_cpu_threads']} CPU threads, batch 32")
    for column in ("path", "images/s", "x fp32", "x pytorch-grad-cam"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, row in payload["speed"].items():
        ratio = row.get("ratio_to_pytorch_grad_cam")
        table.add_row(
            name,
            f"{row['images_per_second']:.1f}",
            f"{row['ratio_to_fp32']:.2f}" if "ratio_to_fp32" in row else "",
            f"{ratio:.2f}" if ratio else "",
        )
    console.print(table)
    diff = payload["bf16_against_fp32"]
    shift = diff["p_malignant_abs_difference"]
    console.print(
        f"bf16 against fp32 on {diff['n']} images: |dP(malignant)| mean {shift['mean']:.4f}, "
        f"99th percentile {shift['p99']:.4f}, max {shift['max']:.4f}; labels flipped "
        f"{diff['label_flips']}, decisions changed {diff['decision_changes']}"
    )
    for method, row in diff["maps"].items():
        console.print(
            f"  {method}: mean |dmap| {row['mean_abs_difference']:.4f} (max "
            f"{row['max_abs_difference']:.3f}), Pearson mean {row['pearson_mean']:.4f}, 1st "
            f"percentile {row['pearson_p01']:.3f}, min {row['pearson_min']:.3f}, below 0.9 "
            f"{row['share_pearson_below_0_9']:.3f}, same peak pixel {row['same_peak_pixel']:.3f}"
        )


def print_scale_tables(payload: dict, console: Console) -> None:
    """The onnxruntime rows and the archive's 1 / 2 process rows with their agreement."""
    table = Table(title="uint8 pixels -> logits, P, CAM, gate (batch 32)")
    for column in ("engine", "images/s", "onnxruntime x"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for name, row in payload["onnxruntime_against_pytorch"].items():
        ratio = row.get("onnxruntime_ratio")
        table.add_row(name, f"{row['images_per_second']:.1f}", f"{ratio:.2f}" if ratio else "")
    console.print(table)
    archive = payload.get("archive")
    if not archive:
        return
    table = Table(title=f"archive run over {archive['images']} images, start-up included")
    for column in ("run", "seconds", "images/s", "x 1 process"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, row in archive.items():
        if isinstance(row, dict) and "seconds" in row:
            ratio = row.get("ratio_to_1_process")
            table.add_row(
                name,
                f"{row['seconds']:.1f}",
                f"{row['images_per_second']:.2f}",
                f"{ratio:.2f}" if ratio else "",
            )
    console.print(table)
    for name, row in archive.items():
        if name.startswith("2 against 1"):
            console.print(f"{name}: {json.dumps(row)}", soft_wrap=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--archive-images", type=int, default=300, help="0: no archive rows")
    parser.add_argument("--archive-precisions", default="auto", help="e.g. 32,auto")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    models = {
        "fp32": skinxai.load_model(precision="32"),
        "bf16": skinxai.load_model(precision="bf16"),
    }
    pixels = real_pixels(models["fp32"], args.images)
    config = models["fp32"].config
    inputs = normalize(pixels, config.mean, config.std)
    payload = {
        "skinxai": skinxai.__version__,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "machine_cpu_threads": torch.get_num_threads(),
        "model_version": models["fp32"].config.version,
        "bf16_auto_on_this_cpu": skinxai.load_model().precision,
        "images": list(SETS),
        "speed": speed(models, inputs[:32], args.repeats),
        "bf16_against_fp32": differences(models, inputs, 32),
        "onnxruntime_against_pytorch": onnx_against_pytorch(
            models["fp32"], models["bf16"], pixels[:32], args.repeats
        ),
    }
    if args.archive_images:
        precisions = tuple(args.archive_precisions.split(","))
        payload["archive"] = archive_processes(real_paths(args.archive_images), precisions)
    print_tables(payload)
    print_scale_tables(payload, Console(width=160))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
