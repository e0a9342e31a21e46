"""The bad-input corpus: every kind of hostile, broken or unusual file a client has sent us, with
the answer each must get (HTTP status and error code; the CLI's error code is the same).

Write it to a folder to try it by hand:  .venv/bin/python -m tests.bad_input_corpus OUT_DIR
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

OK = (200, None)
EMPTY = (422, "empty_file")
NOT_AN_IMAGE = (415, "not_an_image")
CORRUPT = (422, "corrupt_image")
TOO_SMALL = (422, "image_too_small")
TOO_LARGE = (422, "image_too_large")
# Decodable, but not a colour dermoscopic photo: the "not a dermoscopic image" gate refuses it.
NOT_DERMOSCOPIC = (422, "not_dermoscopic")


@dataclass(frozen=True)
class Case:
    """One file of the corpus and the answer it must get."""

    name: str
    data: bytes
    status: int
    code: str | None

    @property
    def usable(self) -> bool:
        return self.status == 200


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _lesion(size: tuple[int, int] | None = None) -> Image.Image:
    """A real dermoscopic photo (HAM10000 ISIC_0024313, 200x150), optionally resized."""
    from skinxai.data.paths import shared_data_dir

    photo = Image.open(shared_data_dir() / "ham10000" / "images" / "ISIC_0024313.jpg")
    photo = photo.convert("RGB")
    return photo.resize(size, Image.Resampling.BICUBIC) if size else photo


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int, pixels: bytes = b"", colour_type: int = 0) -> bytes:
    """A PNG whose header says ``width`` x ``height`` (grey, or colour type 6: RGBA); ``pixels``
    is the raw scanline data (filter bytes included) compressed into its IDAT."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(pixels, 9))
        + _png_chunk(b"IEND", b"")
    )


def _deflate_bomb() -> bytes:
    """10000x10000 grey pixels of zeros: ~100 KB on disk, 100 megapixels decoded."""
    width, height = 10_000, 10_000
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def _corrupt_avif() -> bytes:
    """A real AVIF with 8 bytes flipped where the decoder, not the header parser, fails (the
    kind of file that once made Pillow raise RuntimeError and the API answer 500)."""
    data = _encode(_lesion(), "AVIF", quality=60)
    for start in range(0, len(data) - 8, 8):
        broken = bytearray(data)
        broken[start : start + 8] = bytes(b ^ 0x5A for b in broken[start : start + 8])
        try:
            Image.open(io.BytesIO(bytes(broken))).load()
        except UnidentifiedImageError:
            continue
        except Exception:
            return bytes(broken)
    raise RuntimeError("no corruption of this AVIF breaks its decoder")


def _float_tiff(bad_value: float) -> bytes:
    pixels = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64)
    pixels[10, 10] = bad_value
    return _encode(Image.fromarray(pixels, "F"), "TIFF")


def _grey_16bit(image: Image.Image) -> Image.Image:
    """The image as a 16-bit greyscale picture (values spread over 0..65535)."""
    grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
    return Image.fromarray(grey)


