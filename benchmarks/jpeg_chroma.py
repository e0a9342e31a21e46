"""How much of the JPEG-75 shift is chroma subsampling, measured on the model as shipped (issue
21): the upright view of the shipped weights, with the colour of every input first low-passed
to N pixels a side (YCbCr, luminance kept) inside the model, a lever that needs no training. Per
N: AUROC on HAM10000 val and isic2017 val, HAM10000 val's specificity at the threshold of
sensitivity 0.90 there, and, on fanconic test (224 px JPEGs, where JPEG 75 flips most labels),
the mean change of the malignant-minus-benign logit under JPEG 75 and the share of labels it
flips at that threshold. Validation chooses; fanconic test only says how far the shift goes.

Run: .venv/bin/python benchmarks/jpeg_chroma.py [--model FILE] [--sizes none,112,80,56]
Prints a table and writes benchmarks/results/jpeg_chroma.json (or --out).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

import skinxai
from shortcuts import _decisions
from skinxai.data.acquisition import jpeg
from skinxai.data.specs import resolve_spec
from skinxai.io import load_image

ROOT = Path(__file__).resolve().parents[1]
# ITU-R BT.601 full range, as JPEG stores colour; the offsets cancel in the chroma rows.
TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)
FROM_YCBCR = torch.linalg.inv(TO_YCBCR)


def chroma_lowpass(batch: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, H, W) with Cb and Cr reduced to ``size`` pixels a side (antialiased) and scaled
    back; luminance untouched. Linear, so it runs on mean-0.5/std-0.5 batches as they are."""
    ycbcr = torch.einsum("ij,bjhw->bihw", TO_YCBCR.to(batch), batch)
    height, width = batch.shape[-2:]
    small = F.interpolate(ycbcr[:, 1:], size=(size, size), mode="bilinear", antialias=True)
    chroma = F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)
    return torch.einsum("ij,bjhw->bihw", FROM_YCBCR.to(batch), torch.cat([ycbcr[:, :1], chroma], 1))


def with_chroma_lowpass(model, size: int | None):
    """``model`` (its upright view) with the low-pass before its own canonical view."""
    own = model.features_and_gate_input
    if size is not None:
        model.features_and_gate_input = lambda x: own(chroma_lowpass(x, size))
    return model


def margins(model, images: list) -> np.ndarray:
    """The malignant-minus-benign logit of each image, as the shortcut checks read it."""
    return _decisions(model, images)[1]


def labelled_images(spec: str) -> tuple[list, np.ndarray]:
    samples = resolve_spec(spec)
    return [load_image(s.path) for s in samples], np.array([s.label for s in samples])


def measure(model, data: dict) -> dict:
    (ham, ham_y), (isic, isic_y), (test, test_jpeg) = data["ham"], data["isic"], data["test"]
    ham_margin = margins(model, ham)
    threshold = np.quantile(ham_margin[ham_y == 1], 0.10)  # sensitivity 0.90 on HAM10000 val
    clean, changed = margins(model, test), margins(model, test_jpeg)
    return {
        "ham10000_val_auroc": float(roc_auc_score(ham_y, ham_margin)),
        "isic2017_val_auroc": float(roc_auc_score(isic_y, margins(model, isic))),
        "ham10000_val_specificity_at_sensitivity_0.90": float(
            (ham_margin[ham_y == 0] < threshold).mean()
        ),
        "fanconic_test_jpeg75_mean_logit_change": float((changed - clean).mean()),
        "fanconic_test_jpeg75_flips": float(
            ((clean >= threshold) != (changed >= threshold)).mean()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model file (default: shipped)")
    parser.add_argument("--sizes", default="none,112,80,56")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/jpeg_chroma.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    test, _ = labelled_images("fanconic:test")
    data = {
        "ham": labelled_images("ham10000:val"),
        "isic": labelled_images("isic2017:val"),
        "test": (test, [jpeg(75)(i) for i in test]),
    }
    upright = skinxai.load_model(args.model, precision="32").with_symmetry("none").eval()
    results = {}
    for size in args.sizes.split(","):
        model = copy.deepcopy(upright)  # each size patches its own copy
        pixels = None if size == "none" else int(size)
        results[size] = measure(with_chroma_lowpass(model, pixels), data)
    table = Table(title="chroma low-pass inside the model: validation cost, JPEG-75 shift")
    columns = ("chroma px", "HAM val", "isic val", "HAM val spec.", "logit change", "flips")
    for column in columns:
        table.add_column(column, justify="right")
    for size, row in results.items():
        table.add_row(size, *(f"{v:.3f}" for v in row.values()))
    Console(width=200).print(table)
    payload = {
        "skinxai": skinxai.__version__,
        "machine": platform.platform(),
        "model": args.model or "shipped",
        "model_version": model.config.version,
        "symmetry": "none",
        "inference_precision": "32-true",
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
