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


def test_a_drawn_wide_circle_is_found_and_cropped_away(lesion: Image.Image) -> None:
    from skinxai.data.acquisition import WIDE_CIRCLE_RADII, black_circle, bright_field_box

    assert bright_field_box(lesion) is None  # HAM10000's photo has no circle
    for radius in WIDE_CIRCLE_RADII:
        circled = black_circle(radius)(lesion)
        pixels = np.asarray(circled)
        short = min(lesion.size)
        assert pixels[0, 0].max() == 0 and pixels[lesion.height // 2, 0].max() == 0
        left, top, right, bottom = bright_field_box(circled)
        # the largest square inside the field: its side is the diameter over sqrt(2)
        assert right - left == pytest.approx(radius * short / np.sqrt(2), abs=4)
        assert (left + right) / 2 == pytest.approx(lesion.width / 2, abs=2)
        inside = np.asarray(circled.crop((left, top, right, bottom)))
        assert (inside.max(axis=2) < 20).mean() < 0.01  # no black left in the crop


def test_melanoma10k_circles_sit_on_malignant_photos(data_dir) -> None:
    """The shortcut the benchmark measures, on the real photos: a circle on a fifth or more
    of melanoma10k val's malignant photos and on almost no benign one."""
    from skinxai.data.acquisition import bright_field_box

    root = data_dir / "melanoma10k" / "val"
    found = {
        label: sum(
            bright_field_box(Image.open(p)) is not None
            for p in sorted((root / label).glob("*.jpg"))[:200]
        )
        for label in ("benign", "malignant")
    }
    assert found["malignant"] >= 40 and found["benign"] <= 2


def test_training_draws_the_wide_circle_on_images_and_never_on_masks(lesion: Image.Image) -> None:
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    from skinxai.data.acquisition_augment import wide_black_circle

    image = tv_tensors.Image(v2.functional.pil_to_tensor(lesion.resize((224, 224))))
    mask = tv_tensors.Mask(torch.ones(1, 224, 224, dtype=torch.uint8))
    circled, kept = wide_black_circle(p=1.0)(image, mask)
    assert circled[:, 112, 0].max() == 0 and circled[:, 0, 0].max() == 0  # black to 0.8 of r
    assert torch.equal(circled[:, 100:124, 100:124], image[:, 100:124, 100:124])
    assert torch.equal(kept, mask)
    untouched, _ = wide_black_circle(p=0.0)(image, mask)
    assert torch.equal(untouched, image)
