"""Plots of an explain-eval run: deletion and insertion curves, per-method distributions,
sanity-check curves, and a gallery of the worst-localised images per method."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from skinxai.explain.baselines import BASELINES
from skinxai.explain.core import explain_grid
from skinxai.explain.render import input_image, overlay
from skinxai.explanation_quality.run import QualityScores
from skinxai.explanation_quality.samples import MaskedImage, MaskedImages
from skinxai.explanation_quality.summary import for_target
from skinxai.metrics.sanity import CASCADE
from skinxai.model import SkinClassifier


def _style(name: str) -> dict:
    return {"linestyle": "--", "linewidth": 1} if name.startswith("baseline") else {}


def plot_curves(quality: QualityScores, path: Path) -> bool:
    """Mean deletion and insertion curves for the predicted class; False if none measured."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    drawn = False
    for name, scores in quality.scores.items():
        for axis, key in zip(axes, ("deletion_curve", "insertion_curve"), strict=True):
            if key not in scores:
                continue
            curves = for_target(scores[key], quality, "predicted")
            curves = curves[np.isfinite(curves).all(axis=1)]
            if len(curves):
                steps = np.linspace(0, 1, curves.shape[1])
                axis.plot(steps, curves.mean(0), label=f"{name} (n={len(curves)})", **_style(name))
                drawn = True
    for axis, title in zip(
        axes, ("deletion (lower is better)", "insertion (higher is better)"), strict=False
    ):
        axis.set_xlabel("share of pixels removed" if "deletion" in title else "share inserted")
        axis.set_ylabel("P(predicted class)")
        axis.set_title(title)
    axes[1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    if drawn:
        figure.savefig(path, dpi=110)
    plt.close(figure)
    return drawn


def plot_distributions(quality: QualityScores, path: Path) -> None:
    """Box plots per method of the lesion's share of map mass and of the IoU at 0.5."""
    names = list(quality.scores)
    figure, axes = plt.subplots(1, 2, figsize=(12, 0.35 * len(names) + 1.8), sharey=True)
    for axis, key, title in zip(
        axes,
        ("energy_inside", "iou_at_0.5"),
        ("share of map mass inside the lesion", "IoU of map >= 0.5 with the lesion"),
        strict=True,
    ):
        data = [for_target(quality.scores[n][key], quality, "predicted") for n in names]
        axis.boxplot([d[np.isfinite(d)] for d in data], orientation="horizontal", tick_labels=names)
        axis.set_title(f"{title} (predicted class)", fontsize=10)
        axis.set_xlim(0, 1)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_sanity(summary: dict, path: Path) -> None:
    """Mean rank correlation with the trained model's maps as the cascade randomises more."""
    methods = summary["targets"]["predicted"]["methods"]
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for name, metrics in methods.items():
        sanity = metrics.get("sanity")
        if sanity and sanity["spearman"][0]["mean"] is not None:
            means = [s["mean"] for s in sanity["spearman"]][: len(CASCADE)]
            axis.plot(range(len(means)), means, marker="o", label=name, **_style(name))
            axis.set_xticks(range(len(means)), sanity["stages"][: len(CASCADE)], fontsize=8)
    axis.axhline(0.5, color="grey", linewidth=0.8)
    axis.set_ylabel("Spearman with the trained model's map")
    axis.set_title("cascading randomisation (top down): a faithful map decorrelates")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _maps_for(model: SkinClassifier, inputs: torch.Tensor, name: str, classes: list[int]):
    if name in BASELINES:
        return BASELINES[name](inputs)
    grid = explain_grid(model, inputs, (name,), (torch.tensor(classes),))
    return grid[(name, 0)].maps


def plot_gallery(
    model: SkinClassifier,
    quality: QualityScores,
    samples: list[MaskedImage],
    name: str,
    path: Path,
    count: int = 6,
) -> list[str]:
    """The ``count`` images whose predicted-class map puts the least mass on the lesion, the
    lesion outlined in white; returns their files."""
    energy = for_target(quality.scores[name]["energy_inside"], quality, "predicted")
    order = [int(i) for i in np.argsort(np.where(np.isfinite(energy), energy, np.inf))]
    worst = [i for i in order if np.isfinite(energy[i])][:count]
    if not worst:
        return []
    config = model.config
    dataset = MaskedImages([samples[i] for i in worst], config.input_size, config.mean, config.std)
    items = [dataset[i] for i in range(len(worst))]
    inputs = torch.stack([item[1] for item in items])
    maps = _maps_for(model, inputs, name, [int(quality.predicted[i]) for i in worst])
    figure, axes = plt.subplots(1, len(worst), figsize=(2.6 * len(worst), 3.0), squeeze=False)
    for column, (axis, index) in enumerate(zip(axes[0], worst, strict=True)):
        photo = input_image(inputs, column, config.mean, config.std)
        axis.imshow(overlay(photo, maps[column], 0.45))
        axis.contour(items[column][2].numpy(), levels=[0.5], colors="white", linewidths=1.2)
        label = config.class_names[int(quality.predicted[index])]
        axis.set_title(
            f"{Path(samples[index].path).stem}\n{label}, {energy[index]:.2f} inside", fontsize=7
        )
        axis.axis("off")
    figure.suptitle(f"{name}: least map mass on the lesion (white outline)", fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.94))
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return [str(samples[i].path) for i in worst]
