"""The tables the pages quote, each written from one benchmark's JSON. A table says which
script and file it comes from and which model was measured, so an older run shows as one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from skinxai.docs.results import Results, formatted
from skinxai.metrics.sanity import CASCADE

Table = Callable[[Results, str | None], str]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def source_line(script: str, name: str, results: Results, *details: str) -> str:
    """``From benchmarks/<script> (benchmarks/results/<name>.json): model ..., details.``"""
    data = results(name)
    parts = [f"model `{data['model_version']}`"] if "model_version" in data else []
    parts += [d for d in details if d]
    if "seconds" in data:
        parts.append(f"{data['seconds']:.0f} s")
    said = f": {'; '.join(parts)}" if parts else ""
    return f"_From `benchmarks/{script}` (`benchmarks/results/{name}.json`){said}._\n\n"


def _f(value, spec: str = ".3f") -> str:
    return formatted(value, spec)


# --- the shipped model's accuracy ---------------------------------------------------------

# Evaluation sets in the order a reader should weigh them: other clinics first.
ACCURACY_SETS = (
    ("derm7pt", "derm7pt (external: never trained, selected or calibrated on)"),
    ("isic2017:test", "isic2017 test (108 of its 117 malignant are fanconic photos)"),
    ("isic2017:test minus its fanconic photos", "isic2017 test without its fanconic photos"),
    ("fanconic:test", "fanconic test"),
    ("ham10000:test", "HAM10000 grouped test"),
    ("melanoma10k:val", "melanoma10k val (validation)"),
    ("isic2017:val", "isic2017 val (validation)"),
    ("ham10000:val", "HAM10000 val (validation)"),
)


def accuracy(results: Results, _arg: str | None) -> str:
    """The shipped model on every evaluation set at its threshold, external sets first."""
    data = results("accuracy")
    rows = []
    for key, label in ACCURACY_SETS:
        r = data["results"][key]
        gate = r.get("ood_gate") or {}
        rows.append(
            [
                label,
                str(r["n"]),
                _f(r["auroc"]),
                _f(r["sensitivity"]),
                _f(r["specificity"]),
                _f(r["sensitivity_at_specificity_0.80"]),
                _f(gate.get("rejection_rate"), ".1%"),
            ]
        )
    header = ["set", "n", "AUROC", "sensitivity", "specificity", "sens. at spec. 0.80"]
    caption = source_line(
        "accuracy.py",
        "accuracy",
        results,
        f"`{data['inference_precision']}`",
        f"threshold {data['threshold']:.4f}",
    )
    return caption + markdown_table([*header, "refused as not dermoscopic"], rows)


def accuracy_full(results: Results, _arg: str | None) -> str:
    """Every set of the accuracy benchmark with the report's other metrics."""
    data = results("accuracy")
    keys = ("accuracy", "balanced_accuracy", "auroc", "auc_pr", "f1", "mcc", "precision")
    rows = [
        [
            name,
            str(r["n"]),
            *(_f(r[k]) for k in keys),
            _f((r.get("calibration") or {}).get("ece_15_bins")),
        ]
        for name, r in data["results"].items()
    ]
    header = ["set", "n", "accuracy", "balanced acc.", "AUROC", "AUC-PR", "F1", "MCC"]
    return source_line("accuracy.py", "accuracy", results) + markdown_table(
        [*header, "precision", "ECE (15 bins)"], rows
    )


# --- levers tried ---------------------------------------------------------------------------


def levers(results: Results, arg: str | None) -> str:
    """One row per run of ``benchmarks/levers.py``: AUROC per validation source, the worst,
    and derm7pt (reported, never used to choose)."""
    name = arg or "levers"
    runs = results(name)["results"]
    sources = list(dict.fromkeys(s for run in runs.values() for s in run["val_auroc"]))
    rows = [
        [
            run_name,
            *(_f(run["val_auroc"].get(s)) for s in sources),
            _f(run["val_worst_auroc"]),
            _f(run["derm7pt_auroc"]),
        ]
        for run_name, run in runs.items()
    ]
    header = ["run", *sources, "worst validation", "derm7pt (external)"]
    return source_line("levers.py", name, results) + markdown_table(header, rows)


