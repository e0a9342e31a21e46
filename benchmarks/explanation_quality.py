"""How good are the shipped model's explanations? `skinxai explain-eval` on HAM10000 grouped
test (every image) and on isic2017 val (other clinics, the images with masks), for cam,
gradcam, gradcam++, layercam, hirescam, xgradcam, eigencam, and scorecam on the seeded
faithfulness subset, beside the four baselines.

Prints one table per set (predicted class) and writes
benchmarks/results/explanation_quality.json; the full reports go to out/explanation_quality/.
Run: .venv/bin/python benchmarks/explanation_quality.py [--faithfulness-images 32]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

import skinxai
from skinxai.explanation_quality.evaluate import DEFAULT_METHODS, explain_eval
from skinxai.explanation_quality.summary import METRICS
from skinxai.metrics.sanity import CASCADE

ROOT = Path(__file__).resolve().parents[1]
SETS = ("ham10000:test", "isic2017:val")
SHOWN = ("pointing_game", "energy_inside", "best_iou", "deletion_auc", "insertion_auc", "road_morf")


def table(name: str, summary: dict) -> Table:
    titles = dict((key, title) for key, title, _ in METRICS)
    result = Table(title=f"{name}: {summary['n_images']} images, maps for the predicted class")
    result.add_column("method")
    for key in SHOWN:
        result.add_column(titles[key], justify="right")
    result.add_column("sanity rho: head -> last; random labels", justify="right")
    for method, metrics in summary["targets"]["predicted"]["methods"].items():
        cells = []
        for key in SHOWN:
            entry = metrics.get(key, {})
            mean = entry.get("mean")
            cells.append(
                "n/a" if mean is None else f"{mean:.3f} ±{(entry['high'] - entry['low']) / 2:.3f}"
            )
        sanity = metrics.get("sanity")
        if sanity and sanity["passed"] is not None:
            rho = [s["mean"] for s in sanity["spearman"]]
            verdict = "pass" if sanity["passed"] else "FAIL"
            cells.append(f"{rho[0]:.2f} -> {rho[len(CASCADE) - 1]:.2f} {verdict}; {rho[-1]:.2f}")
        else:
            cells.append("n/a")
        result.add_row(method, *cells)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--faithfulness-images", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="First N images per set.")
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "explanation_quality.json")
    )
    args = parser.parse_args()
    model = skinxai.load_model()
    console = Console(width=200)
    results = {}
    for name in SETS:
        started = time.perf_counter()
        out = ROOT / "out" / "explanation_quality" / name.replace(":", "_")
        out.mkdir(parents=True, exist_ok=True)
        summary, _ = explain_eval(
            model,
            name,
            out,
            (*DEFAULT_METHODS, "scorecam"),
            faithfulness_images=args.faithfulness_images,
            limit=args.limit,
        )
        summary.pop("worst_localised", None)
        summary["report"] = str((out / "report.md").relative_to(ROOT))
        summary["wall_seconds"] = time.perf_counter() - started
        results[name] = summary
        console.print(table(name, summary))
        console.print(f"{name}: {summary['wall_seconds'] / 60:.1f} min; seconds per image:")
        console.print({k: round(v, 3) for k, v in summary["seconds_per_image"].items()})
    payload = {
        "model_version": model.config.version,
        "inference_precision": model.precision,
        "machine": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "faithfulness_images": args.faithfulness_images,
        "results": results,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
