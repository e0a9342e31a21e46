"""Every kind of bad and unusual image input, generated on the fly."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinxai.io import (
    CorruptImageError,
    EmptyFileError,
    ImageInputError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    UnreadablePathError,
    load_image,
)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression-bomb stand-in)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def gradient_rgb(width: int = 64, height: int = 48) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    array = np.stack([np.tile(x, (height, 1))] * 3, axis=-1)
    array[..., 1] = 100
    return Image.fromarray(array, "RGB")


def test_rgb_jpeg_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ok.jpg"
    path.write_bytes(encode(gradient_rgb(), "JPEG"))
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (64, 48)


@pytest.mark.parametrize("as_type", [str, Path])
def test_path_types(tmp_path: Path, as_type) -> None:
    path = tmp_path / "ok.png"
    gradient_rgb().save(path)
    assert load_image(as_type(path)).size == (64, 48)


def test_bytes_and_file_objects() -> None:
    data = encode(gradient_rgb(), "PNG")
    assert load_image(data).size == (64, 48)
    assert load_image(io.BytesIO(data)).size == (64, 48)


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(UnreadablePathError, match="does not exist"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(UnreadablePathError, match="folder"):
        load_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError, match="empty"):
        load_image(path)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_text("this is a note, not a photograph\n")
    with pytest.raises(NotAnImageError, match="not an image"):
        load_image(path)


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = encode(gradient_rgb(256, 256), "JPEG", quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImageError, match="damaged"):
        load_image(path)


def test_corrupt_png_body(tmp_path: Path) -> None:
    data = bytearray(encode(gradient_rgb(), "PNG"))
    data[60:120] = b"\x00" * 60
    with pytest.raises(CorruptImageError):
        load_image(bytes(data))


@pytest.mark.parametrize("size", [(1, 1), (31, 200), (200, 31)])
def test_too_small(size: tuple[int, int]) -> None:
    with pytest.raises(ImageTooSmallError, match="at least 32"):
        load_image(encode(Image.new("RGB", size), "PNG"))


def test_thirty_thousand_square_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLargeError, match=r"too large|megapixels"):
        load_image(png_header_only(30000, 30000))


def test_over_pillows_own_bomb_limit_is_a_clean_error() -> None:
    with pytest.raises(ImageTooLargeError):
        load_image(png_header_only(100_000, 100_000))


def test_custom_pixel_limit() -> None:
    with pytest.raises(ImageTooLargeError):
        load_image(encode(gradient_rgb(), "PNG"), max_pixels=1000)


def test_grey_becomes_rgb() -> None:
    image = load_image(encode(Image.new("L", (40, 40), 77), "PNG"))
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (77, 77, 77)


def test_sixteen_bit_grey_keeps_its_range() -> None:
    array = np.zeros((40, 40), dtype=np.uint16)
    array[:, 20:] = 65535
    array[:20, :20] = 32896  # 128 * 257
    image = load_image(encode(Image.fromarray(array), "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((30, 0)) == (255, 255, 255)
    assert image.getpixel((0, 0)) == (128, 128, 128)
    assert image.getpixel((0, 30)) == (0, 0, 0)


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (48, 48), (0, 255, 255, 0))  # pure red in CMYK
    image = load_image(encode(cmyk, "JPEG", quality=100))
    red, green, blue = image.getpixel((24, 24))
    assert image.mode == "RGB" and red > 200 and green < 60 and blue < 60


def test_rgba_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 255))
    rgba.paste((0, 0, 255, 0), (0, 0, 20, 40))  # left half fully transparent
    image = load_image(encode(rgba, "PNG"))
    assert image.getpixel((5, 5)) == (255, 255, 255)
    assert image.getpixel((35, 5)) == (255, 0, 0)


def test_palette_with_transparency() -> None:
    palette = Image.new("P", (40, 40), 0)
    palette.putpalette([0, 128, 0] + [10, 10, 10] * 255)
    palette.info["transparency"] = 0
    image = load_image(encode(palette, "PNG", transparency=0))
    assert image.getpixel((0, 0)) == (255, 255, 255)


def test_palette_without_transparency() -> None:
    palette = Image.new("P", (40, 40), 1)
    palette.putpalette([0, 0, 0, 0, 128, 0] + [0, 0, 0] * 254)
    assert load_image(encode(palette, "PNG")).getpixel((3, 3)) == (0, 128, 0)


def test_exif_orientation_is_applied() -> None:
    image = gradient_rgb(80, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    oriented = load_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert oriented.size == (40, 80)


def test_pil_input_is_validated_too() -> None:
    with pytest.raises(ImageTooSmallError):
        load_image(Image.new("RGB", (8, 8)))
    assert load_image(Image.new("LA", (40, 40))).mode == "RGB"


def test_errors_share_one_base_with_machine_codes() -> None:
    codes = {
        cls.code
        for cls in (
            UnreadablePathError,
            EmptyFileError,
            NotAnImageError,
            CorruptImageError,
            ImageTooSmallError,
            ImageTooLargeError,
        )
    }
    assert len(codes) == 6
    assert all(issubclass(cls, ImageInputError) for cls in (NotAnImageError, EmptyFileError))


# Hardening round two: rows 6, 8, 9 and 10 (the size in the message, truncated TIFF).


def test_a_named_pipe_is_refused_without_being_opened(tmp_path: Path) -> None:
    import os

    pipe = tmp_path / "p.jpg"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer forever
    with pytest.raises(UnreadablePathError, match="not a regular file"):
        load_image(pipe)


def test_the_size_in_the_message_is_the_real_one() -> None:
    with pytest.raises(ImageTooLargeError, match=r"\(50\.4 megapixels\); the limit is 50 "):
        load_image(png_header_only(7100, 7100))


def test_the_decoded_memory_budget_is_checked_from_the_header() -> None:
    from skinxai.io import MAX_DECODED_BYTES, decoded_bytes
    from tests.bad_input_corpus import png_claiming

    assert decoded_bytes("RGB", 100, 10) == 3000
    assert decoded_bytes("I;16", 100, 10) == 2000
    assert decoded_bytes("RGBA", 100, 10) == decoded_bytes("F", 100, 10) == 4000
    # 38 megapixels of 8-bit RGB pass the budget (no decode: the header lies); RGBA does not.
    assert 6200 * 6200 * 3 <= MAX_DECODED_BYTES < 6200 * 6200 * 4
    with pytest.raises(ImageTooLargeError, match=r"154 MB decoded .* 4 channels of 8 bits"):
        load_image(png_claiming(6200, 6200, colour_type=6))
    with pytest.raises(CorruptImageError):  # under the budget: decoding starts, the data is gone
        load_image(png_header_only(6200, 6200))


def test_sixteen_bit_conversion_in_blocks_matches_the_whole_image_formula() -> None:
    values = np.random.default_rng(3).integers(0, 65536, (2100, 600), dtype=np.uint16)
    image = load_image(encode(Image.fromarray(values), "PNG"))  # more than one block of rows
    expected = np.round(values.astype(np.int64) * 255 / 65535).astype(np.uint8)
    assert np.array_equal(np.asarray(image)[..., 0], expected)
    ramp = np.linspace(-3.0, 5.0, 2100 * 600, dtype=np.float32).reshape(2100, 600)
    floats = np.asarray(load_image(encode(Image.fromarray(ramp, "F"), "TIFF")))[..., 0]
    assert floats[0, 0] == 0 and floats[-1, -1] == 255
    wide = ramp.astype(np.float64)
    expected = np.round((wide - wide.min()) / (wide.max() - wide.min()) * 255).astype(np.uint8)
    assert np.array_equal(floats, expected)


@pytest.mark.parametrize("fmt", ["EPS", "PCX", "TGA", "PPM", "SGI"])
def test_formats_outside_the_list_never_reach_a_decoder(fmt: str) -> None:
    if fmt == "EPS":
        data = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n%%EOF\n"
    else:
        data = encode(gradient_rgb(), fmt)
        assert Image.open(io.BytesIO(data)).format == fmt  # Pillow itself would decode it
    with pytest.raises(NotAnImageError, match="not an image file in a supported format") as error:
        load_image(data)
    assert "Ghostscript" not in str(error.value)


@pytest.mark.parametrize("keep", [8, 50, 100, 1000])
def test_a_truncated_tiff_is_a_damaged_image(keep: int) -> None:
    data = encode(gradient_rgb(), "TIFF")
    with pytest.raises(CorruptImageError, match=r"TIFF|damaged"):
        load_image(data[:keep])


def test_a_huge_photo_is_box_reduced_first_with_the_same_model_input(ham_root: Path) -> None:
    """50 megapixels need no float copy of every pixel on the way to 224 px: the box-reduced
    path gives the direct antialiased resize's input within 2 grey levels."""
    import torch
    from torchvision.transforms.v2 import functional as TF

    from skinxai.preprocessing import to_square_uint8

    lesion = Image.open(ham_root / "images" / "ISIC_0024313.jpg").convert("RGB")
    huge = lesion.resize((lesion.width * 12, lesion.height * 12), Image.Resampling.BICUBIC)
    direct = TF.resize(
        TF.to_image(huge).as_subclass(torch.Tensor),
        [224, 224],
        interpolation=TF.InterpolationMode.BICUBIC,
        antialias=True,
    )
    difference = (to_square_uint8(huge, 224).int() - direct.int()).abs()
    assert difference.max() <= 2 and difference.float().mean() < 0.3
    small = to_square_uint8(lesion, 224)  # 200x150 (and the data sets' 600x450) untouched
    assert torch.equal(
        small,
        TF.resize(
            TF.to_image(lesion).as_subclass(torch.Tensor),
            [224, 224],
            interpolation=TF.InterpolationMode.BICUBIC,
            antialias=True,
        ),
    )
