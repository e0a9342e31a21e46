"""The work behind the API: decode, predict, explain, encode PNGs. Runs in a worker thread."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image

from skinxai.explain import Explanation, explain_grid
from skinxai.explain.core import peak_in_original
from skinxai.explain.render import heatmap, input_image, overlay, photo_array
from skinxai.io import load_image
from skinxai.model import SkinClassifier
from skinxai.ood_gate import not_dermoscopic

MAX_PIXELS = 50_000_000


def _png_base64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _refuse_if_not_dermoscopic(accepted: torch.Tensor | None) -> None:
    if accepted is not None and not bool(accepted[0]):
        raise not_dermoscopic("The uploaded image")


def prediction(model: SkinClassifier, data: bytes) -> dict:
    """Label, decision, per-class probabilities and model version for one uploaded image."""
    probs, accepted = model.predict_with_gate(
        model.to_batch(load_image(data, max_pixels=MAX_PIXELS))
    )
    _refuse_if_not_dermoscopic(accepted)
    return _prediction_fields(model, probs[0])


def _prediction_fields(model: SkinClassifier, probs: torch.Tensor) -> dict:
    """The JSON fields of a prediction from one image's class probabilities."""
    names = model.config.class_names
    p_malignant = float(probs[1])
    return {
        "label": model.config.label(p_malignant),
        "decision": model.config.decision(p_malignant),
        "probabilities": {name: float(p) for name, p in zip(names, probs, strict=True)},
        "threshold": model.config.threshold,
        "uncertain_band": model.config.uncertain_band,
        "model_version": model.config.version,
        "inference_precision": model.precision,
    }


def _map_fields(
    model: SkinClassifier,
    explained: Explanation,
    picture: np.ndarray,
    original_size: tuple[int, int],
    opacity: float,
    with_overlay: bool,
) -> dict:
    """One method's map for one class: PNGs in the frame of ``picture``, peak, raw grid."""
    heat = explained.map_in_frame(0, picture.shape[:2])
    raw = explained.raw[0]
    return {
        "target": model.config.class_names[int(explained.targets[0])],
        "overlay_png": _png_base64(overlay(picture, heat, opacity)) if with_overlay else None,
        "heatmap_png": _png_base64(heatmap(heat)),
        "peak_row_col": list(explained.peak()[0]),
        "peak_original_xy": peak_in_original(heat, original_size),
        "raw_shape": list(raw.shape),
        "raw": raw.float().cpu().numpy().round(6).tolist() if raw.dim() == 2 else None,
    }


def _concept_fields(
    model: SkinClassifier, batch: torch.Tensor, picture: np.ndarray, opacity: float, overlay_: bool
) -> dict:
    """The checklist reading, each criterion with its concept map in the frame of ``picture``."""
    from skinxai.concepts.reading import concept_row, read_concepts

    reading = read_concepts(model, batch)
    row = concept_row(reading, 0)
    for k, criterion in enumerate(row["criteria"]):
        heat = reading.map_in_frame(0, k, picture.shape[:2])
        criterion["heatmap_png"] = _png_base64(heatmap(heat))
        blended = overlay(picture, heat, opacity) if overlay_ else None
        criterion["overlay_png"] = None if blended is None else _png_base64(blended)
    return row


def explanation(
    model: SkinClassifier,
    data: bytes,
    methods: list[str],
    target: str | int | None,
    opacity: float,
    size: str = "model",
    both_classes: bool = False,
    with_overlay: bool = True,
    concepts: bool = False,
) -> dict:
    """The prediction plus, per method, a heat map and an overlay (PNG, base64) and the raw
    low-resolution map as numbers. ``size="original"`` draws them on the photo as taken (its
    own aspect ratio, long side at most 1024 px) instead of the model's square input;
    ``both_classes`` adds every class's maps under ``explanations_by_class``; ``concepts``
    the network's 7-point checklist reading with a map per criterion."""
    image = load_image(data, max_pixels=MAX_PIXELS)
    batch = model.to_batch(image)
    names = model.config.class_names
    targets = [target, *range(len(names))] if both_classes else [target]
    grid = explain_grid(model, batch, methods, targets)
    _refuse_if_not_dermoscopic(grid[(methods[0], 0)].extra.get("accepted"))
    result = _prediction_fields(model, grid[(methods[0], 0)].probs[0])
    if size == "original":
        picture = photo_array(image)
    else:
        picture = input_image(batch, 0, model.config.mean, model.config.std)

    def maps_for(position: int) -> dict:
        return {
            method: _map_fields(
                model, grid[(method, position)], picture, image.size, opacity, with_overlay
            )
            for method in methods
        }

    result["image_png"] = _png_base64(picture)
    result["image_size"] = {"width": picture.shape[1], "height": picture.shape[0]}
    result["original_size"] = {"width": image.width, "height": image.height}
    result["explanations"] = maps_for(0)
    if concepts:
        result["concepts"] = _concept_fields(model, batch, picture, opacity, with_overlay)
    if both_classes:
        result["explanations_by_class"] = {
            name: maps_for(position + 1) for position, name in enumerate(names)
        }
    return result
