"""``explain``: CAM-family maps for a batch, batched and kept on the model's device.

The default layer is the last feature map, reached through ``model.features`` /
``model.head`` with no hooks; only the head is differentiated, so Grad-CAM there costs about
one forward pass. A named layer is captured by a hook that lives inside a context manager.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from skinxai.data.canonical import upright_gradient, upright_mean
from skinxai.explain.cam import cam_for_targets
from skinxai.explain.gradient import GRADIENT_METHODS, eigencam
from skinxai.explain.guided import guided_backprop
from skinxai.explain.hooks import capture_layer, find_layer
from skinxai.explain.perturbation import (
    inference_forward,
    masked_scores,
    scorecam_from_scores,
)

METHODS: tuple[str, ...] = (
    "cam",
    "gradcam",
    "gradcam++",
    "hirescam",
    "xgradcam",
    "layercam",
    "eigencam",
    "scorecam",
    "guided-backprop",
    "guided-gradcam",
)
TargetSpec = int | str | Sequence[int | str] | torch.Tensor | None


@dataclass
class Explanation:
    """Maps for a batch: ``maps`` (B, H, W) in [0, 1] at the input resolution; ``raw`` before
    normalisation, on the feature grid (B, h, w) or, for guided methods, the input gradient
    (B, 3, H, W); ``probs`` (B, K, calibrated as in ``predict_proba``); ``targets``
    (B,); ``inputs`` the preprocessed batch."""

    method: str
    maps: torch.Tensor
    raw: torch.Tensor
    probs: torch.Tensor
    targets: torch.Tensor
    inputs: torch.Tensor
    layer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def peak(self) -> list[tuple[int, int]]:
        """(row, column) of each map's maximum, at the input resolution."""
        flat = self.maps.flatten(1).argmax(dim=1)
        width = self.maps.shape[-1]
        return [(int(i) // width, int(i) % width) for i in flat]

    def map_in_frame(self, index: int, size: tuple[int, int]) -> torch.Tensor:
        """Image ``index``'s map in [0, 1] upsampled to ``size`` = (H, W), e.g. the photo as
        taken. The input is a resize of the whole photo, so the feature grid maps exactly onto
        its frame: the raw map is upsampled straight from the grid, not from the square."""
        if self.raw.dim() == 3:
            return normalise_maps(self.raw[index : index + 1], size)[0]
        return normalise_maps(self.maps[index : index + 1], size)[0]


def peak_in_original(heat: torch.Tensor, original_size: tuple[int, int]) -> list[float]:
    """(x, y) of the maximum of a map (H, W) covering a whole photo, in that photo's pixels
    (``original_size`` = (width, height)), at the centre of the peak's pixel."""
    height, width = heat.shape
    row, col = divmod(int(heat.flatten().argmax()), width)
    return [
        round((col + 0.5) * original_size[0] / width, 1),
        round((row + 0.5) * original_size[1] / height, 1),
    ]


def minmax_per_map(maps: torch.Tensor) -> torch.Tensor:
    """Scale each (H, W) map of a (B, H, W) batch to [0, 1] (pytorch-grad-cam's epsilon)."""
    flat = maps.flatten(1)
    low = flat.min(dim=1).values[:, None, None]
    high = flat.max(dim=1).values[:, None, None]
    return (maps - low) / (high - low + 1e-7)


def normalise_maps(raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Upsample (bilinear, half-pixel centres, like cv2.resize) and min-max each map to [0, 1]."""
    up = F.interpolate(raw[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]
    return minmax_per_map(up)


def _probabilities(model: nn.Module, logits: torch.Tensor) -> torch.Tensor:
    """Calibrated as the model's config says (plain softmax for models without a config)."""
    config = getattr(model, "config", None)
    return config.probabilities(logits) if config is not None else torch.softmax(logits, dim=1)


def _class_names(model: nn.Module) -> tuple[str, ...] | None:
    config = getattr(model, "config", None)
    return tuple(config.class_names) if config is not None else None


def parse_target(text: str | None, class_names: Sequence[str]) -> int | str | None:
    """A class given by a user (a name or an ASCII index, any case; None: the predicted class)
    checked against ``class_names``; a ValueError says what is allowed."""
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value.isascii() and value.isdigit() and int(value) < len(class_names):
        return int(value)
    if value in class_names:
        return value
    choices = ", ".join([*class_names, *(str(i) for i in range(len(class_names)))])
    raise ValueError(f"unknown class {text!r}; choose one of {choices}")


def _predicted(logits: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """The class the tool reports: P(malignant) >= the model's threshold for a calibrated
    two-class model, else the largest logit."""
    config = getattr(model, "config", None)
    if config is not None and logits.shape[1] == 2:
        return (config.probabilities(logits.detach())[:, 1] >= config.threshold).long()
    return logits.argmax(dim=1)


def resolve_targets(target: TargetSpec, logits: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """None -> the predicted class (at the model's threshold); a class name or index -> that
    class for all; a list -> each."""
    batch, n_classes = logits.shape
    names = _class_names(model)

    def index_of(value: int | str) -> int:
        if isinstance(value, str):
            if names is None or value.lower() not in names:
                raise ValueError(f"unknown class name {value!r}; classes are {names}")
            return names.index(value.lower())
        if not 0 <= int(value) < n_classes:
            raise ValueError(f"class index {value} is outside 0..{n_classes - 1}")
        return int(value)

    if target is None:
        return _predicted(logits, model)
    if isinstance(target, torch.Tensor):
        chosen = target.to(logits.device).long().reshape(-1)
        if chosen.numel() == 1:
            chosen = chosen.expand(batch)
        if len(chosen) != batch:
            raise ValueError(f"{len(chosen)} targets for {batch} images")
        return torch.tensor([index_of(int(v)) for v in chosen], device=logits.device)
    if isinstance(target, (str, int)):
        return torch.full((batch,), index_of(target), device=logits.device, dtype=torch.long)
    values = list(target)
    if len(values) != batch:
        raise ValueError(f"{len(values)} targets for {batch} images")
    return torch.tensor([index_of(v) for v in values], device=logits.device, dtype=torch.long)


@dataclass
class _ForwardPass:
    """Activations A of the explained layer, the logits, and a way to get dscore/dA, both
    (B, C, h, w) upright. Under D4 a named layer holds 8 turned views of each image: A is their
    mean turned upright and dscore/dA the sum of their turned gradients, exactly what the last
    feature map gets from the model itself (``SkinClassifier.features``)."""

    layer_output: torch.Tensor  # (B or 8B, C, h, w), the tensor the gradient is taken for
    logits: torch.Tensor
    gate_input: torch.Tensor | None = None  # what the "not dermoscopic" gate reads, if known
    activations: torch.Tensor = field(init=False)  # folded once, read by every method

    def __post_init__(self) -> None:
        self.activations = upright_mean(self.layer_output.detach(), len(self.logits))

    def gradients(self, targets: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():  # a caller's no_grad (Lightning's predict loop) must not cut it
            score = self.logits.gather(1, targets[:, None]).sum()
            (grad,) = torch.autograd.grad(score, self.layer_output, retain_graph=True)
        return upright_gradient(grad.detach(), len(self.logits))


CPU_CHUNK = 16  # on CPU, batches of 16 run faster per image than larger ones (cache sizes)


def _features_and_gate_input(
    model: nn.Module, inputs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The last feature map and the gate's input (None for a model without one), without
    autograd; CPU batches go through in chunks of 16."""
    forward = getattr(model, "features_and_gate_input", None)
    if forward is None:
        forward = lambda chunk: (model.features(chunk), None)  # noqa: E731
    chunks = inputs.split(CPU_CHUNK) if inputs.device.type == "cpu" else (inputs,)
    with torch.no_grad():
        pairs = [forward(chunk) for chunk in chunks]
    features = torch.cat([f for f, _ in pairs])
    gate_inputs = [g for _, g in pairs]
    return features, None if gate_inputs[0] is None else torch.cat(gate_inputs)


def _forward(model: nn.Module, inputs: torch.Tensor, layer: str | None) -> _ForwardPass:
    if layer is None:
        features, gate_input = _features_and_gate_input(model, inputs)
        features = features.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = model.head(features)
        return _ForwardPass(features, logits, gate_input)
    module = find_layer(model, layer)
    with capture_layer(module) as captured, torch.enable_grad():
        logits = model(inputs)
        activations = captured.output
    if activations is None:
        raise ValueError(f"layer {layer!r} was not used in the forward pass")
    if activations.dim() != 4:
        raise ValueError(
            f"layer {layer!r} outputs shape {tuple(activations.shape)}, not a spatial feature "
            "map (B, C, h, w); choose a convolutional layer such as backbone.blocks.5"
        )
    return _ForwardPass(activations, logits)


def _to_inputs(model: nn.Module, images: Any) -> torch.Tensor:
    device = next(model.parameters()).device
    if isinstance(images, torch.Tensor):
        batch = images.unsqueeze(0) if images.dim() == 3 else images
        return batch.to(device)
    if not hasattr(model, "to_batch"):
        raise TypeError("pass a preprocessed tensor batch for a model without to_batch()")
    return model.to_batch(images)


def _raw_maps(
    method: str,
    model: nn.Module,
    forward: _ForwardPass,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    layer: str | None,
    cache: dict[str, torch.Tensor],
) -> torch.Tensor:
    activations = forward.activations
    if method == "cam":
        if layer is not None:
            raise ValueError("cam uses the classifier weights: it needs the last feature map")
        return cam_for_targets(activations, model.classifier.weight.detach(), targets)
    if method in GRADIENT_METHODS:
        return GRADIENT_METHODS[method](activations, forward.gradients(targets))
    if method == "eigencam":
        return eigencam(activations)
    if method == "scorecam":
        if "scores" not in cache:
            forward_fn = inference_forward(model, inputs[:1].expand(16, -1, -1, -1))
            cache["scores"] = masked_scores(forward_fn, inputs, activations)
        return scorecam_from_scores(activations, cache["scores"], targets)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def _guided(
    method: str,
    model: nn.Module,
    forward: _ForwardPass,
    inputs: torch.Tensor,
    targets: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    gradient = guided_backprop(model, inputs, targets)
    if method == "guided-gradcam":
        grad_a = forward.gradients(targets)
        cam = normalise_maps(
            GRADIENT_METHODS["gradcam"](forward.activations, grad_a),
            tuple(inputs.shape[-2:]),
        )
        gradient = gradient * cam[:, None]
    return gradient, minmax_per_map(gradient.abs().amax(dim=1))


def _gate_verdict(
    model: nn.Module, forward: _ForwardPass, inputs: torch.Tensor, layer: str | None
) -> torch.Tensor | None:
    """The model's "not dermoscopic" gate (None without a gate)."""
    if getattr(model, "gate", None) is None:
        return None
    gate_input = forward.gate_input if layer is None else None
    if gate_input is None:
        gate_input = _features_and_gate_input(model, inputs)[1]
    return model.gate_accepts(gate_input, inputs)


def explain_grid(
    model: nn.Module,
    images: Any,
    methods: Sequence[str] = ("gradcam",),
    targets: Sequence[TargetSpec] = (None,),
    layer: str | None = None,
) -> dict[tuple[str, int], Explanation]:
    """Every (method, target) pair from one forward pass, keyed by (method, target position)."""
    methods = [m.lower() for m in methods]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    was_training = model.training
    model.eval()
    try:
        inputs = _to_inputs(model, images)
        forward = _forward(model, inputs, layer)
        probs = _probabilities(model, forward.logits.detach().float())
        chosen = [resolve_targets(t, forward.logits.detach(), model) for t in targets]
        verdict = _gate_verdict(model, forward, inputs, layer)
        cache: dict[str, torch.Tensor] = {}
        results = {}
        for method in methods:
            for position, target_index in enumerate(chosen):
                if method.startswith("guided"):
                    raw, maps = _guided(method, model, forward, inputs, target_index)
                else:
                    raw = _raw_maps(method, model, forward, inputs, target_index, layer, cache)
                    maps = normalise_maps(raw, tuple(inputs.shape[-2:]))
                results[(method, position)] = Explanation(
                    method,
                    maps.detach(),
                    raw.detach(),
                    probs,
                    target_index,
                    inputs.detach(),
                    layer,
                    {"accepted": verdict},
                )
        return results
    finally:
        model.train(was_training)


def explain_targets(
    model: nn.Module,
    images: Any,
    method: str = "gradcam",
    targets: Sequence[TargetSpec] = (None,),
    layer: str | None = None,
) -> list[Explanation]:
    """One forward pass, one :class:`Explanation` per entry of ``targets``."""
    grid = explain_grid(model, images, (method,), targets, layer)
    return [grid[(method.lower(), position)] for position in range(len(targets))]


def explain_methods(
    model: nn.Module,
    images: Any,
    methods: Sequence[str],
    target: TargetSpec = None,
    layer: str | None = None,
) -> dict[str, Explanation]:
    """Several methods for one target from one forward pass, keyed by method."""
    grid = explain_grid(model, images, methods, (target,), layer)
    return {method: grid[(method, 0)] for method, _ in grid}


def explain(
    model: nn.Module,
    images: Any,
    method: str = "gradcam",
    target: TargetSpec = None,
    layer: str | None = None,
) -> Explanation:
    """Explain a batch with one CAM-family ``method`` for ``target`` (None: predicted class).

    ``images``: paths, PIL images, or a preprocessed (B, 3, H, W) tensor. ``layer``: None for
    the last feature map (no hooks), or any name from ``model.named_modules()``.
    """
    return explain_targets(model, images, method, (target,), layer)[0]


def explain_all_classes(
    model: nn.Module, images: Any, method: str = "gradcam", layer: str | None = None
) -> dict[str, Explanation]:
    """Every class's map from one forward pass, keyed by class name (or index)."""
    names = _class_names(model)
    n_classes = len(names) if names else int(model.classifier.out_features)
    results = explain_targets(model, images, method, list(range(n_classes)), layer)
    return {(names[i] if names else str(i)): result for i, result in enumerate(results)}