def paired_auroc(results: Results, arg: str | None) -> str:
    """``benchmarks/paired_auroc.py``: a candidate's AUROC against the shipped model's on each
    validation source, with the paired bootstrap's 95% interval."""
    name = arg or "paired_auroc"
    data = results(name)
    rows = [
        [
            source,
            f"{row['n']} ({row['n_malignant']})",
            _f(row["shipped_auroc"]),
            _f(row["candidate_auroc"]),
            f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]",
            _f(row["share_candidate_ahead"], ".1%"),
        ]
        for source, row in data["results"].items()
    ]
    header = [
        "validation source",
        "n (malignant)",
        data["shipped"]["version"],
        data["candidate"]["version"],
        "difference [95%]",
        "resamples with the candidate ahead",
    ]
    return source_line("paired_auroc.py", name, results) + markdown_table(header, rows)


# jpeg_chroma.json's measures, as the table heads them and formats them.
JPEG_CHROMA_COLUMNS = (
    ("ham10000:val AUROC", "ham10000_val_auroc", ".3f"),
    ("isic2017:val AUROC", "isic2017_val_auroc", ".3f"),
    (
        "ham10000:val specificity at sensitivity 0.90",
        "ham10000_val_specificity_at_sensitivity_0.90",
        ".3f",
    ),
    (
        "JPEG 75 on fanconic test: mean logit change",
        "fanconic_test_jpeg75_mean_logit_change",
        "+.2f",
    ),
    ("labels flipped", "fanconic_test_jpeg75_flips", ".1%"),
)


def jpeg_chroma(results: Results, _arg: str | None) -> str:
    """``benchmarks/jpeg_chroma.py``: the upright view with its colour low-passed first, per
    size: validation AUROC and specificity, and JPEG 75's shift and flips on fanconic test."""
    data = results("jpeg_chroma")
    rows = [
        ["off" if size == "none" else f"{size} px"]
        + [_f(row[key], spec) for _, key, spec in JPEG_CHROMA_COLUMNS]
        for size, row in data["results"].items()
    ]
    header = ["chroma low-pass", *(head for head, _, _ in JPEG_CHROMA_COLUMNS)]
    details = ("upright view alone", data["inference_precision"])
    source = source_line("jpeg_chroma.py", "jpeg_chroma", results, *details)
    return source + markdown_table(header, rows)


def views_speed(results: Results, _arg: str | None) -> str:
    """``benchmarks/views_speed.py``: images/s with one view and with the eight D4 views."""
    data = results("views_speed")
    one, eight = data["results"]["none"], data["results"]["d4"]
    rows = [
        [
            task,
            _f(one[key]["images_per_second"], ".1f"),
            _f(eight[key]["images_per_second"], ".1f"),
            _f(eight[key]["times_slower"], ".1f") + "x",
        ]
        for key, task in (("diagnosis", "diagnosis with the gate"), ("gradcam", "Grad-CAM"))
    ]
    details = (
        data["inference_precision"],
        f"batch {data['batch']}",
        f"{data['cpu_threads']} threads",
    )
    header = ["images/s", "one view", "8 views (D4)", "slower by"]
    return source_line("views_speed.py", "views_speed", results, *details) + markdown_table(
        header, rows
    )


# --- shortcuts -------------------------------------------------------------------------------

CHANGES = {
    "jpeg_q75": "JPEG quality 75",
    "jpeg_q90": "JPEG quality 90",
    "half_resolution": "half resolution",
    "warmer_light": "warmer light",
    "dark_vignette": "dark vignette",
    "wide_black_circle": "Barcelona's wide black circle",
    "mirror": "mirror",
    "rotate_90": "rotation by 90 degrees",
}


def shortcut_flips(results: Results, _arg: str | None) -> str:
    """Labels that change under changes that keep the diagnosis, per evaluation set."""
    data = results("shortcuts")
    flips = data["label_flips"]
    sets = list(flips)
    rows = [[label, *(_f(flips[s][key], ".1%") for s in sets)] for key, label in CHANGES.items()]
    header = ["change", *(f"{s} ({flips[s]['n']})" for s in sets)]
    caption = source_line(
        "shortcuts.py", "shortcuts", results, f"threshold {data['threshold']:.4f}"
    )
    return caption + markdown_table(header, rows)


