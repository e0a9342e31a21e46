"""The 7-point checklist read from the network, on derm7pt's concept split.

Readers (class-balanced logistic probes, C by 5-fold CV on ``concept-fit``) for each criterion
on the pooled last feature map and on backbone block 5, of the shipped model and of the same
network with ImageNet weights (is it the skin training that knows the concept?), scored on
``concept-test`` with 95% bootstrap intervals. The layer for the product is the one with the
better mean CV AUROC on ``concept-fit`` (never chosen on the test side). TCAV at block 5 with
the random-direction t-test, the last layer's exact cosine with w_malignant - w_benign, and
the 7-point sums: readers', dermatologists' (meta.csv) and the network's P(malignant), for
melanoma on ``concept-test``. derm7pt stays external for the diagnosis: nothing here trains,
selects or calibrates the diagnosis network. Prints tables, writes
benchmarks/results/concepts.json. Run: .venv/bin/python benchmarks/concepts.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import skinxai
from skinxai.concepts.checklist import (
    CRITERION_NAMES,
    SUSPICIOUS_FROM,
    presence_matrix,
    read_scored_images,
    seven_point_score,
)
from skinxai.concepts.features import INNER, LAST, read_network
from skinxai.concepts.readers import cv_auroc, fit_readers
from skinxai.concepts.split import concept_images
from skinxai.concepts.tcav import head_alignment, tcav
from skinxai.data.audit import find_near_duplicates
from skinxai.metrics.bootstrap import bootstrap_auroc
from skinxai.model import SkinClassifier

ROOT = Path(__file__).resolve().parents[1]
FEW_POSITIVES = 30  # fewer concept-test positives than this: the interval is wide, say so


def reader_rows(readers, pooled_test: np.ndarray, present_test: np.ndarray) -> dict:
    probabilities = readers.probabilities(pooled_test)
    rows = {}
    for k, name in enumerate(readers.names):
        row = bootstrap_auroc(present_test[:, k], probabilities[:, k])
        row["few_positives"] = row["positives"] < FEW_POSITIVES
        rows[name] = row
    rows["mean_auroc"] = float(np.mean([rows[n]["auroc"] for n in readers.names]))
    return rows


def readers_of(readings, fit: np.ndarray, test: np.ndarray, present: np.ndarray) -> dict:
    """Readers on each layer of one network: fit-CV AUROC, test AUROCs, the readers."""
    result = {}
    for layer in (LAST, INNER):
        pooled = readings.pooled[layer]
        readers = fit_readers(layer, CRITERION_NAMES, pooled[fit], present[fit])
        result[layer] = {
            "fit_cv_mean_auroc": float(np.mean(cv_auroc(pooled[fit], present[fit]))),
            "test": reader_rows(readers, pooled[test], present[test]),
            "readers": readers,
        }
    return result


def tcav_rows(model, readings, fit, test, present, p_malignant, runs: int) -> dict:
    """TCAV at INNER on concept-test images predicted malignant; cosine at the last layer."""
    explained = test[p_malignant[test] >= model.config.threshold]
    gradients = readings.inner_gradient[explained]
    alpha = 0.05 / len(CRITERION_NAMES)  # Bonferroni over the seven criteria
    rows = {"images_predicted_malignant": len(explained), "alpha_bonferroni": alpha}
    for k, name in enumerate(CRITERION_NAMES):
        result = tcav(readings.pooled[INNER][fit], present[fit, k], gradients, runs, seed=k)
        rows[name] = {
            "tcav_mean": result.mean,
            "tcav_std": float(np.std(result.scores)),
            "random_mean": float(np.mean(result.random_scores)),
            "p_value": result.p_value,
            "significant": result.significant(alpha),
        }
    return rows


def head_rows(model, last_readers) -> dict:
    """cos(reader direction, w_malignant - w_benign) at the last layer, against random
    directions of the same space for scale."""
    weight = model.classifier.weight.detach().numpy()
    rng = np.random.default_rng(0)
    random = [head_alignment(rng.standard_normal(weight.shape[1]), weight) for _ in range(1000)]
    rows = {
        name: head_alignment(last_readers.weight[k], weight)
        for k, name in enumerate(CRITERION_NAMES)
    }
    rows["random_direction_abs_p95"] = float(np.quantile(np.abs(random), 0.95))
    return rows


def checklist_rows(readers, pooled, images, test, present, p_malignant) -> dict:
    """Melanoma (and malignant) AUROC on concept-test of the four 7-point readings."""
    melanoma = np.array([images[i].melanoma for i in test])
    malignant = np.array([images[i].malignant for i in test])
    scores = {
        "readers_7pt_sum": seven_point_score(readers.decisions(pooled[test])),
        "readers_expected_7pt_sum": seven_point_score(readers.probabilities(pooled[test])),
        "dermatologists_7pt_sum": seven_point_score(present[test]),
        "network_p_malignant": p_malignant[test],
    }
    rows = {}
    for name, score in scores.items():
        rows[name] = {
            "melanoma": bootstrap_auroc(melanoma, score),
            "malignant": bootstrap_auroc(malignant, score),
        }
        if name.endswith("7pt_sum") and "expected" not in name:
            flagged = score >= SUSPICIOUS_FROM
            rows[name]["sensitivity_at_3"] = float(flagged[melanoma == 1].mean())
            rows[name]["specificity_at_3"] = float(1 - flagged[melanoma == 0].mean())
    return rows


def shipped_readers(model, measured) -> dict | None:
    """Whether the readers the shipped model carries are the ones measured here."""
    stored = model.concept_readers
    if stored is None:
        return None
    same = stored.layer == measured.layer and np.allclose(stored.weight, measured.weight, atol=1e-5)
    return {"layer": stored.layer, "same_as_measured": bool(same)}


def print_tables(payload: dict) -> None:
    console = Console(width=170)
    table = Table(title="reader AUROC on concept-test [95% bootstrap]")
    table.add_column("criterion")
    table.add_column("positives", justify="right")
    columns = [(net, layer) for net in ("shipped", "imagenet") for layer in (LAST, INNER)]
    for net, layer in columns:
        table.add_column(f"{net} {layer}", justify="right")
    for name in CRITERION_NAMES:
        cells = []
        for net, layer in columns:
            row = payload["readers"][net][layer]["test"][name]
            cells.append(f"{row['auroc']:.3f} [{row['low']:.3f}, {row['high']:.3f}]")
        positives = payload["readers"]["shipped"][LAST]["test"][name]["positives"]
        flag = " (few)" if positives < FEW_POSITIVES else ""
        table.add_row(name, f"{positives}{flag}", *cells)
    table.add_row(
        "mean", "", *(f"{payload['readers'][n][la]['test']['mean_auroc']:.3f}" for n, la in columns)
    )
    table.add_row(
        "fit CV mean",
        "",
        *(f"{payload['readers'][n][la]['fit_cv_mean_auroc']:.3f}" for n, la in columns),
    )
    console.print(table)
    tcav_table = Table(title=f"TCAV at {INNER} (shipped), cosine at the last layer")
    for column in ("criterion", "TCAV", "random", "p", "significant", "cos(v, w_m - w_b)"):
        tcav_table.add_column(column, justify="left" if column == "criterion" else "right")
    for name in CRITERION_NAMES:
        row = payload["tcav"][name]
        tcav_table.add_row(
            name,
            f"{row['tcav_mean']:.3f}",
            f"{row['random_mean']:.3f}",
            f"{row['p_value']:.2g}",
            "yes" if row["significant"] else "no",
            f"{payload['head_alignment'][name]:+.3f}",
        )
    console.print(tcav_table)
    checklist = Table(title="7-point readings on concept-test: AUROC [95%]")
    for column in ("reading", "melanoma", "malignant"):
        checklist.add_column(column, justify="left" if column == "reading" else "right")
    for name, row in payload["checklist"].items():
        checklist.add_row(
            name,
            *(
                f"{row[t]['auroc']:.3f} [{row[t]['low']:.3f}, {row[t]['high']:.3f}]"
                for t in ("melanoma", "malignant")
            ),
        )
    console.print(checklist)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tcav-runs", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "concepts.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    images = read_scored_images()
    fit_files = {image.file for image in concept_images("concept-fit", images)}
    fit = np.array([i for i, image in enumerate(images) if image.file in fit_files])
    test = np.array([i for i, image in enumerate(images) if image.file not in fit_files])
    present = presence_matrix(images)
    paths = [image.path for image in images]
    shipped = skinxai.load_model(precision="32")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        imagenet = SkinClassifier(shipped.config, pretrained=True).eval()
    readings = {"shipped": read_network(shipped, paths), "imagenet": read_network(imagenet, paths)}
    readers = {net: readers_of(readings[net], fit, test, present) for net in readings}
    layers = readers["shipped"]
    chosen = max((LAST, INNER), key=lambda layer: layers[layer]["fit_cv_mean_auroc"])
    logits = torch.from_numpy(readings["shipped"].logits).double()
    p_malignant = shipped.config.probabilities(logits)[:, 1].numpy()
    overlap = find_near_duplicates([paths[i] for i in fit], [paths[i] for i in test])
    test_malignant = np.array([images[i].malignant for i in test])
    payload = {
        "skinxai": skinxai.__version__,
        "model_version": shipped.config.version,
        "split": {
            "concept_fit": len(fit),
            "concept_test": len(test),
            "near_duplicate_pairs_fit_test": len(overlap.pairs),
        },
        "readers": {
            net: {
                layer: {k: v for k, v in entry.items() if k != "readers"}
                for layer, entry in by_layer.items()
            }
            for net, by_layer in readers.items()
        },
        "chosen_layer": chosen,
        "tcav": tcav_rows(
            shipped, readings["shipped"], fit, test, present, p_malignant, args.tcav_runs
        ),
        "head_alignment": head_rows(shipped, layers[LAST]["readers"]),
        "checklist": checklist_rows(
            layers[chosen]["readers"],
            readings["shipped"].pooled[chosen],
            images,
            test,
            present,
            p_malignant,
        ),
        "diagnosis_on_concept_test": bootstrap_auroc(test_malignant, p_malignant[test]),
        "shipped_readers": shipped_readers(shipped, layers[chosen]["readers"]),
        "seconds": None,
    }
    payload["seconds"] = time.perf_counter() - started
    print_tables(payload)
    print(
        f"chosen layer {chosen}; derm7pt diagnosis AUROC on concept-test "
        f"{payload['diagnosis_on_concept_test']['auroc']:.3f}; near-duplicate fit/test pairs "
        f"{len(overlap.pairs)}; shipped readers {payload['shipped_readers']}; "
        f"{payload['seconds']:.0f} s"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
