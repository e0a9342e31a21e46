"""`skinxai predict` end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}  # rich folds long paths at 80 columns otherwise
    return subprocess.run(
        [sys.executable, "-m", "skinxai.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.fixture(scope="module")
def ten_images_and_a_fake(tmp_path_factory, fanconic: Path) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    for cls in ("benign", "malignant"):
        for path in sorted((fanconic / "test" / cls).glob("*.jpg"))[:5]:
            shutil.copy(path, folder / f"{cls}_{path.name}")
    (folder / "x.jpg").write_text("not an image\n")
    return folder


def test_folder_with_a_fake_jpg(ten_images_and_a_fake: Path) -> None:
    done = run_cli("predict", str(ten_images_and_a_fake), "--json")
    assert done.returncode == 1
    rows = json.loads(done.stdout)
    assert len(rows) == 11
    good = [r for r in rows if r["error"] is None]
    bad = [r for r in rows if r["error"] is not None]
    assert len(good) == 10 and all(0.0 <= r["p_malignant"] <= 1.0 for r in good)
    assert all(r["label"] in {"benign", "malignant"} for r in good)
    assert len(bad) == 1 and bad[0]["file"].endswith("x.jpg")
    assert "not an image" in bad[0]["error"]
    assert "1 of 11 inputs failed" in done.stderr


def test_table_output_and_success_exit(ten_images_and_a_fake: Path) -> None:
    files = sorted(str(p) for p in ten_images_and_a_fake.glob("*_*.jpg"))
    done = run_cli("predict", *files)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".jpg") == 10


def test_missing_path_is_one_readable_line(tmp_path: Path) -> None:
    done = run_cli("predict", str(tmp_path / "missing.jpg"))
    assert done.returncode == 2  # a user error, as the README says (it was an error row, 1)
    assert done.stderr.strip().startswith("error:") and "does not exist" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_missing_folder_is_one_readable_line(tmp_path: Path) -> None:
    done = run_cli("predict", str(tmp_path / "no-such-folder") + "/")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr


def test_pickle_model_is_refused(tmp_path: Path, fanconic: Path) -> None:
    model = tmp_path / "model.pth"
    model.write_bytes(b"\x80\x04K\x01.")
    image = next((fanconic / "test" / "benign").glob("*.jpg"))
    done = run_cli("predict", str(image), "--model", str(model))
    assert done.returncode == 2
    assert "pickle" in done.stderr and "Traceback" not in done.stderr


def test_rows_carry_the_decision(fanconic: Path, default_model) -> None:
    from tests.test_serve import confident_malignant, uncertain_lesion

    uncertain = uncertain_lesion(default_model, fanconic)
    confident = confident_malignant(default_model, fanconic)
    done = run_cli("predict", str(uncertain), str(confident), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["decision"] for row in rows] == ["uncertain", "malignant"]
    table = run_cli("predict", str(uncertain))
    assert "uncertain" in table.stdout


def test_a_scanned_page_gets_an_error_row_not_a_diagnosis(
    tmp_path: Path, fanconic: Path, default_model
) -> None:
    from tests.test_serve import confident_malignant, scanned_page

    page = tmp_path / "page.jpg"
    page.write_bytes(scanned_page())
    lesion = confident_malignant(default_model, fanconic)
    done = run_cli("predict", str(page), str(lesion), "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    rows = json.loads(done.stdout)
    assert rows[0]["error_code"] == "not_dermoscopic" and rows[0]["decision"] is None
    assert rows[1]["error"] is None and rows[1]["decision"] == "malignant"
    explained = run_cli("explain", str(page), str(lesion), "--out", str(tmp_path / "x"))
    assert explained.returncode == 1
    index = json.loads((tmp_path / "x" / "explanations.json").read_text())
    assert [r["error_code"] for r in index] == ["not_dermoscopic", None]


def test_precision_is_chosen_shown_and_checked(fanconic: Path, default_model) -> None:
    """--precision 32 gives the fp32 model's P(malignant); the default (auto) names what it
    computed in; an unknown precision is one line and exit 2."""
    from skinxai.precision import inference_precision

    image = sorted((fanconic / "test" / "malignant").glob("*.jpg"))[0]
    fp32 = run_cli("predict", str(image), "--json", "--precision", "32")
    assert fp32.returncode == 0, fp32.stderr
    expected = float(default_model.predict_proba([image])[0, 1])
    assert json.loads(fp32.stdout)[0]["p_malignant"] == pytest.approx(expected, abs=1e-6)
    table = run_cli("predict", str(image))
    assert f"({inference_precision('auto', 'cpu')})" in table.stdout
    wrong = run_cli("predict", str(image), "--precision", "fp16")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().count("\n") == 0 and "auto, 32 or bf16" in wrong.stderr
