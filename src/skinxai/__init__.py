"""skinxai: benign/malignant skin-lesion classification with CAM-family explanations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skinxai.huge_pages import use_huge_pages

__version__ = "0.1.0"
use_huge_pages()  # before any tensor: PyTorch reads the setting at its first CPU allocation

if TYPE_CHECKING:
    from skinxai.model import SkinClassifier


def load_model(
    path: str | None = None, device: str = "cpu", precision: str = "auto"
) -> SkinClassifier:
    """Load a classifier from ``path`` (safetensors + JSON config), or the default model;
    ``precision`` auto (bf16 where the device computes it natively), 32 or bf16."""
    from skinxai.model import load_default_model, load_model_file

    if path:
        return load_model_file(path, device=device, precision=precision)
    return load_default_model(device=device, precision=precision)


__all__ = ["__version__", "load_model"]
