"""`skinxai explain-eval` end to end on real HAM10000 lesions and their masks: the files it
writes, what metrics.json holds, the sanity check's verdicts, and its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skinxai.cli import app
from skinxai.data.ham10000 import read_ham_records
from skinxai.data.masks import find_mask
from skinxai.data.splits import read_ham_split
from skinxai.explanation_quality.samples import masked_set

runner = CliRunner()


@pytest.fixture(scope="module")
def masked_folder(ham_root: Path, tmp_path_factory) -> tuple[Path, Path]:
    """Five benign and five malignant HAM10000 test lesions as a folder-per-class set, their
    masks in another folder; plus a text file named .jpg (with a mask) and a lesion without one."""
    split = read_ham_split()
    records = [r for r in read_ham_records(ham_root) if split[r.image_id] == "test"]
    root = tmp_path_factory.mktemp("masked")
    images, masks = root / "images", root / "masks"
    masks.mkdir()
    for label, name in enumerate(("benign", "malignant")):
        (images / name).mkdir(parents=True)
        chosen = [r for r in records if r.label == label][:5]
        for record in chosen:
            shutil.copy(record.image_path, images / name / record.image_path.name)
            shutil.copy(record.mask_path, masks / record.mask_path.name)
    (images / "benign" / "notes.jpg").write_text("not an image")
    shutil.copy(chosen[0].mask_path, masks / "notes_segmentation.png")
    spare = [r for r in records if r.label == 0][5]
    shutil.copy(spare.image_path, images / "benign" / spare.image_path.name)
    return images, masks


def test_masks_are_found_by_stem_for_named_sets_and_folders(masked_folder) -> None:
    images, masks = masked_folder
    found = masked_set(str(images), masks)
    assert len(found.samples) == 11 and len(found.without_mask) == 1
    assert find_mask(Path("x/ISIC_0024306.jpg"), masks) is None
    ham = masked_set("ham10000:test")
    assert len(ham.samples) == 1519 and not ham.without_mask
    isic = masked_set("isic2017:val")
    assert len(isic.samples) + len(isic.without_mask) == 150 and isic.samples


def test_explain_eval_writes_the_report_and_the_sanity_check_sorts_methods(
    masked_folder, tmp_path: Path
) -> None:
    images, masks = masked_folder
    out = tmp_path / "quality"
    result = runner.invoke(
        app,
        [
            "explain-eval",
            "--data",
            str(images),
            "--masks",
            str(masks),
            "--out",
            str(out),
            "--methods",
            "cam,gradcam,gradcam++",
            "--faithfulness-images",
            "1",
        ],
    )
    assert result.exit_code == 1, result.output  # the text file is reported, the rest scored
    for name in (
        "metrics.json",
        "report.md",
        "deletion_insertion.png",
        "distributions.png",
        "sanity.png",
        "worst_gradcam.png",
        "worst_baseline_centred-gaussian.png",
    ):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_images"] == 10 and metrics["n_failed"] == 1
    assert metrics["without_mask"] == 1
    assert "notes.jpg" in metrics["failed"][0]["file"]
    assert set(metrics["targets"]) == {"predicted", "true"}
    methods = metrics["targets"]["predicted"]["methods"]
    assert set(methods) == {
        "cam",
        "gradcam",
        "gradcam++",
        "baseline:centred-gaussian",
        "baseline:uniform",
        "baseline:random",
        "baseline:sobel",
    }
    gradcam = methods["gradcam"]
    for key in ("pointing_game", "pointing_game_tolerant", "energy_inside", "iou_at_0.5"):
        entry = gradcam[key]
        # energy inside is NaN (left out) for an all-zero map: no evidence for the explained
        # class anywhere, which the shipped model gives on some of these lesions
        expected = range(7, 11) if key == "energy_inside" else (10,)
        assert entry["n"] in expected and entry["low"] <= entry["mean"] <= entry["high"], key
    assert 0.05 <= gradcam["best_iou"]["threshold"] <= 0.95
    assert gradcam["deletion_auc"]["n"] == 1 and gradcam["road_morf"]["n"] == 1
    # the sanity check: Grad-CAM's maps follow the weights, the Sobel map cannot
    assert gradcam["sanity"]["passed"] is True
    assert methods["baseline:sobel"]["sanity"]["passed"] is False
    assert methods["baseline:sobel"]["sanity"]["spearman"][-1]["mean"] == pytest.approx(1.0)
    report = (out / "report.md").read_text()
    assert "| gradcam |" in report and "## Maps for the true class" in report
    assert "FAIL" in report and "centred Gaussian" in report
    assert len(metrics["worst_localised"]["gradcam"]["files"]) == 6


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--data", "derm7pt"], "has no lesion masks"),
        (["--data", "ham10000:test", "--methods", "gradcam,magic"], "unknown method"),
        (
            ["--data", "ham10000:test", "--methods", "scorecam", "--faithfulness-images", "0"],
            "faithfulness subset",
        ),
        (["--data", "ham10000:test", "--masks", "/nonexistent/masks"], "does not exist"),
        (["--data", "ham10000:nosuchsplit"], "unknown HAM10000 split"),
    ],
)
def test_explain_eval_errors_are_one_line(options, message, tmp_path: Path) -> None:
    result = runner.invoke(app, ["explain-eval", "--out", str(tmp_path), *options])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
