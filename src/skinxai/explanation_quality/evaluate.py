"""One explain-eval run end to end: masked set -> per-image scores -> summary -> files."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from skinxai.explain import METHODS
from skinxai.explanation_quality.report import write_report
from skinxai.explanation_quality.run import SLOW_METHODS, score_explanations
from skinxai.explanation_quality.samples import MaskedSet, masked_set
from skinxai.explanation_quality.summary import summarise
from skinxai.model import SkinClassifier
from skinxai.precision import computed_in

DEFAULT_METHODS = ("cam", "gradcam", "gradcam++", "layercam", "hirescam", "xgradcam", "eigencam")


def check_methods(methods: Sequence[str], faithfulness_images: int) -> list[str]:
    """The methods as given, lower-cased; a ValueError names an unknown one or a slow one
    asked for without a subset to run it on."""
    chosen = [m.strip().lower() for m in methods if m.strip()]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(METHODS)}"
        )
    slow = [m for m in chosen if m in SLOW_METHODS]
    if slow and faithfulness_images == 0:
        raise ValueError(f"{slow[0]} runs on the faithfulness subset: set --faithfulness-images")
    return chosen


def explain_eval(
    model: SkinClassifier,
    data: str,
    out: Path,
    methods: Sequence[str] = DEFAULT_METHODS,
    masks: str | Path | None = None,
    faithfulness_images: int = 32,
    limit: int | None = None,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[MaskedSet], None] | None = None,
) -> tuple[dict, list[Path]]:
    """Score ``methods`` and the baselines on ``data`` and write the report into ``out``."""
    chosen = check_methods(methods, faithfulness_images)
    images = masked_set(data, masks)
    if limit is not None:
        images = MaskedSet(images.samples[:limit], images.without_mask)
    if on_start:
        on_start(images)
    started = time.perf_counter()
    quality = score_explanations(
        model, images.samples, chosen, faithfulness_images, batch_size, progress
    )
    summary = summarise(quality)
    summary.update(
        data=data,
        model=model.config.version,
        inference_precision=computed_in(model),
        without_mask=len(images.without_mask),
        wall_seconds=time.perf_counter() - started,
    )
    title = f"Explanation quality: {data}, model {model.config.version}"
    return summary, write_report(model, quality, images.samples, summary, out, title)
