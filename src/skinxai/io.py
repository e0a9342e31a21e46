"""Image decoding and validation: the one place where bad input is caught.

Every image that enters skinxai (CLI, API, datasets) passes through :func:`load_image`, which
returns an 8-bit RGB :class:`PIL.Image.Image` or raises an :class:`ImageInputError` whose
message a clinician can read.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 32
MAX_PIXELS = 50_000_000

ImageSource = str | os.PathLike | bytes | BinaryIO | Image.Image


class ImageInputError(ValueError):
    """An input that cannot be used as an image; ``code`` names the reason for machines."""

    code = "invalid_image"


class UnreadablePathError(ImageInputError):
    code = "unreadable_path"


class EmptyFileError(ImageInputError):
    code = "empty_file"


class NotAnImageError(ImageInputError):
    code = "not_an_image"


class CorruptImageError(ImageInputError):
    code = "corrupt_image"


class ImageTooSmallError(ImageInputError):
    code = "image_too_small"


class ImageTooLargeError(ImageInputError):
    code = "image_too_large"


def _describe(source: ImageSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.fspath(source)}'"
    return "the uploaded image"


def _read_bytes(source: str | os.PathLike | bytes | BinaryIO) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise UnreadablePathError(f"{_describe(source)} does not exist.")
        if path.is_dir():
            raise UnreadablePathError(f"{_describe(source)} is a folder, not an image file.")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise UnreadablePathError(
                f"{_describe(source)} cannot be read ({exc.strerror or exc})."
            ) from exc
    return source.read()


def _open_checked(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Open the header, reject non-images and oversize images before decoding pixels."""
    if not data:
        raise EmptyFileError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's warning; its hard error stays a backstop.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"{name} is too large to process safely (limit {max_pixels / 1e6:.0f} megapixels)."
        ) from exc
    except UnidentifiedImageError as exc:
        raise NotAnImageError(
            f"{name} is not an image file (or not in a supported image format)."
        ) from exc
    except Exception as exc:  # decoders raise anything: OSError, RuntimeError, struct.error...
        raise CorruptImageError(f"{name} is damaged and cannot be decoded ({exc}).") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f} megapixels."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmallError(
            f"{name} is {width}x{height} pixels; each side must be at least {MIN_SIDE} pixels."
        )
    return image


def _high_bit_depth_to_8bit(image: Image.Image, name: str) -> Image.Image:
    """Scale 16-bit or 32-bit integer and float grey images to 8 bits, keeping the full range;
    a float image with NaN or infinite pixels is refused (it has no range to keep)."""
    array = np.asarray(image)
    if image.mode == "F":
        array = array.astype(np.float64)
        if not np.isfinite(array).all():
            raise CorruptImageError(
                f"{name} has pixels that are not numbers (NaN or infinity); "
                "save it with finite values."
            )
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
        return Image.fromarray(np.round(scaled * 255).astype(np.uint8), mode="L")
    array = array.astype(np.int64)
    # "I" images from 16-bit files hold 0..65535; anything wider is scaled by its own maximum.
    full_scale = 65535 if array.max(initial=0) <= 65535 else int(array.max())
    scaled = np.clip(array, 0, None) * 255 / full_scale
    return Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")


def to_rgb(image: Image.Image, name: str = "the image") -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = _high_bit_depth_to_8bit(image, name)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``source`` (path, bytes, binary file or PIL image) into a validated RGB image.

    Applies EXIF orientation and rejects empty, non-image, corrupt, tiny (< 32 px on a side)
    and huge (> ``max_pixels``) inputs with an :class:`ImageInputError`.
    """
    name = _describe(source)
    if isinstance(source, Image.Image):
        image = source
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLargeError(f"{name} has more than {max_pixels / 1e6:.0f} megapixels.")
        if min(width, height) < MIN_SIDE:
            raise ImageTooSmallError(
                f"{name} is {width}x{height} pixels; each side must be at least {MIN_SIDE} pixels."
            )
        return _decoded_rgb(image, name)
    return _decoded_rgb(_open_checked(_read_bytes(source), name, max_pixels), name)


def _decoded_rgb(image: Image.Image, name: str) -> Image.Image:
    """Decode the pixels, apply EXIF orientation and convert to RGB; any failure of a decoder
    (they raise OSError, RuntimeError, struct.error, ...) becomes a CorruptImageError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decoder chatter is not for the user's terminal
            image.load()
            return to_rgb(ImageOps.exif_transpose(image), name)
    except ImageInputError:
        raise
    except MemoryError as exc:
        raise ImageTooLargeError(f"{name} needs more memory to decode than is available.") from exc
    except Exception as exc:
        raise CorruptImageError(
            f"{name} is damaged or truncated and cannot be decoded ({exc})."
        ) from exc
