"""Images that are not dermoscopic, for the "not a dermoscopic image" gate: the real photographs
and scans scikit-image ships (installed offline with it), and a few synthetic pictures a user
might send by mistake (blank pages, noise, screenshots of text)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# scikit-image's bundled data (no download): photographs, scans, micrographs, a fundus.
SKIMAGE_NAMES = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "checkerboard",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def _as_rgb(array: np.ndarray) -> Image.Image:
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        array = np.clip(array / max(float(array.max()), 1e-9) * 255, 0, 255).astype(np.uint8)
    return Image.fromarray(array).convert("RGB")


def natural_images() -> dict[str, Image.Image]:
    """scikit-image's bundled images that load offline, as RGB."""
    from skimage import data

    images = {}
    for name in SKIMAGE_NAMES:
        try:
            images[name] = _as_rgb(getattr(data, name)())
        except Exception:  # an image that would need a download: skip it
            continue
    return images


def _text_screenshot(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (800, 600), "white")
    draw = ImageDraw.Draw(image)
    words = ["patient", "report", "lesion", "dermoscopy", "clinic", "date", "the", "and", "of"]
    for line in range(28):
        text = " ".join(rng.choice(words, size=10))
        draw.text((20, 10 + line * 20), text, fill="black")
    return image


def _user_interface_screenshot() -> Image.Image:
    image = Image.new("RGB", (1024, 640), (240, 242, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1024, 48), fill=(29, 53, 87))
    draw.text((16, 16), "Electronic health record - skin clinic", fill="white")
    for row in range(8):
        draw.rectangle((40, 80 + row * 60, 980, 120 + row * 60), outline=(180, 180, 190))
        draw.text((56, 92 + row * 60), f"Appointment {row + 1}: follow-up", fill=(20, 20, 20))
    return image


def synthetic_images() -> dict[str, Image.Image]:
    """Blank, grey and noise images and screenshots of text, made here."""
    rng = np.random.default_rng(0)
    return {
        "blank-white": Image.new("RGB", (640, 480), "white"),
        "blank-black": Image.new("RGB", (640, 480), "black"),
        "grey": Image.new("RGB", (640, 480), (128, 128, 128)),
        "noise": Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)),
        "text-screenshot-1": _text_screenshot(1),
        "text-screenshot-2": _text_screenshot(2),
        "ui-screenshot": _user_interface_screenshot(),
    }
