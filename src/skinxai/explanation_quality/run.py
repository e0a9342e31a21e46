"""Run every method and baseline over a masked set and keep per-image scores, for both
classes, so that the predicted and the true class can each be summarised afterwards."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from skinxai.explain.baselines import BASELINES
from skinxai.explain.batch import as_list
from skinxai.explain.core import explain_grid
from skinxai.explain.perturbation import inference_forward
from skinxai.explanation_quality.samples import MaskedImage, MaskedImages
from skinxai.metrics import faithfulness as faith
from skinxai.metrics.localization import localisation_scores
from skinxai.metrics.sanity import (
    CASCADE,
    cascade_models,
    label_randomised_copy,
    spearman,
    ssim,
)
from skinxai.model import SkinClassifier

SLOW_METHODS = ("scorecam",)  # a forward pass per channel: run on the faithfulness subset
CLASSES = (0, 1)


@dataclass
class QualityScores:
    """Per-image scores; each array's first axis is the image, the second the class."""

    methods: list[str]
    labels: np.ndarray  # (N,) true class, -1 when unknown
    predicted: np.ndarray  # (N,)
    p_malignant: np.ndarray
    paths: list[str]
    failed: list[dict] = field(default_factory=list)
    # scores[map name][metric] -> (N, 2, ...) with NaN where not computed
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _store(
    quality: QualityScores, name: str, metric: str, indices: list[int], cls: int, values
) -> None:
    """Write the values of the images ``indices`` (first axis of ``values``), creating the
    NaN-filled array on first use."""
    values = np.asarray(values, dtype=np.float64)
    table = quality.scores.setdefault(name, {})
    if metric not in table:
        shape = (len(quality.paths), len(CLASSES), *values.shape[1:])
        table[metric] = np.full(shape, np.nan)
    table[metric][indices, cls] = values


def faithfulness_subset(samples: Sequence[MaskedImage], count: int, seed: int = 0) -> set[int]:
    """A seeded random choice of ``count`` image indices, the same for every method."""
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    return set(order[:count])


def _all_maps(model, inputs, methods) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """Every method's maps (B, 2, H, W) for both classes, and the baselines' (the same map
    for both classes); with the probabilities of the same forward pass (None without
    methods)."""
    grid = explain_grid(model, inputs, methods, CLASSES) if methods else {}
    maps = {m: torch.stack([grid[(m, c)].maps for c in CLASSES], dim=1) for m in methods}
    for name, baseline in BASELINES.items():
        maps[name] = baseline(inputs)[:, None].expand(-1, len(CLASSES), -1, -1)
    return maps, next(iter(grid.values())).probs if grid else None


