"""The levers tried for other clinics (issue 12), one trained run each: AUROC on every
validation source, their worst (what selection follows), and derm7pt AUROC (external: reported,
never used to choose). Threshold-free, so runs compare before any calibration.

Run: .venv/bin/python benchmarks/levers.py NAME=RUN_DIR_OR_MODEL_FILE ...
(a run folder's model.safetensors, or a model file; "shipped" = the shipped default model).
--keep adds rows to the file's earlier ones instead of starting a new table. --precision (auto,
32, bf16; default 32, what every earlier row was measured in) is recorded in each row, and so
is the symmetry (--one-view scores a D4 model's upright view alone).
Prints a table and writes benchmarks/results/levers.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

import skinxai
from skinxai.data.specs import resolve_spec
from skinxai.evaluation.report import predict_logits

ROOT = Path(__file__).resolve().parents[1]
# melanoma10k val (500 malignant photos of Barcelona, MSK and the ISIC 2020 clinics) joined in
# issue 21; rows measured before it have no value there and a worst over the other three.
VALIDATION = ("ham10000:val", "isic2017:val", "fanconic:train~ham10000:val", "melanoma10k:val")
EXTERNAL = "derm7pt"


def labelled_margins(model, spec: str, samples_by_spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Labels and the raw malignant-minus-benign logits of a data set's usable images."""
    if spec not in samples_by_spec:  # resolved once: A~B specs run a near-duplicate audit
        samples_by_spec[spec] = resolve_spec(spec)
    samples = samples_by_spec[spec]
    raw = predict_logits(model, samples)
    margin = raw.logits[:, 1] - raw.logits[:, 0]
    labels = np.array([s.label for s in samples])
    usable = ~np.isnan(margin)
    return labels[usable], margin[usable]


def model_path(where: str) -> Path:
    """A model file, or a run folder's model.safetensors."""
    path = Path(where)
    return path / "model.safetensors" if path.is_dir() else path


def auroc(model, spec: str, samples_by_spec: dict) -> float:
    """AUROC of the raw malignant-minus-benign logit (monotone in any calibration)."""
    return float(roc_auc_score(*labelled_margins(model, spec, samples_by_spec)))


def describe(path: str) -> dict:
    """What the run changed, from its config.yaml (when it is a run folder)."""
    folder = Path(path)
    config_file = folder / "config.yaml"
    if not config_file.is_file():
        return {}
    import yaml

    config = yaml.safe_load(config_file.read_text())
    keys = (
        "init",
        "augmentation",
        "colour_constancy_p",
        "canonical_resolution",
        "rim_radius",
        "mask_penalty",
        "freeze_blocks",
        "ema_decay",
        "wide_circle_p",
        "consistency",
        "epochs",
    )
    summary_file = folder / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    return {
        **{k: config.get(k) for k in keys},
        "epochs_run": summary.get("epochs_run"),
        "fit_seconds": summary.get("fit_seconds"),
        "precision": summary.get("precision"),
        "train_images_per_second": summary.get("train_images_per_second"),
    }


def earlier_results(path: Path) -> dict:
    """The rows an earlier run wrote to ``path`` (each row says which model it measured)."""
    return json.loads(path.read_text())["results"] if path.is_file() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", help="NAME=RUN_DIR or NAME=MODEL_FILE or shipped")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "levers.json"))
    parser.add_argument(
        "--keep", action="store_true", help="keep the rows of runs already in --out (CPU time)"
    )
    parser.add_argument("--precision", default="32", help="auto, 32 or bf16")
    parser.add_argument(
        "--one-view",
        action="store_true",
        help="score each model on its upright view alone (a D4 model 8x faster; compares "
        "weights trained on one view with one another)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    samples_by_spec: dict = {}
    results = earlier_results(Path(args.out)) if args.keep else {}
    for item in args.runs:
        name, _, where = item.partition("=")
        where = where or name
        model_file = None if where == "shipped" else model_path(where)
        model = skinxai.load_model(model_file, precision=args.precision)
        if args.one_view:
            model = model.with_symmetry("none")
        per_source = {spec: auroc(model, spec, samples_by_spec) for spec in VALIDATION}
        results[name] = {
            "model": str(model_file or "shipped"),
            "version": model.config.version,
            **describe(where),
            "symmetry": model.config.symmetry,
            "inference_precision": model.precision,
            "val_auroc": per_source,
            "val_worst_auroc": min(per_source.values()),
            "derm7pt_auroc": auroc(model, EXTERNAL, samples_by_spec),
        }
    table = Table(title="levers: AUROC per validation source, worst, and derm7pt (external)")
    for column in ("run", *VALIDATION, "worst", "derm7pt"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, row in results.items():
        values = [row["val_auroc"].get(spec) for spec in VALIDATION]
        values += [row["val_worst_auroc"], row["derm7pt_auroc"]]
        table.add_row(name, *("n/a" if v is None else f"{v:.3f}" for v in values))
    Console(width=160).print(table)
    payload = {
        "skinxai": skinxai.__version__,
        "machine": platform.platform(),
        "seconds": round(time.perf_counter() - started, 1),
        "note": "validation AUROCs may choose; derm7pt is reported only, never used to choose",
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