def flips_compared(results: Results, arg: str | None) -> str:
    """Two runs of ``shortcuts.py --checks flips,circle`` side by side (``arg``: their two
    result names): each change's flips and mean logit change per set, and the worst source's
    flips when the circle is drawn on benign images."""
    names = (arg or "").split()
    if len(names) != 2:
        raise ValueError("flips-compared takes two result names")
    runs = [results(name) for name in names]
    sets = list(runs[0]["label_flips"])
    header = ["change", *(f"{s}, {run['model_version']}" for s in sets for run in runs)]

    def cell(run: dict, spec: str, key: str) -> str:
        flips = run["label_flips"][spec]
        return f"{_f(flips[key], '.1%')} ({flips['mean_logit_change'][key]:+.2f})"

    rows = [
        [label, *(cell(run, s, key) for s in sets for run in runs)]
        for key, label in CHANGES.items()
    ]
    circle = "; ".join(
        f"{run['model_version']} {_worst_circle_flips(run, '0.55')} at radius 0.55, "
        f"{_worst_circle_flips(run, '0.8')} at 0.8"
        for run in runs
    )
    captions = "".join(
        source_line(
            "shortcuts.py",
            name,
            results,
            "upright view alone" if run.get("symmetry") == "none" else "its views",
            f"threshold {run['threshold']:.4f}",
        )
        for name, run in zip(names, runs, strict=True)
    )
    return (
        captions
        + markdown_table(header, rows)
        + "\nIn brackets: the mean change of the malignant-minus-benign logit. The circle drawn "
        f"on benign images flips, on the worst source: {circle}.\n"
    )


def _worst_circle_flips(run: dict, radius: str) -> str:
    drawn = run["circle_shortcut"]["circle_drawn_on_benign"]
    return _f(max(row[f"flips_radius_{radius}"] for row in drawn.values()), ".1%")


def shortcut_circle(results: Results, _arg: str | None) -> str:
    """The circle drawn on benign lesions of every source, and cropped off melanoma10k's."""
    circle = results("shortcuts")["circle_shortcut"]
    rows = [
        [
            source,
            str(r["n"]),
            _f(r["called_malignant"], ".1%"),
            _f(r["flips_radius_0.55"], ".1%"),
            _f(r["flips_radius_0.8"], ".1%"),
        ]
        for source, r in circle["circle_drawn_on_benign"].items()
    ]
    removed = circle["circle_removed_from_melanoma10k_val"]
    header = ["benign images of", "n", "called malignant", "flips, radius 0.55", "radius 0.8"]
    return (
        source_line("shortcuts.py", "shortcuts", results)
        + markdown_table(header, rows)
        + f"\nCropping melanoma10k val's {removed['n_with_circle']} circled malignant photos to "
        f"their bright field flips {_f(removed['flips'], '.1%')}.\n"
    )


def shortcut_sources(results: Results, _arg: str | None) -> str:
    """AUROC, sensitivity, specificity and the benign lesions' mean P(malignant) per source."""
    sources = results("shortcuts")["per_source"]
    rows = [
        [
            name,
            str(r["n"]),
            _f(r["auroc"]),
            _f(r["sensitivity"]),
            _f(r["specificity"]),
            _f(r["mean_p_malignant_of_benign"]),
        ]
        for name, r in sources.items()
    ]
    header = ["source", "n", "AUROC", "sensitivity", "specificity", "mean P(malignant), benign"]
    return source_line("shortcuts.py", "shortcuts", results) + markdown_table(header, rows)


def shortcut_evidence(results: Results, _arg: str | None) -> str:
    """Where Grad-CAM points on HAM10000 test, against a centred Gaussian, by decision."""
    where = results("shortcuts")["where_gradcam_points_ham10000_test"]

    def cell(metric: dict) -> str:
        return f"{metric['mean']:.3f} [{metric['low']:.3f}, {metric['high']:.3f}]"

    rows = [[name, cell(m["pointing_game"]), cell(m["energy_inside"])] for name, m in where.items()]
    header = ["map (HAM10000 test)", "pointing game [95%]", "share of the map inside the lesion"]
    return source_line("shortcuts.py", "shortcuts", results) + markdown_table(header, rows)


# --- explanations ----------------------------------------------------------------------------

QUALITY_COLUMNS = (
    ("pointing_game", "pointing"),
    ("energy_inside", "energy in lesion"),
    ("best_iou", "best IoU"),
    ("deletion_auc", "deletion AUC"),
    ("insertion_auc", "insertion AUC"),
)


