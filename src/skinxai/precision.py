"""Precision is a property of a run, not of a module: the one place that decides bf16 or fp32
and the memory format for a device. Training asks it today; the inference paths are next."""

from __future__ import annotations

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


def uses_channels_last(device_type: str) -> bool:
    """NHWC tensors for the convolutions: faster on a GPU and on a oneDNN CPU alike (one
    training step of the shipped backbone on this project's CPU: 10.1 img/s NCHW, 14.9 NHWC,
    both fp32)."""
    return device_type in ("cpu", "cuda")
