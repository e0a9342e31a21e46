"""Precision is a property of a run, not of a module: the one place that decides bf16 or fp32
and the memory format for a device, for training and for inference alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

BF16_MIXED = "bf16-mixed"
FP32 = "32-true"


def bf16_supported(device_type: str) -> bool:
    """Whether ``device_type`` ("cpu", "cuda") computes bf16 natively: a GPU that has it, or
    a CPU whose oneDNN has bf16 kernels (AVX-512 BF16 or AMX; ``lscpu`` lists them)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        return bool(
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    return False


def training_precision(requested: str, device_type: str) -> str:
    """Lightning's precision for a training run: ``auto`` is bf16 autocast (``bf16-mixed``)
    where the device computes bf16 natively and fp32 (``32-true``) elsewhere; any other value
    is taken as asked (``32-true`` for fp32 on any device)."""
    if requested != "auto":
        return requested
    return BF16_MIXED if bf16_supported(device_type) else FP32


PRECISION_NAMES = {"32": FP32, FP32: FP32, "bf16": BF16_MIXED, BF16_MIXED: BF16_MIXED}


def inference_precision(requested: str, device_type: str) -> str:
    """``32-true`` or ``bf16-mixed`` for the gradient-free passes of predict, explain, evaluate
    and serve: ``auto`` is bf16 where the device computes it natively; ``32`` / ``32-true``
    and ``bf16`` / ``bf16-mixed`` are taken as asked. Anything else is a ValueError."""
    if requested == "auto":
        return BF16_MIXED if bf16_supported(device_type) else FP32
    if requested not in PRECISION_NAMES:
        raise ValueError(f"precision must be auto, 32 or bf16, not {requested!r}")
    return PRECISION_NAMES[requested]


def computed_in(model: torch.nn.Module) -> str:
    """What a model's backbone computes in (``SkinClassifier.precision``); fp32 for any other
    network, which never autocasts by itself."""
    return getattr(model, "precision", FP32)


@contextmanager
def in_fp32(model: torch.nn.Module) -> Iterator[None]:
    """The model's backbone in fp32 for the duration, whatever its inference precision: for
    passes that must match fp32 (the ONNX export and its check, the concept readings)."""
    was, model.precision = computed_in(model), FP32
    try:
        yield
    finally:
        model.precision = was


def uses_channels_last(device_type: str) -> bool:
    """NHWC tensors for the convolutions: faster on a GPU and on a oneDNN CPU alike (one
    training step of the shipped backbone on this project's CPU: 10.1 img/s NCHW, 14.9 NHWC,
    both fp32)."""
    return device_type in ("cpu", "cuda")