def explanation_quality(results: Results, arg: str | None) -> str:
    """Localisation and faithfulness per method and baseline, maps for the predicted class,
    and the sanity check: rank correlation with the trained maps after a random head, at the
    cascade's end (pass below 0.5), and after a head refitted on random labels."""
    data = results("explanation_quality")
    name = arg or "ham10000:test"
    summary = data["results"][name]
    rows = []
    for method, metrics in summary["targets"]["predicted"]["methods"].items():
        cells = [_f(metrics.get(key, {}).get("mean")) for key, _ in QUALITY_COLUMNS]
        rows.append([method, *cells, _sanity_cell(metrics.get("sanity"))])
    header = [f"map ({name}, {summary['n_images']} images)", *(h for _, h in QUALITY_COLUMNS)]
    caption = source_line("explanation_quality.py", "explanation_quality", results)
    sanity = "sanity rho: random head -> cascade end; random labels"
    return caption + markdown_table([*header, sanity], rows)


def _sanity_cell(sanity: dict | None) -> str:
    """``0.62 -> 0.05 pass; 0.84``, or n/a for a method the check leaves out."""
    rho = [stage["mean"] for stage in (sanity or {}).get("spearman", [])]
    if not rho or rho[0] is None:  # left out, or a flat map that ranks nothing
        return "n/a"
    verdict = "pass" if sanity["passed"] else "**FAIL**"
    first, end, labels = (_f(r, ".2f") for r in (rho[0], rho[len(CASCADE) - 1], rho[-1]))
    return f"{first} -> {end} {verdict}; {labels}"


# --- the 7-point checklist ---------------------------------------------------------------------


def concept_readers(results: Results, _arg: str | None) -> str:
    """Each criterion's reader on concept-test, at the shipped layer and the last map, shipped
    network against ImageNet weights."""
    data = results("concepts")
    readers, layer = data["readers"], data["chosen_layer"]
    columns = [("shipped", layer), ("shipped", "last"), ("imagenet", layer), ("imagenet", "last")]
    tests = {(net, where): readers[net][where]["test"] for net, where in columns}
    criteria = [c for c, r in tests[columns[0]].items() if isinstance(r, dict)]
    rows = []
    for criterion in criteria:
        first = tests[columns[0]][criterion]
        positives = f"{first['positives']}{' (few)' if first['few_positives'] else ''}"
        cells = []
        for net, where in columns:
            r = tests[net, where][criterion]
            cells.append(f"{r['auroc']:.3f} [{r['low']:.3f}, {r['high']:.3f}]")
        rows.append([criterion.replace("_", " "), positives, *cells])
    rows.append(["**mean**", "", *(f"{tests[key]['mean_auroc']:.3f}" for key in columns)])
    header = ["criterion", "positives in test", *(f"{net}, {where}" for net, where in columns)]
    return source_line("concepts.py", "concepts", results) + markdown_table(header, rows)


def concept_tcav(results: Results, _arg: str | None) -> str:
    """TCAV of each criterion against random directions, and its p-value."""
    tcav = results("concepts")["tcav"]
    rows = [
        [
            name.replace("_", " "),
            _f(r["tcav_mean"]),
            _f(r["random_mean"]),
            f"{r['p_value']:.2g}",
            "yes" if r["significant"] else "no",
        ]
        for name, r in tcav.items()
        if isinstance(r, dict)
    ]
    header = ["criterion", "TCAV", "random directions", "p", "significant (Bonferroni)"]
    detail = f"{tcav['images_predicted_malignant']} concept-test images predicted malignant"
    return source_line("concepts.py", "concepts", results, detail) + markdown_table(header, rows)


CHECKLIST_READINGS = {
    "readers_7pt_sum": "the readers' 7-point sum",
    "readers_expected_7pt_sum": "the readers' expected sum (probabilities x points)",
    "dermatologists_7pt_sum": "the dermatologists' own 7-point sum",
    "network_p_malignant": "the network's P(malignant)",
}


def concept_checklist(results: Results, _arg: str | None) -> str:
    """Melanoma and malignant AUROC on concept-test of each reading of the checklist."""
    checklist = results("concepts")["checklist"]
    rows = []
    for key, label in CHECKLIST_READINGS.items():
        r = checklist[key]
        melanoma = r["melanoma"]
        at_3 = (
            f"{r['sensitivity_at_3']:.2f} / {r['specificity_at_3']:.2f}"
            if "sensitivity_at_3" in r
            else ""
        )
        rows.append(
            [
                label,
                f"{melanoma['auroc']:.3f} [{melanoma['low']:.3f}, {melanoma['high']:.3f}]",
                _f(r["malignant"]["auroc"]),
                at_3,
            ]
        )
    header = ["reading", "melanoma AUROC [95%]", "malignant AUROC", "sens. / spec. at 3 points"]
    return source_line("concepts.py", "concepts", results) + markdown_table(header, rows)


