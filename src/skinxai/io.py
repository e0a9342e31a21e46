"""Image decoding and validation: the one place where bad input is caught.

Every image that enters skinxai (CLI, API, datasets) passes through :func:`load_image`, which
returns an 8-bit RGB :class:`PIL.Image.Image` or raises an :class:`ImageInputError` whose
message a clinician can read.
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageMode, ImageOps, UnidentifiedImageError

MIN_SIDE = 32
MAX_PIXELS = 50_000_000
# The decoded pixels (pixels x channels x bits per sample / 8, as Pillow will hold them) may
# take at most this much memory: 50 megapixels of 8-bit RGB. Checked from the header, before any
# pixel is decoded, so that a small file cannot ask for gigabytes.
MAX_DECODED_BYTES = 150_000_000
# A file larger than its largest allowed decoding (uncompressed TIFF, BMP) plus its headers is
# refused before it is read into memory.
MAX_FILE_BYTES = MAX_DECODED_BYTES + 16 * 2**20
# The formats skinxai decodes (docs/web-app-and-api.md lists them); every other Pillow plugin
# (EPS with its Ghostscript step, PSD, PCX, ...) never sees the bytes. (JPEG's opener also
# reads MPO, the multi-picture JPEG of phones.)
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "TIFF", "WEBP", "AVIF", "BMP", "ICO")
# The first bytes of the allowed formats: a file that starts like one of them but does not open
# is a damaged image (corrupt_image), not "not an image".
_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("JPEG", b"\xff\xd8\xff", 0),
    ("PNG", b"\x89PNG\r\n\x1a\n", 0),
    ("GIF", b"GIF87a", 0),
    ("GIF", b"GIF89a", 0),
    ("TIFF", b"II*\x00", 0),
    ("TIFF", b"MM\x00*", 0),
    ("BMP", b"BM", 0),
    ("ICO", b"\x00\x00\x01\x00", 0),
    ("WEBP", b"WEBP", 8),
    ("AVIF", b"ftypavif", 4),
    ("AVIF", b"ftypavis", 4),
)

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
        return _read_file(Path(source), _describe(source))
    data = source.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImageTooLargeError(f"{_describe(source)} is larger than {_mb(MAX_FILE_BYTES)}.")
    return data


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def _read_file(path: Path, name: str) -> bytes:
    """The bytes of a regular file; a folder, a named pipe, a device or a socket is refused
    without opening it (reading a pipe would wait forever), and so is a file too large to be
    an image skinxai decodes."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise UnreadablePathError(f"{name} does not exist.") from None
    except OSError as exc:
        raise UnreadablePathError(f"{name} cannot be read ({exc.strerror or exc}).") from exc
    if stat.S_ISDIR(status.st_mode):
        raise UnreadablePathError(f"{name} is a folder, not an image file.")
    if not stat.S_ISREG(status.st_mode):
        raise UnreadablePathError(
            f"{name} is not a regular file (a named pipe, device or socket); "
            "give the image file itself."
        )
    if status.st_size > MAX_FILE_BYTES:
        raise ImageTooLargeError(
            f"{name} is {_mb(status.st_size)}; image files are limited to {_mb(MAX_FILE_BYTES)}."
        )
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UnreadablePathError(f"{name} cannot be read ({exc.strerror or exc}).") from exc


def _looks_like(data: bytes) -> str | None:
    """The allowed format whose signature ``data`` starts with, or None."""
    for fmt, signature, offset in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return fmt
    return None


def channels_and_bits(mode: str) -> tuple[int, int]:
    """Channels and bits per sample of a Pillow mode (4 x 8 for a mode Pillow cannot describe:
    the most any of its modes takes)."""
    try:
        described = ImageMode.getmode(mode)
    except KeyError:
        return 4, 8
    sample_bytes = np.dtype(described.typestr).itemsize if described.typestr else 1
    return len(described.bands), 8 * sample_bytes


def decoded_bytes(mode: str, width: int, height: int) -> int:
    """Memory the decoded pixels take: pixels x channels x bits per sample / 8 of the mode."""
    channels, bits = channels_and_bits(mode)
    return width * height * channels * bits // 8


