"""Which backbone block the "not a dermoscopic image" gate should read, for a model: a gate
fitted on each block's pooled output (as `skinxai calibrate` fits one, on a stratified subset
of the training list, its limit at the 99.5th percentile of validation images and held-out
training images), and each probe's score over that block's limit. Probes: one real lesion photo
(the bad-input corpus's) as taken, as palette images made three ways, in grey, and garbled;
scikit-image's photographs. Below 1 passes, above 1 is refused.

Run: .venv/bin/python benchmarks/gate_blocks.py [--model FILE] [--blocks 2,3,4,5,6,-1]
(-1: the last feature map). Prints a table and writes benchmarks/results/gate_blocks.json.
Session 13 measured the shipped v3c with it: the web-safe dither is far on blocks 2-4, the
encoder's palette is not, and no block refuses the grey lesion with a margin.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bad_input_corpus import _lesion, _palette, build_corpus  # noqa: E402
from tests.natural_images import natural_images  # noqa: E402

import skinxai  # noqa: E402
from skinxai.data.cache import decode_images  # noqa: E402
from skinxai.data.specs import resolve_specs, stratified_subset  # noqa: E402
from skinxai.io import load_image  # noqa: E402
from skinxai.ood_gate import FeatureGate  # noqa: E402
from skinxai.preprocessing import normalize, to_square_uint8  # noqa: E402

VALIDATION = ("ham10000:val", "isic2017:val", "melanoma10k:val", "fanconic:train~ham10000:val")
CORPUS_CASES = ("grey.png", "corrupt-middle.jpg", "grey-16bit.png", "image.webp", "cmyk.jpg")


def probes(size: int) -> dict[str, torch.Tensor]:
    """The probe pictures as the model's uint8 square input."""
    lesion = _lesion()
    pictures = {
        "lesion photo": lesion,
        "web-safe palette, dithered (Pillow's convert('P'))": lesion.convert("P"),
        "web-safe palette, not dithered": lesion.convert("P", dither=Image.Dither.NONE),
        "256 colours chosen for it, dithered (an encoder's)": _palette(lesion),
    }
    tensors = {name: to_square_uint8(p.convert("RGB"), size) for name, p in pictures.items()}
    corpus = {case.name: case.data for case in build_corpus() if case.name in CORPUS_CASES}
    for name, data in corpus.items():
        tensors[f"corpus {name}"] = to_square_uint8(load_image(data), size)
    photos = natural_images()
    tensors |= {f"photo {n}": to_square_uint8(p.convert("RGB"), size) for n, p in photos.items()}
    return tensors


class BlockTaps:
    """Every block's pooled output, and the last map's, from one forward pass."""

    def __init__(self, model) -> None:
        self.model, self.pooled = model, {}
        model.read_gate_from(None)
        for index, block in enumerate(model.backbone.blocks):
            block.register_forward_hook(self._keep(index))

    def _keep(self, index: int):
        def hook(_module, _inputs, output):  # once per pass: inference may take several
            self.pooled.setdefault(index, []).append(output.float().mean(dim=(2, 3)).numpy())

        return hook

    def __call__(self, batch: torch.Tensor) -> dict[int, np.ndarray]:
        config = self.model.config
        self.pooled = {}
        last = self.model.logits_features_and_gate_input(normalize(batch, config.mean, config.std))
        blocks = {index: np.concatenate(parts) for index, parts in self.pooled.items()}
        return {**blocks, -1: last[2].float().numpy()}

    def of_files(self, paths: list[Path]) -> dict[int, np.ndarray]:
        chunks: dict[int, list[np.ndarray]] = {}
        for start in range(0, len(paths), 64):
            batch = decode_images(paths[start : start + 64], self.model.config.input_size)
            for block, pooled in self(batch).items():
                chunks.setdefault(block, []).append(pooled)
        return {block: np.concatenate(parts) for block, parts in chunks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="a model file (default: the shipped one)")
    parser.add_argument("--blocks", default="2,3,4,5,6,-1")
    parser.add_argument("--train", default="list:configs/melanoma10k_train.csv")
    parser.add_argument("--train-images", type=int, default=1500)
    parser.add_argument("--val-images", type=int, default=300, help="per validation source")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/gate_blocks.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    model = skinxai.load_model(args.model, precision="32") if args.model else skinxai.load_model()
    model.set_precision("32")
    taps = BlockTaps(model.eval())
    training = stratified_subset(resolve_specs([args.train]), args.train_images, seed=0)
    fitted = taps.of_files([s.path for s in training])
    rng = np.random.default_rng(0)
    validation = {}
    for spec in VALIDATION:
        samples = resolve_specs([spec])
        picked = sorted(rng.choice(len(samples), min(args.val_images, len(samples)), replace=False))
        validation[spec] = taps.of_files([samples[i].path for i in picked])
    pictures = probes(model.config.input_size)
    probed = taps(torch.stack(list(pictures.values())))

    results = {}
    for block in (int(b) for b in args.blocks.split(",")):
        held_out = np.arange(len(fitted[block])) % 3 == 2
        gate = FeatureGate.fit(fitted[block][~held_out])
        limit_pool = [*(v[block] for v in validation.values()), fitted[block][held_out]]
        gate.set_limit(np.concatenate(limit_pool))
        ratios = (gate.score(torch.as_tensor(probed[block])) / gate.limit).tolist()
        results[str(block)] = {
            "limit": gate.limit,
            "validation_refused": {
                spec: gate.refusals(v[block])["rejection_rate"] for spec, v in validation.items()
            },
            "score_over_limit": dict(zip(pictures, ratios, strict=True)),
        }

    table = Table(title=f"gate score / limit by block: {model.config.version}")
    table.add_column("probe")
    for block in results:
        table.add_column("last map" if block == "-1" else f"block {block}", justify="right")
    for name in pictures:
        table.add_row(name, *(f"{r['score_over_limit'][name]:.2f}" for r in results.values()))
    Console().print(table)
    report = {
        "model_version": model.config.version,
        "skinxai": skinxai.__version__,
        "machine": platform.platform(),
        "train_images": len(training),
        "seconds": round(time.perf_counter() - start, 1),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