# --- speed -----------------------------------------------------------------------------------


def scale_speed(results: Results, _arg: str | None) -> str:
    """Images per second in fp32 and bf16 for predict, CAM and Grad-CAM, one process."""
    speed = results("scale")["speed"]
    peer = speed["pytorch-grad-cam GradCAM, fp32"]["images_per_second"]
    rows = []
    for path in ("predict", "cam", "gradcam"):
        fp32, bf16 = speed[f"{path}, fp32"], speed[f"{path}, bf16"]
        ratio = bf16.get("ratio_to_pytorch_grad_cam")
        rows.append(
            [
                path,
                _f(fp32["images_per_second"], ".1f"),
                _f(bf16["images_per_second"], ".1f"),
                _f(bf16["ratio_to_fp32"], ".2f"),
                "" if ratio is None else _f(ratio, ".2f"),
            ]
        )
    header = ["path", "fp32 img/s", "bf16 img/s", "bf16 / fp32", f"x pytorch-grad-cam ({peer:.1f})"]
    return source_line("scale.py", "scale", results, "one process, batch 32") + markdown_table(
        header, rows
    )


def scale_archive(results: Results, _arg: str | None) -> str:
    """Archive runs end to end in 1 and 2 processes, fp32 and bf16."""
    archive = results("scale")["archive"]
    rows = []
    for task in ("explain", "predict"):
        cells = []
        for precision in ("32", "auto"):
            one = archive[f"{task}, 1 process(es), {precision}"]["seconds"]
            two = archive[f"{task}, 2 process(es), {precision}"]
            cells += [f"{one:.1f}", f"{two['seconds']:.1f}", f"{two['ratio_to_1_process']:.2f}x"]
        rows.append([task, *cells])
    header = ["run", "fp32: 1 process s", "2 processes s", "speed-up"]
    header += ["bf16: 1 process s", "2 processes s", "speed-up"]
    detail = f"{archive['images']} images, start-up and figures included"
    return source_line("scale.py", "scale", results, detail) + markdown_table(header, rows)


def explain_speed(results: Results, arg: str | None) -> str:
    """Every explainer against plain inference, one machine per file (``explain_speed`` on
    this CPU, ``explain_speed_gpu`` on a GPU)."""
    name = arg or "explain_speed"
    ((machine, run),) = results(name)["runs"].items()
    rows = []
    for method, r in run["results"].items():
        speed, ratio = r["images_per_second"], r["ratio_to_plain_inference"]
        peer = r.get("ratio_to_pytorch_grad_cam")
        rows.append(
            [
                method,
                _f(speed, ",.1f" if speed >= 1 else ".3g"),
                _f(ratio, ".2f" if ratio >= 0.1 else ".4f"),
                "" if peer is None else _f(peer, ".2f"),
            ]
        )
    header = [f"method ({machine}, batch {run['batch']})", "img/s", "x plain"]
    caption = source_line("explain_speed.py", name, results, f"torch {results(name)['torch']}")
    return caption + markdown_table([*header, "x pytorch-grad-cam"], rows)


def training_speed(results: Results, _arg: str | None) -> str:
    """A training step in fp32 NCHW, fp32 channels-last and bf16 autocast channels-last."""
    data = results("training_speed")
    rows = [
        [name, _f(s["images_per_second"], ".1f"), _f(s["over_fp32_nchw"], ".2f")]
        for name, s in data["settings"].items()
    ]
    detail = (
        f"batch {data['batch_size']}, {data['recipe']}, blocks 0-{data['freeze_blocks'] - 1} fixed"
    )
    caption = source_line("training_speed.py", "training_speed", results, detail)
    return caption + markdown_table(["setting", "training img/s", "x fp32 NCHW"], rows)


# --- calibration and the gate ------------------------------------------------------------------


