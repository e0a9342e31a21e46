"""Maps on the photo as taken: a model whose evidence is known (brightness) must put its peak on
a bright blob planted in a non-square photo, in the photo's own pixels; the figures keep the
aspect ratio; the index of an ``explain`` run is rewritten after every batch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

from skinxai.explain import explain
from skinxai.explain.batch import explain_files
from skinxai.explain.core import peak_in_original
from skinxai.explain.render import photo_array, three_panels
from skinxai.model import ModelConfig

WIDTH, HEIGHT = 765, 572  # a common dermatoscope frame, 4:3 but not exactly


class BrightnessNet(nn.Module):
    """Evidence known by construction: the feature map is the image's brightness averaged on a
    7x7 grid, and the 'malignant' logit is its mean, so CAM for malignant is the brightness."""

    def __init__(self) -> None:
        super().__init__()
        self.config = ModelConfig(version="brightness-test")
        self.classifier = nn.Linear(1, 2)
        with torch.no_grad():
            self.classifier.weight.copy_(torch.tensor([[-1.0], [1.0]]))
            self.classifier.bias.zero_()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x.mean(dim=1, keepdim=True), 7)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(features.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def blob_photo(path: Path, centre: tuple[float, float], radius: int = 40) -> Path:
    """A dark 765x572 photo with one bright disc at ``centre`` = (x, y)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (40, 30, 30))
    x, y = centre
    ImageDraw.Draw(image).ellipse((x - radius, y - radius, x + radius, y + radius), "white")
    image.save(path)
    return path


# Blob centres at the centres of feature-grid cells (col 5, row 1) and (col 1, row 5).
CENTRES = [(5.5 * WIDTH / 7, 1.5 * HEIGHT / 7), (1.5 * WIDTH / 7, 5.5 * HEIGHT / 7)]


def test_peak_of_a_planted_blob_lands_on_it_in_the_photo(tmp_path: Path) -> None:
    paths = [blob_photo(tmp_path / f"blob{i}.png", c) for i, c in enumerate(CENTRES)]
    rows = list(
        explain_files(
            BrightnessNet(), paths, ["cam", "gradcam"], tmp_path / "out", target="malignant"
        )
    )
    for row, (x, y) in zip(rows, CENTRES, strict=True):
        assert row.error is None
        for method in ("cam", "gradcam"):
            peak_x, peak_y = row.methods[method]["peak_original_xy"]
            assert abs(peak_x - x) < 40 and abs(peak_y - y) < 40, (method, row.methods)
    # The same through the Python API: the model's square input, the map in the photo's frame.
    result = explain(BrightnessNet(), _square_input(paths[0]), "cam", target="malignant")
    heat = result.map_in_frame(0, (HEIGHT, WIDTH))
    assert heat.shape == (HEIGHT, WIDTH)
    peak_x, peak_y = peak_in_original(heat, (WIDTH, HEIGHT))
    assert abs(peak_x - CENTRES[0][0]) < 40 and abs(peak_y - CENTRES[0][1]) < 40


def _square_input(path: Path) -> torch.Tensor:
    from skinxai.preprocessing import normalize, to_square_uint8

    config = ModelConfig()
    image = Image.open(path).convert("RGB")
    return normalize(to_square_uint8(image, config.input_size), config.mean, config.std)[None]


def test_map_in_frame_is_the_grid_upsampled_to_the_photo() -> None:
    raw = torch.zeros(1, 7, 7)
    raw[0, 2, 6] = 1.0
    result = explain(BrightnessNet(), torch.zeros(1, 3, 224, 224), "cam")
    result.raw = raw
    heat = result.map_in_frame(0, (HEIGHT, WIDTH))
    row, col = divmod(int(heat.flatten().argmax()), WIDTH)
    assert int(row * 7 / HEIGHT) == 2 and int(col * 7 / WIDTH) == 6
    assert float(heat.max()) == pytest.approx(1.0, abs=1e-6) and float(heat.min()) == 0.0


def test_photo_array_keeps_the_aspect_and_never_enlarges() -> None:
    assert photo_array(Image.new("RGB", (4032, 3024))).shape == (768, 1024, 3)
    assert photo_array(Image.new("RGB", (3024, 4032))).shape == (1024, 768, 3)
    assert photo_array(Image.new("RGB", (200, 150))).shape == (150, 200, 3)


def test_figure_keeps_the_photo_aspect_and_has_a_colour_bar(tmp_path: Path) -> None:
    photo = np.full((HEIGHT, WIDTH, 3), 120, dtype=np.uint8)
    heat = torch.rand(HEIGHT, WIDTH)
    wide, square = tmp_path / "wide.png", tmp_path / "square.png"
    three_panels(photo, {"cam": heat}, wide, "t", evidence_for="malignant")
    three_panels(photo[:, :HEIGHT], {"cam": heat[:, :HEIGHT]}, square, "t")
    wide_size, square_size = Image.open(wide).size, Image.open(square).size
    # Same width of panels; a 4:3 photo makes a lower figure than a square one.
    assert wide_size[1] < square_size[1]
    # The colour bar's column adds width on the right.
    assert wide_size[0] > square_size[0]


def test_index_is_rewritten_after_every_batch(tmp_path: Path, fanconic: Path) -> None:
    paths = sorted((fanconic / "test" / "benign").glob("*.jpg"))[:3]
    out = tmp_path / "out"
    out.mkdir()
    (out / "explanations.json").write_text('[{"file": "from an earlier run"}]')
    from skinxai.model import load_default_model
    from skinxai.precision import inference_precision

    rows = explain_files(load_default_model(), paths, ["cam"], out, batch_size=2)
    next(rows)  # the first batch (two files) is done and indexed; the old index is gone
    listed = json.loads((out / "explanations.json").read_text())
    assert [r["file"] for r in listed] == [str(p) for p in paths[:2]]
    assert {r["inference_precision"] for r in listed} == {inference_precision("auto", "cpu")}
    assert {r["figure"] for r in listed} == {p.name for p in out.glob("*.png")}
    assert "<img" in (out / "index.html").read_text()
    rest = list(rows)
    assert len(rest) == 2 and len(json.loads((out / "explanations.json").read_text())) == 3
