"""Write an explain-eval run: ``metrics.json``, ``report.md`` (one table per target, methods
as rows) and the figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skinxai.explanation_quality import figures
from skinxai.explanation_quality.run import QualityScores
from skinxai.explanation_quality.samples import MaskedImage
from skinxai.explanation_quality.summary import METRICS, PAIRED, REFERENCE
from skinxai.metrics.sanity import CASCADE, PASS_BELOW
from skinxai.model import SkinClassifier

MEANINGS = (
    ("pointing", "the map's maximum lies inside the lesion mask (ties: the share inside)"),
    ("pointing ±15px", "the same, within 15 px of the mask at 224 px input (Grad-CAM paper)"),
    ("energy in lesion", "share of the map's mass inside the lesion (Score-CAM's energy game)"),
    ("IoU@0.5 / best IoU", "IoU of the map >= 0.5 (or the best single threshold) with the mask"),
    ("deletion AUC", "P(class) as the most relevant pixels go first: lower is more faithful"),
    ("insertion AUC", "P(class) as they come back onto a blurred copy: higher is better"),
    ("avg drop % / increase", "P(class) of image x map against the image (Grad-CAM++)"),
    ("ROAD MoRF / LeRF", "P(class) change after imputing the most / least relevant pixels"),
    (
        "sanity rho",
        "Spearman with the trained model's map after randomising the head, then the head and "
        "the last blocks (head → last stage): must fall; labels: after refitting the head on "
        "random labels",
    ),
)


def _cell(entry: dict | None) -> str:
    if not entry or entry.get("mean") is None:
        return "n/a"
    text = f"{entry['mean']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"
    return text + (f" @{entry['threshold']:.2f}" if "threshold" in entry else "")


def _sanity_cell(sanity: dict | None) -> str:
    if not sanity or sanity["passed"] is None:
        return "n/a"
    verdict = "pass" if sanity["passed"] else "FAIL"
    rho = [entry["mean"] for entry in sanity["spearman"]]
    head, last, labels = rho[0], rho[len(CASCADE) - 1], rho[-1]
    return f"{head:.2f} → {last:.2f} {verdict}; labels {labels:.2f}"


def _table(methods: dict) -> list[str]:
    header = ["method", *(title for _, title, _ in METRICS), "sanity rho", "n"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, metrics in methods.items():
        cells = [_cell(metrics.get(key)) for key, _, _ in METRICS]
        n = metrics["pointing_game"]["n"]
        faithful = metrics.get("deletion_auc", {}).get("n", 0)
        counts = f"{n}" + (f" ({faithful} faithfulness)" if faithful else "")
        sanity = _sanity_cell(metrics["sanity"])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {sanity} | {counts} |")
    return lines


def _paired_table(methods: dict) -> list[str]:
    titles = dict((key, title) for key, title, _ in METRICS)
    keys = [k for k in PAIRED if any(k in m["paired_with_random_map"] for m in methods.values())]
    if not keys:
        return []
    lines = [
        "Faithfulness as the difference to the random map on the same images (the sign "
        "that is better: deletion, avg drop and MoRF below 0; insertion and LeRF above 0):",
        "",
        "| method | " + " | ".join(f"Δ {titles[k]}" for k in keys) + " |",
        "|" + "---|" * (len(keys) + 1),
    ]
    for name, metrics in methods.items():
        paired = metrics["paired_with_random_map"]
        if paired:
            lines.append(f"| {name} | " + " | ".join(_cell(paired.get(k)) for k in keys) + " |")
    return [*lines, ""]


def markdown(summary: dict, title: str) -> str:
    """The report: what was run, one table per target, the verdicts, the meanings."""
    lines = [f"# {title}", ""]
    lines.append(
        f"{summary['n_images']} images ({summary['n_failed']} unusable). Means with 95% "
        "bootstrap intervals over images (1000 resamples). Faithfulness metrics and Score-CAM "
        "run on a seeded random subset (n in the last column)."
    )
    for target, block in summary["targets"].items():
        lines += ["", f"## Maps for the {target} class", "", *_table(block["methods"]), ""]
        lines += _paired_table(block["methods"])
        for name, short in block["not_better_than_centred_gaussian"].items():
            if short and not name.startswith("baseline"):
                lines.append(
                    f"- **{name} does not beat the centred Gaussian** on {', '.join(short)}."
                )
    lines += ["", "## Cost per image (CPU seconds)", ""]
    for key, seconds in summary["seconds_per_image"].items():
        count = summary["images_per_metric"][key]
        lines.append(f"- {key}: {seconds:.3f} s per image ({count} images)")
    lines += ["", "## What each column means", ""]
    lines += [f"- **{name}**: {meaning}." for name, meaning in MEANINGS]
    lines.append(
        f"- The sanity check passes when the mean rho at the last stage is below {PASS_BELOW}; "
        f"`{REFERENCE}` is the reference every method must beat on localisation."
    )
    return "\n".join(lines) + "\n"


def save_scores(quality: QualityScores, path: Path) -> None:
    """Every per-image score as ``<map>|<metric>`` arrays (image, class, ...), beside the
    files, labels and predictions: summaries can be recomputed without rerunning."""
    arrays = {
        f"{name}|{metric}": values
        for name, metrics in quality.scores.items()
        for metric, values in metrics.items()
    }
    np.savez_compressed(
        path,
        files=np.array(quality.paths),
        labels=quality.labels,
        predicted=quality.predicted,
        p_malignant=quality.p_malignant,
        **arrays,
    )


def write_report(
    model: SkinClassifier,
    quality: QualityScores,
    samples: list[MaskedImage],
    summary: dict,
    out: Path,
    title: str,
    gallery_size: int = 6,
) -> list[Path]:
    """Write every file of a run under ``out`` and return their paths."""
    written = []
    gallery = {}
    for name in quality.scores:
        path = out / f"worst_{name.replace(':', '_').replace('+', 'plus')}.png"
        files = figures.plot_gallery(model, quality, samples, name, path, gallery_size)
        if files:
            gallery[name] = {"figure": path.name, "files": files}
            written.append(path)
    summary["worst_localised"] = gallery
    save_scores(quality, out / "scores.npz")
    written.append(out / "scores.npz")
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    (out / "report.md").write_text(markdown(summary, title))
    written += [out / "metrics.json", out / "report.md"]
    if figures.plot_curves(quality, out / "deletion_insertion.png"):
        written.append(out / "deletion_insertion.png")
    figures.plot_distributions(quality, out / "distributions.png")
    figures.plot_sanity(summary, out / "sanity.png")
    written += [out / "distributions.png", out / "sanity.png"]
    return written
