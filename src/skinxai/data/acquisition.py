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


# The bright field of the wide black dermatoscope circle on Barcelona's photos (melanoma10k):
# its radius is 0.55-0.8 of half the shorter side. On about half of melanoma10k's malignant
# training images and almost no benign one, so a model can learn "circle => malignant".
WIDE_CIRCLE_RADII = (0.55, 0.8)


def black_circle(radius: float = 0.675) -> Callable[[Image.Image], Image.Image]:
    """A wide black circle with a hard edge, as Barcelona's dermatoscope leaves it: black
    outside a centred circle of ``radius`` of half the shorter side."""

    def draw(image: Image.Image) -> Image.Image:
        return dark_vignette(image, radius=radius, softness=0.02)

    return draw


def bright_field_box(image: Image.Image, dark: int = 30) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the largest square inside a photo's bright round field,
    when the photo has a black circle around it (its four corners black); None for a photo
    without one. Cropping to it removes the circle."""
    grey = np.asarray(image.convert("L"), dtype=np.uint8)
    height, width = grey.shape
    corner = max(2, min(height, width) // 20)
    corners = [grey[:corner, :corner], grey[:corner, -corner:], grey[-corner:, :corner]]
    corners.append(grey[-corner:, -corner:])
    if max(float(np.mean(c)) for c in corners) >= dark:
        return None
    rows, cols = np.nonzero(grey >= dark)
    if len(rows) == 0:
        return None
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    # the disc's inscribed square; a disc cut by the frame has its radius from the longer side
    half = max(bottom - top, right - left) / 2 / np.sqrt(2)
    half = min(half, centre_x, centre_y, width - centre_x, height - centre_y)
    if half < 8:
        return None
    box = (centre_x - half, centre_y - half, centre_x + half, centre_y + half)
    return tuple(int(np.rint(v)) for v in box)


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
    "wide_black_circle": black_circle(),
    "mirror": mirrored,
    "rotate_90": rotated_90,
}
