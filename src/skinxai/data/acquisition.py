"""Changes of acquisition that keep the diagnosis: how the photo was saved, scaled, lit or
held. A model that reads the lesion gives the same answer before and after each."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image


def jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    """Re-encode as JPEG at ``quality`` (as a phone, a PACS or a web upload would)."""

    def reencode(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return decoded.convert("RGB")

    return reencode


def half_resolution(image: Image.Image) -> Image.Image:
    """Downscale to 50% and back: the detail a lower-resolution camera would lose."""
    small = image.resize(
        (max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.BICUBIC
    )
    return small.resize(image.size, Image.Resampling.BICUBIC)


def warmer(image: Image.Image, shift: float = 0.1) -> Image.Image:
    """A colour-temperature shift: red up and blue down by ``shift`` (warmer light)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    pixels = pixels * np.array([1 + shift, 1.0, 1 - shift], dtype=np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))


def rim_weights(height: int, width: int, radius: float, softness: float) -> np.ndarray:
    """(height, width) float32 weights of a dermatoscope's dark rim: 1 inside a centred circle
    whose radius is ``radius`` of half the shorter side, 0 outside, a ramp ``softness`` wide."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.hypot(x - (width - 1) / 2, y - (height - 1) / 2) / (min(width, height) / 2)
    return np.clip((radius - distance) / softness, 0, 1)


def dark_vignette(image: Image.Image, radius: float = 0.95, softness: float = 0.08) -> Image.Image:
    """The dark circle of many dermatoscopes: black outside a centred circle whose radius is
    ``radius`` of half the shorter side, with a soft edge."""
    keep = rim_weights(image.height, image.width, radius, softness)[..., None]
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) * keep
    return Image.fromarray(pixels.round().astype(np.uint8))


def mirrored(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def rotated_90(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.ROTATE_90)


DIAGNOSIS_PRESERVING: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg_q75": jpeg(75),
    "jpeg_q90": jpeg(90),
    "half_resolution": half_resolution,
    "warmer_light": warmer,
    "dark_vignette": dark_vignette,
    "mirror": mirrored,
    "rotate_90": rotated_90,
}