class _Evaluator:
    """Holds the model, its randomised copies and the fast forward for one run."""

    def __init__(
        self,
        model: SkinClassifier,
        methods: Sequence[str],
        quality: QualityScores,
        pooled: torch.Tensor,
    ):
        self.model, self.quality = model, quality
        self.fast = [m for m in methods if m not in SLOW_METHODS]
        self.slow = [m for m in methods if m in SLOW_METHODS]
        started = time.perf_counter()
        self.stages = [*cascade_models(model, CASCADE), label_randomised_copy(model, pooled)]
        for stage in self.stages:
            stage.gate = None  # the "not dermoscopic" gate means nothing for random weights
        quality.seconds["sanity"] += time.perf_counter() - started
        self._forward: Callable | None = None

    def probabilities(self, inputs: torch.Tensor) -> torch.Tensor:
        if self._forward is None:
            self._forward = inference_forward(self.model, inputs[:1])
        with torch.no_grad():
            return self.model.config.probabilities(self._forward(inputs).float())

    def _timed(self, key: str, images: int, started: float) -> None:
        self.quality.seconds[key] += time.perf_counter() - started
        self.quality.counts[key] += images

    def batch(
        self, indices: list[int], inputs: torch.Tensor, masks: torch.Tensor, subset: set[int]
    ) -> None:
        """Localisation and sanity for the batch; faithfulness for its images in ``subset``."""
        started = time.perf_counter()
        maps, probs = _all_maps(self.model, inputs, self.fast)
        if probs is None:
            probs = self.probabilities(inputs)
        self._record_predictions(indices, probs)
        self._localise(indices, maps, masks)
        self._timed("localisation", len(indices), started)
        started = time.perf_counter()
        self._sanity(indices, inputs, maps)
        self._timed("sanity", len(indices), started)
        chosen = [row for row, index in enumerate(indices) if index in subset]
        if chosen and self.slow:
            started = time.perf_counter()
            grid = explain_grid(self.model, inputs[chosen], self.slow, CLASSES)
            slow = {m: torch.stack([grid[(m, c)].maps for c in CLASSES], 1) for m in self.slow}
            self._localise([indices[r] for r in chosen], slow, masks[chosen])
            self._timed("scorecam maps", len(chosen), started)
            for method, value in slow.items():
                maps[method] = value.new_full((len(indices), *value.shape[1:]), torch.nan)
                maps[method][chosen] = value
        for row in chosen:
            self._faithfulness(indices[row], inputs[row], {m: v[row] for m, v in maps.items()})

    def _record_predictions(self, indices: list[int], probs: torch.Tensor) -> None:
        threshold = self.model.config.threshold
        for row, index in enumerate(indices):
            self.quality.p_malignant[index] = float(probs[row, 1])
            self.quality.predicted[index] = int(probs[row, 1] >= threshold)

    def _localise(self, indices, maps: dict[str, torch.Tensor], masks: torch.Tensor) -> None:
        for name, per_class in maps.items():
            for cls in CLASSES:
                scores = localisation_scores(per_class[:, cls], masks)
                for metric, values in scores.items():
                    _store(self.quality, name, metric, indices, cls, values.numpy())

    def _sanity(self, indices, inputs: torch.Tensor, maps: dict[str, torch.Tensor]) -> None:
        per_stage = [_all_maps(stage, inputs, self.fast)[0] for stage in self.stages]
        for name, original in maps.items():
            for cls in CLASSES:
                rho = np.stack([spearman(original[:, cls], s[name][:, cls]) for s in per_stage], 1)
                sim = np.stack([ssim(original[:, cls], s[name][:, cls]) for s in per_stage], 1)
                _store(self.quality, name, "sanity_spearman", indices, cls, rho)
                _store(self.quality, name, "sanity_ssim", indices, cls, sim)

    def _faithfulness(self, index: int, image: torch.Tensor, maps: dict[str, torch.Tensor]):
        """Deletion/insertion, confidence change and ROAD for the predicted and true class."""
        label = int(self.quality.labels[index])
        wanted = sorted({int(self.quality.predicted[index]), *([label] if label >= 0 else [])})
        names = [n for n in maps if not torch.isnan(maps[n][wanted[0]]).any()]
        stacked = torch.stack([maps[n][c] for n in names for c in wanted])
        classes = torch.tensor([c for _ in names for c in wanted])
        keys = [(n, c) for n in names for c in wanted]
        started = time.perf_counter()
        deletion, insertion = faith.deletion_insertion(self.probabilities, image, stacked, classes)
        self._timed("deletion/insertion", 1, started)
        started = time.perf_counter()
        before, after = faith.confidence_change(self.probabilities, image, stacked, classes)
        self._timed("average drop/increase", 1, started)
        started = time.perf_counter()
        morf, lerf = faith.road(self.probabilities, image, stacked, classes)
        self._timed("ROAD", 1, started)
        values = {
            "deletion_curve": deletion,
            "insertion_curve": insertion,
            "deletion_auc": faith.curve_auc(deletion),
            "insertion_auc": faith.curve_auc(insertion),
            "average_drop": faith.average_drop(before, after),
            "increase_in_confidence": faith.increase_in_confidence(before, after),
            "road_morf": morf,
            "road_lerf": lerf,
        }
        for position, (name, cls) in enumerate(keys):
            for metric, array in values.items():
                _store(self.quality, name, metric, [index], cls, array[position : position + 1])


def _pooled_features(model: SkinClassifier, dataset: MaskedImages, count: int = 256):
    """Pooled last-layer features of up to ``count`` images, for the random-label head."""
    pooled = []
    loader = DataLoader(dataset, batch_size=32, collate_fn=as_list)
    for items in loader:
        good = [item[1] for item in items if len(item) == 3]
        if good:
            _, features, _ = model.logits_features_and_gate_input(torch.stack(good))
            pooled.append(features.mean(dim=(2, 3)).cpu())
        if sum(len(p) for p in pooled) >= count:
            break
    if not pooled:
        raise ValueError("none of the images could be read")
    return torch.cat(pooled)[:count]


def score_explanations(
    model: SkinClassifier,
    samples: Sequence[MaskedImage],
    methods: Sequence[str],
    faithfulness_images: int = 32,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> QualityScores:
    """Score ``methods`` and the baselines on every masked image (Score-CAM and the
    faithfulness metrics on a seeded subset of ``faithfulness_images``)."""
    count = len(samples)
    quality = QualityScores(
        methods=list(methods),
        labels=np.array([-1 if s.label is None else s.label for s in samples]),
        predicted=np.full(count, -1),
        p_malignant=np.full(count, np.nan),
        paths=[str(s.path) for s in samples],
    )
    config = model.config
    dataset = MaskedImages(list(samples), config.input_size, config.mean, config.std)
    evaluator = _Evaluator(model, methods, quality, _pooled_features(model, dataset))
    subset = faithfulness_subset(samples, faithfulness_images)
    for items in DataLoader(dataset, batch_size=batch_size, collate_fn=as_list):
        good = [item for item in items if len(item) == 3]
        for item in items:
            if len(item) == 2:
                quality.failed.append({"file": quality.paths[item[0]], "error": item[1]})
        if good:
            indices = [item[0] for item in good]
            inputs = torch.stack([item[1] for item in good])
            masks = torch.stack([item[2] for item in good])
            evaluator.batch(indices, inputs, masks, subset)
        if progress:
            progress(len(items))
    return quality
