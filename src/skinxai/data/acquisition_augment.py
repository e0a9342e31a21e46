"""Random changes of acquisition for training: resolution, colour temperature, gamma and the
dark circle of a dermatoscope. They touch the image only; a lesion mask passed beside it
(``tv_tensors.Mask``) goes through unchanged, so geometric transforms keep the two aligned.

All take uint8 (3, H, W) tensors, as the decoded training cache holds them.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from skinxai.data.acquisition import WIDE_CIRCLE_RADII, rim_weights


class _ImageOnly(v2.Transform):
    """A random photometric change applied with probability ``p`` to images, never to masks."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if bool(torch.rand(()) >= self.p):
            return {"apply": False}
        return {"apply": True, **self.draw()}

    def draw(self) -> dict[str, Any]:
        return {}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not params["apply"] or isinstance(inpt, tv_tensors.Mask):
            return inpt
        out = self.change(inpt.as_subclass(torch.Tensor).float(), params)
        result = out.clamp(0, 255).round().to(torch.uint8)
        return tv_tensors.wrap(result, like=inpt) if isinstance(inpt, tv_tensors.Image) else result

    def change(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError


def _uniform(low: float, high: float) -> float:
    return float(torch.empty(()).uniform_(low, high))


class RandomResolution(_ImageOnly):
    """Downscale by a random factor and scale back up, so that sharpness carries no label.

    fanconic images are sharper than HAM10000's 200x150 images upsampled to the input size; a
    network trained on both otherwise learns the source (and its class mix) from sharpness.
    """

    def __init__(self, min_scale: float = 0.6, p: float = 0.5) -> None:
        super().__init__(p)
        self.min_scale = min_scale

    def draw(self) -> dict[str, Any]:
        return {"scale": _uniform(self.min_scale, 1.0)}

    def change(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        height, width = image.shape[-2:]
        small = [max(8, round(height * params["scale"])), max(8, round(width * params["scale"]))]
        reduced = TF.resize(image, small, antialias=True)
        return TF.resize(reduced, [height, width], antialias=True)


class ColourTemperature(_ImageOnly):
    """Warmer or cooler light: red times (1 + s), blue times (1 - s), s in [-shift, shift]."""

    def __init__(self, shift: float = 0.15, p: float = 0.5) -> None:
        super().__init__(p)
        self.shift = shift

    def draw(self) -> dict[str, Any]:
        return {"s": _uniform(-self.shift, self.shift)}

    def change(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        s = params["s"]
        gains = torch.tensor([1 + s, 1.0, 1 - s], dtype=image.dtype).view(-1, 1, 1)
        return image * gains


class RandomGamma(_ImageOnly):
    """A camera's tone curve: 255 * (x / 255) ** gamma, gamma in [low, high]."""

    def __init__(self, low: float = 0.7, high: float = 1.4, p: float = 0.5) -> None:
        super().__init__(p)
        self.low, self.high = low, high

    def draw(self) -> dict[str, Any]:
        return {"gamma": _uniform(self.low, self.high)}

    def change(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        return 255.0 * (image / 255.0).pow(params["gamma"])


class RandomDarkVignette(_ImageOnly):
    """Black outside a centred circle (a dermatoscope's rim), radius a random share of half
    the shorter side, with a soft edge: ``acquisition.dark_vignette``'s rim, drawn at random."""

    def __init__(
        self,
        min_radius: float = 0.8,
        max_radius: float = 1.3,
        p: float = 0.3,
        softness: tuple[float, float] = (0.02, 0.2),
    ) -> None:
        super().__init__(p)
        self.min_radius, self.max_radius = min_radius, max_radius
        self.softness = softness

    def draw(self) -> dict[str, Any]:
        return {
            "radius": _uniform(self.min_radius, self.max_radius),
            "softness": _uniform(*self.softness),
        }

    def change(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        height, width = image.shape[-2:]
        keep = rim_weights(height, width, params["radius"], params["softness"])
        return image * torch.from_numpy(keep).to(image.dtype)


def wide_black_circle(p: float) -> RandomDarkVignette:
    """Barcelona's wide black circle (``acquisition.WIDE_CIRCLE_RADII``, a hard edge) drawn with
    probability ``p`` on images of either class, so that a circle says nothing of the label
    (melanoma10k has one on 43% of its malignant training photos and 0.2% of its benign)."""
    low, high = WIDE_CIRCLE_RADII
    return RandomDarkVignette(min_radius=low, max_radius=high, p=p, softness=(0.01, 0.04))


def acquisition_changes() -> list[v2.Transform]:
    """The random acquisition changes of the ``acquisition`` training recipe, in order."""
    return [
        RandomResolution(min_scale=0.4, p=0.5),
        v2.RandomApply([v2.JPEG(quality=(40, 100))], p=0.5),
        ColourTemperature(shift=0.15, p=0.5),
        RandomGamma(p=0.5),
        RandomDarkVignette(p=0.3),
    ]