def _exif_oriented(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(_lesion(), "JPEG", quality=90, exif=exif.tobytes())


def _palette(image: Image.Image) -> Image.Image:
    """256 colours chosen for this image, dithered: what a GIF or palette-PNG encoder (Pillow's
    GIF writer, pngquant, an image editor) makes of a photo."""
    return image.quantize(256, dither=Image.Dither.FLOYDSTEINBERG)


def _animated_gif() -> bytes:
    frames = [_palette(_lesion()), _lesion().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def _corrupt_middle_jpeg() -> bytes:
    data = bytearray(_encode(_lesion((128, 96)), "JPEG", quality=90))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(np.random.default_rng(1).integers(0, 256, 64, np.uint8))
    return bytes(data)


def grey_16bit_7000() -> bytes:
    """A 7000x7000 16-bit grey PNG of one value: 0.2 MB on disk, 98 MB decoded (it once took
    the server from 0.9 to 2.3 GB of memory on its way to 8 bits)."""
    return _encode(Image.fromarray(np.full((7000, 7000), 30_000, np.uint16)), "PNG")


def _eps() -> bytes:
    """A minimal Encapsulated PostScript file: Pillow's EPS plugin would run Ghostscript."""
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n"
        b"newpath 32 32 20 0 360 arc fill\nshowpage\n%%EOF\n"
    )


def build_corpus() -> list[Case]:
    """Every case, built in memory (about 1 s)."""
    lesion = _lesion()
    jpeg = _encode(lesion, "JPEG", quality=90)
    png = _encode(lesion, "PNG")
    cases = [
        Case("empty.jpg", b"", *EMPTY),
        Case("text-named.jpg", b"just some text, not a picture\n", *NOT_AN_IMAGE),
        Case("truncated.jpg", jpeg[: len(jpeg) // 3], *CORRUPT),
        Case("truncated.png", png[: len(png) // 2], *CORRUPT),
        # libjpeg decodes damaged entropy data into damaged pixels without an error: a real
        # image, garbled into stripes that no longer look like a lesion; the gate refuses it.
        Case("corrupt-middle.jpg", _corrupt_middle_jpeg(), *NOT_DERMOSCOPIC),
        Case(
            "drawing.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
            b'<circle cx="32" cy="32" r="20"/></svg>',
            *NOT_AN_IMAGE,
        ),
        Case(
            "page.html",
            b"<!doctype html><html><script>alert(1)</script><img src=x onerror=alert(2)></html>",
            *NOT_AN_IMAGE,
        ),
        Case(
            "document.pdf",
            b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n",
            *NOT_AN_IMAGE,
        ),
        # It starts as a GIF does and is not one: a damaged image, like a truncated one.
        Case("gif-js-polyglot.gif", b"GIF89a/*\x00\x00\x00\x00*/=1;alert(1);", *CORRUPT),
        Case("png-with-html-appended.png", png + b"<script>alert(1)</script>", *OK),
        Case("png-header-30000x30000.png", png_claiming(30_000, 30_000), *TOO_LARGE),
        Case("png-deflate-bomb-100mp.png", _deflate_bomb(), *TOO_LARGE),
        Case("one-pixel.png", _encode(Image.new("RGB", (1, 1)), "PNG"), *TOO_SMALL),
        Case("31x31.png", _encode(lesion.resize((31, 31)), "PNG"), *TOO_SMALL),
        Case("32x32.png", _encode(lesion.resize((32, 32)), "PNG"), *OK),
        Case("extreme-aspect-4000x32.png", _encode(lesion.resize((4000, 32)), "PNG"), *OK),
        Case("animated.gif", _animated_gif(), *OK),
        Case("image.tiff", _encode(lesion, "TIFF"), *OK),
        Case("image.webp", _encode(lesion, "WEBP", quality=80), *OK),
        Case("image.avif", _encode(lesion, "AVIF", quality=60), *OK),
        Case("corrupt.avif", _corrupt_avif(), *CORRUPT),
        Case("image.bmp", _encode(lesion, "BMP"), *OK),
        Case("image.ico", _encode(lesion.resize((64, 64)), "ICO"), *OK),
        Case(
            "grey-16bit.png",
            _encode(Image.fromarray(np.full((48, 64), 40_000, np.uint16)), "PNG"),
            *NOT_DERMOSCOPIC,  # decoded to 8-bit RGB, a flat grey field
        ),
        # the lesion without its colours, which the diagnosis depends on
        Case("grey.png", _encode(lesion.convert("L"), "PNG"), *NOT_DERMOSCOPIC),
        Case("grey-16bit-lesion.png", _encode(_grey_16bit(lesion), "PNG"), *NOT_DERMOSCOPIC),
        Case("cmyk.jpg", _encode(lesion.convert("CMYK"), "JPEG"), *OK),
        Case("rgba.png", _encode(lesion.convert("RGBA"), "PNG"), *OK),
        Case("palette.png", _encode(_palette(lesion), "PNG"), *OK),
        Case("float.tiff", _float_tiff(0.5), *NOT_DERMOSCOPIC),  # a grey ramp
        Case("float-nan.tiff", _float_tiff(float("nan")), *CORRUPT),
        Case("float-inf.tiff", _float_tiff(float("inf")), *CORRUPT),
        # Formats outside the README's list never reach a Pillow plugin.
        Case("image.eps", _eps(), *NOT_AN_IMAGE),
        Case("image.pcx", _encode(lesion, "PCX"), *NOT_AN_IMAGE),
        Case("image.tga", _encode(lesion, "TGA"), *NOT_AN_IMAGE),
        Case("image.ppm", _encode(lesion, "PPM"), *NOT_AN_IMAGE),
        Case("truncated.tiff", _encode(lesion, "TIFF")[:100], *CORRUPT),  # its IFD cut off
        # 38 megapixels, under the pixel limit, but 154 MB of RGBA decoded: over the budget.
        Case("png-header-rgba-6200x6200.png", png_claiming(6200, 6200, colour_type=6), *TOO_LARGE),
        Case("grey-16bit-7000x7000.png", grey_16bit_7000(), *NOT_DERMOSCOPIC),
    ]
    cases += [Case(f"exif-orientation-{o}.jpg", _exif_oriented(o), *OK) for o in (3, 6, 8)]
    return cases


def write_corpus(folder: Path) -> list[Case]:
    """Write every case into ``folder`` (created if needed) and return them."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = build_corpus()
    for case in cases:
        (folder / case.name).write_bytes(case.data)
    return cases


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "out/bad-inputs")
    written = write_corpus(target)
    print(f"wrote {len(written)} files to {target}")
