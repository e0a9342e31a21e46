"""ONNX export: one graph from pixels to a diagnosis and its CAM, to serve without PyTorch.

The graph takes the square uint8 picture ``predict`` makes of a photo, (B, 3, S, S), and holds
everything the model does after it: normalisation, the canonical view (colour constancy,
resolution, rim, D4 when configured), the backbone in fp32, the head, the calibration, the
CAM grid of the last feature map, Σ_c w_kc A_c for every class k (the head is linear, so CAM
is one einsum more), and the "not a dermoscopic image" gate when the model has one. The
threshold, the uncertain band and the class names travel in the file's metadata.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn

import skinxai
from skinxai.explain.cam import class_activation_maps
from skinxai.io import load_image
from skinxai.metrics.calibration import calibrated_logit
from skinxai.model import SkinClassifier
from skinxai.ood_gate import has_colour
from skinxai.precision import in_fp32
from skinxai.preprocessing import to_square_uint8

OUTPUTS = ("logits", "p_malignant", "cam", "dermoscopic")
# What onnxruntime may differ from PyTorch fp32 by. Measured on the six shipped samples (v3a):
# logits 2.7e-6, P 1.3e-6, CAM 5.4e-5 of its peak; the limits leave a margin of 20x or more.
TOLERANCE = {"logits_max_abs": 1e-3, "p_malignant_max_abs": 1e-4, "cam_max_abs_relative": 1e-3}
OPSET = 18  # Resize with antialiasing, which the canonical view's reduction uses


class DiagnosisGraph(nn.Module):
    """pixels uint8 (B, 3, S, S) -> logits (B, K), P(malignant) (B,), CAM (B, K, h, w) and,
    for a model with a gate, dermoscopic (B,) bool."""

    def __init__(self, model: SkinClassifier) -> None:
        super().__init__()
        self.model = model
        config = model.config
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1) * 255)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        config = self.model.config
        x = (pixels.float() - self.mean) / self.std
        features, gate_input = self.model.features_and_gate_input(x)
        logits = self.model.head(features)
        margin = logits[:, 1] - logits[:, 0]
        p_malignant = torch.sigmoid(
            calibrated_logit(margin, config.temperature, config.bias, config.beta_shape)
        )
        cam = class_activation_maps(features, self.model.classifier.weight)
        if self.model.gate is None:
            return logits, p_malignant, cam
        accepted = self.model.gate.accepts(gate_input) & has_colour(x, config.mean, config.std)
        return logits, p_malignant, cam, accepted


def metadata(model: SkinClassifier) -> dict[str, str]:
    """What a server needs beside the graph, as ONNX metadata (strings)."""
    config = model.config
    return {
        "skinxai": skinxai.__version__,
        "model_version": config.version,
        "class_names": json.dumps(list(config.class_names)),
        "input": f"uint8 (B, 3, {config.input_size}, {config.input_size}): the whole photo "
        "resized (bicubic, antialiased) to a square, RGB, channels first",
        "threshold": json.dumps(config.threshold),
        "uncertain_band": json.dumps(config.uncertain_band),
        "cam_layer": "the last feature map (backbone.bn2), before global average pooling",
    }


def export_onnx(model: SkinClassifier, path: str | os.PathLike) -> Path:
    """Write ``path`` (.onnx): :class:`DiagnosisGraph` with a free batch size, the backbone
    in fp32 whatever the model's inference precision."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = model.config.input_size
    example = torch.zeros(2, 3, size, size, dtype=torch.uint8)
    outputs = OUTPUTS if model.gate is not None else OUTPUTS[:3]
    with in_fp32(model):
        program = torch.onnx.export(
            DiagnosisGraph(model).eval(),
            (example,),
            input_names=["pixels"],
            output_names=list(outputs),
            dynamic_shapes={"pixels": {0: torch.export.Dim("batch", min=1, max=4096)}},
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    for key, value in metadata(model).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return path


@dataclass(frozen=True)
class ExportCheck:
    """How far onnxruntime's outputs are from PyTorch's (fp32) on the same pictures."""

    images: int
    logits_max_abs: float
    p_malignant_max_abs: float
    cam_max_abs_relative: float  # max |dCAM| over the largest |CAM| of that image and class
    gate_disagreements: int | None

    def within_tolerance(self) -> bool:
        """Every difference within ``TOLERANCE`` and the gate agreeing on every picture."""
        close = all(getattr(self, key) <= limit for key, limit in TOLERANCE.items())
        return close and not self.gate_disagreements


def sample_pixels(size: int) -> torch.Tensor:
    """The shipped sample photos (``assets/samples``) as the graph's uint8 input."""
    folder = Path(str(resources.files("skinxai") / "assets" / "samples"))
    photos = sorted(folder.glob("*.jpg"))
    return torch.stack([to_square_uint8(load_image(photo), size) for photo in photos])


def check_onnx(path: str | os.PathLike, model: SkinClassifier, pixels: torch.Tensor) -> ExportCheck:
    """Run the exported graph with onnxruntime (CPU) and the model in PyTorch fp32 on the
    same uint8 pictures (B, 3, S, S)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"pixels": pixels.numpy()}), strict=True))
    with in_fp32(model), torch.no_grad():
        expected = DiagnosisGraph(model).eval()(pixels)
    want = dict(zip(names, (t.numpy() for t in expected), strict=True))
    cam_scale = np.abs(want["cam"]).max(axis=(2, 3), keepdims=True)
    gate = None
    if "dermoscopic" in names:
        gate = int((got["dermoscopic"] != want["dermoscopic"]).sum())
    return ExportCheck(
        images=len(pixels),
        logits_max_abs=float(np.abs(got["logits"] - want["logits"]).max()),
        p_malignant_max_abs=float(np.abs(got["p_malignant"] - want["p_malignant"]).max()),
        cam_max_abs_relative=float((np.abs(got["cam"] - want["cam"]) / cam_scale).max()),
        gate_disagreements=gate,
    )
