"""Concept readers beside the model: ``<stem>.concepts.safetensors`` (weight, bias) and a
``concepts`` section in the model's JSON naming the file, the layer and how they were fitted.
Refitting rewrites those two things only, never the weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from skinxai.concepts.checklist import CRITERION_NAMES
from skinxai.concepts.readers import ConceptReaders
from skinxai.explain.index_files import write_text_atomically
from skinxai.model_config import ModelFileError, refuse_non_finite


def readers_path_for(weights: Path) -> Path:
    return weights.with_name(f"{weights.stem}.concepts.safetensors")


def save_readers(readers: ConceptReaders, path: Path) -> Path:
    tensors = {
        "weight": torch.from_numpy(np.ascontiguousarray(readers.weight, dtype=np.float32)),
        "bias": torch.from_numpy(np.ascontiguousarray(readers.bias, dtype=np.float32)),
    }
    metadata = {"layer": readers.layer, "names": json.dumps(list(readers.names))}
    staging = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(staging), metadata=metadata)
    os.replace(staging, path)
    return path


def load_readers(path: Path, layer: str, channels: int) -> ConceptReaders:
    """The readers in ``path``, checked: seven criteria in the checklist's order, ``channels``
    inputs, finite numbers; anything else is a ModelFileError."""
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"concept readers '{path}' are missing or damaged: {exc}") from exc
    weight, bias = tensors.get("weight"), tensors.get("bias")
    names = CRITERION_NAMES
    if weight is None or bias is None or tuple(weight.shape) != (len(names), channels):
        raise ModelFileError(
            f"concept readers '{path}' do not fit layer {layer} ({channels} channels) and the "
            f"{len(names)} criteria"
        )
    if bias.shape != (len(names),):
        raise ModelFileError(f"concept readers '{path}' hold a wrong bias")
    refuse_non_finite(tensors, f"concept readers '{path}'")
    return ConceptReaders(
        layer, names, weight.float().numpy().astype(np.float32), bias.float().numpy()
    )


def attach_readers(weights: Path, readers: ConceptReaders, report: dict) -> Path:
    """Write the readers beside ``weights`` and name them in its JSON config (atomically)."""
    from skinxai.model import config_path_for

    path = save_readers(readers, readers_path_for(weights))
    config_file = config_path_for(weights)
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["concepts"] = {"file": path.name, "layer": readers.layer, **report}
    write_text_atomically(config_file, json.dumps(config, indent=2, sort_keys=True) + "\n")
    return path