def _open_checked(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Open the header, reject non-images and oversize images before decoding pixels."""
    if not data:
        raise EmptyFileError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's warning; its hard error stays a backstop.
            warnings.simplefilter("ignore")  # decoder chatter (corrupt EXIF, ...) included
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"{name} is too large to process safely (limit {max_pixels / 1e6:g} megapixels)."
        ) from exc
    except UnidentifiedImageError as exc:
        fmt = _looks_like(data)
        if fmt is not None:
            raise CorruptImageError(
                f"{name} starts like a {fmt} file but is damaged and cannot be decoded."
            ) from exc
        raise NotAnImageError(
            f"{name} is not an image file in a supported format ({', '.join(ALLOWED_FORMATS)})."
        ) from exc
    except Exception as exc:  # decoders raise anything: OSError, RuntimeError, struct.error...
        raise CorruptImageError(f"{name} is damaged and cannot be decoded ({exc}).") from exc
    _check_size(image, name, max_pixels)
    return image


def _check_size(image: Image.Image, name: str, max_pixels: int) -> None:
    """Refuse images over ``max_pixels`` or ``MAX_DECODED_BYTES`` decoded, or under 32 px."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels); "
            f"the limit is {max_pixels / 1e6:g} megapixels."
        )
    needed = decoded_bytes(image.mode, width, height)
    if needed > MAX_DECODED_BYTES:
        channels, bits = channels_and_bits(image.mode)
        raise ImageTooLargeError(
            f"{name} would take {_mb(needed)} decoded ({width}x{height} pixels, {channels} "
            f"channels of {bits} bits); the limit is {_mb(MAX_DECODED_BYTES)}."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmallError(
            f"{name} is {width}x{height} pixels; each side must be at least {MIN_SIDE} pixels."
        )


def _row_blocks(array: np.ndarray, pixels: int = 1 << 20) -> list[slice]:
    """Slices of about ``pixels`` pixels' worth of rows: conversions run block by block so that
    their temporaries stay a few MB, whatever the image's size."""
    rows = max(1, pixels // max(1, array.shape[1]))
    return [slice(start, start + rows) for start in range(0, array.shape[0], rows)]


def _high_bit_depth_to_8bit(image: Image.Image, name: str) -> Image.Image:
    """Scale 16-bit or 32-bit integer and float grey images to 8 bits, keeping the full range;
    a float image with NaN or infinite pixels is refused (it has no range to keep)."""
    array = np.asarray(image)
    blocks = _row_blocks(array)
    out = np.empty(array.shape, dtype=np.uint8)
    if image.mode == "F":
        low, high = math.inf, -math.inf
        for rows in blocks:
            block = array[rows]
            if not np.isfinite(block).all():
                raise CorruptImageError(
                    f"{name} has pixels that are not numbers (NaN or infinity); "
                    "save it with finite values."
                )
            low, high = min(low, float(block.min())), max(high, float(block.max()))
        for rows in blocks:
            if high > low:
                out[rows] = np.round((array[rows].astype(np.float64) - low) / (high - low) * 255)
            else:
                out[rows] = 0
        return Image.fromarray(out, mode="L")
    # "I" images from 16-bit files hold 0..65535; anything wider is scaled by its own maximum.
    maximum = int(array.max(initial=0))
    full_scale = 65535 if maximum <= 65535 else maximum
    for rows in blocks:
        out[rows] = np.round(np.clip(array[rows].astype(np.int64), 0, None) * 255 / full_scale)
    return Image.fromarray(out, mode="L")


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
        _check_size(source, name, max_pixels)
        return _decoded_rgb(source, name, owned=False)
    return _decoded_rgb(_open_checked(_read_bytes(source), name, max_pixels), name)


def _decoded_rgb(image: Image.Image, name: str, owned: bool = True) -> Image.Image:
    """Decode the pixels, apply EXIF orientation and convert to RGB; any failure of a decoder
    (they raise OSError, RuntimeError, struct.error, ...) becomes a CorruptImageError. An
    ``owned`` image (opened here) is turned in place, sparing a copy of its pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decoder chatter is not for the user's terminal
            image.load()
            if owned:
                ImageOps.exif_transpose(image, in_place=True)
            else:
                image = ImageOps.exif_transpose(image)
            return to_rgb(image, name)
    except ImageInputError:
        raise
    except MemoryError as exc:
        raise ImageTooLargeError(f"{name} needs more memory to decode than is available.") from exc
    except Exception as exc:
        raise CorruptImageError(
            f"{name} is damaged or truncated and cannot be decoded ({exc})."
        ) from exc
