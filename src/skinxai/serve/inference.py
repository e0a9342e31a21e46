"""The work behind the API: decode, predict, explain, encode PNGs. Runs in a worker thread."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image

from skinxai.explain import explain_methods
from skinxai.explain.render import heatmap, input_image, overlay
from skinxai.io import load_image
from skinxai.model import SkinClassifier

MAX_PIXELS = 50_000_000


def _png_base64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def prediction(model: SkinClassifier, data: bytes) -> dict:
    """Label, per-class probabilities and model version for one uploaded image."""
    return _prediction_fields(
        model, model.predict_proba(load_image(data, max_pixels=MAX_PIXELS))[0]
    )


def _prediction_fields(model: SkinClassifier, probs: torch.Tensor) -> dict:
    """The JSON fields of a prediction from one image's class probabilities."""
    names = model.config.class_names
    p_malignant = float(probs[1])
    return {
        "label": names[int(p_malignant >= model.config.threshold)],
        "probabilities": {name: float(p) for name, p in zip(names, probs, strict=True)},
        "threshold": model.config.threshold,
        "model_version": model.config.version,
    }


def explanation(
    model: SkinClassifier, data: bytes, methods: list[str], target: str | int | None, opacity: float
) -> dict:
    """The prediction plus, per method, a heat map and an overlay (PNG, base64) and the raw
    low-resolution map as numbers."""
    batch = model.to_batch(load_image(data, max_pixels=MAX_PIXELS))
    explanations = explain_methods(model, batch, methods, target)
    result = _prediction_fields(model, next(iter(explanations.values())).probs[0])
    picture = input_image(batch, 0, model.config.mean, model.config.std)
    maps = {}
    for method, explained in explanations.items():
        heat = explained.maps[0]
        raw = explained.raw[0]
        maps[method] = {
            "target": model.config.class_names[int(explained.targets[0])],
            "overlay_png": _png_base64(overlay(picture, heat, opacity)),
            "heatmap_png": _png_base64(heatmap(heat)),
            "peak_row_col": list(explained.peak()[0]),
            "raw_shape": list(raw.shape),
            "raw": raw.float().cpu().numpy().round(6).tolist() if raw.dim() == 2 else None,
        }
    result["image_png"] = _png_base64(picture)
    result["explanations"] = maps
    return result
