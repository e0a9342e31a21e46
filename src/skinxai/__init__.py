"""skinxai: benign/malignant skin-lesion classification with CAM-family explanations."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from skinxai.model import SkinClassifier


def load_model(path: str | None = None, device: str = "cpu") -> SkinClassifier:
    """Load a classifier from ``path`` (safetensors + JSON config), or the default model."""
    from skinxai.model import load_default_model, load_model_file

    return load_model_file(path, device=device) if path else load_default_model(device=device)


__all__ = ["__version__", "load_model"]