def calibration(results: Results, _arg: str | None) -> str:
    """Calibration metrics before and after, and the rates at the threshold, per set."""
    data = results("calibration")
    rows = []
    for name, r in data["results"].items():
        before, after = r["before"], r["after"]
        rows.append(
            [
                name,
                *(f"{before[k]:.3f} -> {after[k]:.3f}" for k in ("ece_15_bins", "brier", "nll")),
                f"{after['sensitivity']:.3f} / {after['specificity']:.3f}",
                _f(after.get("coverage")),
            ]
        )
    header = ["set", "ECE before -> after", "Brier", "NLL", "sens. / spec. at threshold"]
    caption = source_line(
        "calibration.py", "calibration", results, f"threshold {data['threshold']:.4f}"
    )
    return caption + markdown_table([*header, "coverage"], rows)


def ood_gate(results: Results, _arg: str | None) -> str:
    """How many real dermoscopic images the gate refuses per set, and how well it separates
    them from photographs and synthetic pictures."""
    data = results("ood_gate")
    rows = [
        [
            name,
            str(r["n"]),
            f"{r['rejected']} ({r['false_rejection_rate']:.2%})",
            _f(r["auroc_natural_vs_this_set"]),
        ]
        for name, r in data["dermoscopic"].items()
    ]
    natural, synthetic = data["natural_scores"], data["synthetic_scores"]
    limit = data["gate"]["limit"]
    refused_natural = sum(score > limit for score in natural.values())
    refused_synthetic = sum(score > limit for score in synthetic.values())
    header = ["dermoscopic set", "n", "refused", "AUROC against the photographs"]
    return (
        source_line("ood_gate.py", "ood_gate", results)
        + markdown_table(header, rows)
        + f"\nRefused: {refused_natural} of {len(natural)} photographs and scans, "
        f"{refused_synthetic} of {len(synthetic)} synthetic pictures (limit {limit:.1f}).\n"
    )


def gate_new_clinic(results: Results, _arg: str | None) -> str:
    """The gate refitted with each clinic left out: how much of that clinic it refuses, and
    which non-dermoscopic pictures a limit passing 99% of the clinic would let through."""
    data = results("gate_new_clinic")
    rows = [
        [
            clinic,
            str(r["n"]),
            f"{r['refused']:.1%}",
            _f(r["limit_factor_to_pass_99%"], ".2f"),
            ", ".join(r["far_passing_at_that_factor"]) or "none",
        ]
        for clinic, r in data["results"].items()
    ]
    every = data["every_source"]
    header = ["clinic left out", "its validation images", "refused", "limit x for 99%"]
    return (
        source_line("gate_new_clinic.py", "gate_new_clinic", results)
        + markdown_table([*header, "non-dermoscopic pictures passing at that limit"], rows)
        + f"\nEvery source in the fit: limit {every['limit']:.1f}.\n"
    )


def operating_point(results: Results, _arg: str | None) -> str:
    """The shipped threshold's sensitivity and specificity on each validation source, and the
    threshold each source alone would have asked for."""
    model = results("model")
    point = model["operating_point"]
    rows = [
        [
            source,
            str(r["n"]),
            str(r["n_malignant"]),
            _f(r["own_threshold"], ".4f"),
            _f(r["sensitivity"]),
            _f(r["specificity"]),
        ]
        for source, r in point["per_source"].items()
    ]
    header = ["validation source", "n", "malignant", "its own threshold", "sensitivity"]
    caption = (
        f"_From the shipped model's config (`src/skinxai/assets/model.json`): model "
        f"`{model['version']}`; threshold {model['threshold']:.4f} for {point['goal']} >= "
        f"{point['value']:g} on {point['holds_on']}._\n\n"
    )
    return caption + markdown_table([*header, "specificity"], rows)


TABLES: dict[str, Table] = {
    "accuracy": accuracy,
    "accuracy-full": accuracy_full,
    "levers": levers,
    "paired-auroc": paired_auroc,
    "jpeg-chroma": jpeg_chroma,
    "views-speed": views_speed,
    "shortcut-flips": shortcut_flips,
    "flips-compared": flips_compared,
    "shortcut-circle": shortcut_circle,
    "shortcut-sources": shortcut_sources,
    "shortcut-evidence": shortcut_evidence,
    "explanation-quality": explanation_quality,
    "concept-readers": concept_readers,
    "concept-tcav": concept_tcav,
    "concept-checklist": concept_checklist,
    "scale-speed": scale_speed,
    "scale-archive": scale_archive,
    "explain-speed": explain_speed,
    "training-speed": training_speed,
    "calibration": calibration,
    "ood-gate": ood_gate,
    "gate-new-clinic": gate_new_clinic,
    "operating-point": operating_point,
}
