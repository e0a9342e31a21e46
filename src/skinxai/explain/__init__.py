"""CAM-family explanations: ``explain(model, images, method, target, layer)``."""

from skinxai.explain.core import (
    METHODS,
    Explanation,
    explain,
    explain_all_classes,
    explain_grid,
    explain_methods,
    explain_targets,
    normalise_maps,
)

__all__ = [
    "METHODS",
    "Explanation",
    "explain",
    "explain_all_classes",
    "explain_grid",
    "explain_methods",
    "explain_targets",
    "normalise_maps",
]
