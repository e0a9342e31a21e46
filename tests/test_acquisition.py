"""The diagnosis-preserving changes of the shortcut benchmark do what their names say."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from skinxai.data.acquisition import DIAGNOSIS_PRESERVING, dark_vignette, jpeg, warmer
from skinxai.io import load_image


@pytest.fixture(scope="module")
def lesion(ham_root) -> Image.Image:
    return load_image(ham_root / "images" / "ISIC_0024306.jpg")


def test_every_change_keeps_an_rgb_photo_of_the_same_frame(lesion: Image.Image) -> None:
    for name, change in DIAGNOSIS_PRESERVING.items():
        changed = change(lesion)
        assert changed.mode == "RGB", name
        expected = lesion.size[::-1] if name == "rotate_90" else lesion.size
        assert changed.size == expected, name
    original = np.asarray(lesion)
    assert np.array_equal(np.asarray(DIAGNOSIS_PRESERVING["mirror"](lesion))[:, ::-1], original)
    assert np.array_equal(np.rot90(original), np.asarray(DIAGNOSIS_PRESERVING["rotate_90"](lesion)))


def test_jpeg_loses_more_at_lower_quality(lesion: Image.Image) -> None:
    # off the file's own 8x8 JPEG grid (re-saving at the file's own quality loses little)
    photo = lesion.resize((400, 300), Image.Resampling.BICUBIC)
    original = np.asarray(photo, dtype=float)
    error_75 = np.abs(np.asarray(jpeg(75)(photo), dtype=float) - original).mean()
    error_90 = np.abs(np.asarray(jpeg(90)(photo), dtype=float) - original).mean()
    assert 0 < error_90 < error_75 < 10


def test_warmer_light_and_the_vignette(lesion: Image.Image) -> None:
    original = np.asarray(lesion, dtype=float)
    warm = np.asarray(warmer(lesion), dtype=float)
    assert warm[..., 0].mean() > original[..., 0].mean()
    assert warm[..., 2].mean() < original[..., 2].mean()
    assert np.array_equal(warm[..., 1], original[..., 1])
    vignetted = np.asarray(dark_vignette(lesion), dtype=float)
    assert vignetted[0, 0].max() == 0 and vignetted[-1, -1].max() == 0  # corners black
    centre = (lesion.height // 2, lesion.width // 2)
    assert np.array_equal(vignetted[centre], original[centre])  # the lesion untouched
