"""Near-duplicate audit: synthetic cases and the overlaps the data README documents."""

from __future__ import annotations

import io
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from skinxai.data import audit_folders, find_near_duplicates


def test_resized_reencoded_copy_is_found_and_unrelated_image_is_not(
    tmp_path: Path, fanconic: Path
) -> None:
    source = sorted((fanconic / "train" / "malignant").glob("*.jpg"))[0]
    other = sorted((fanconic / "train" / "benign").glob("*.jpg"))[0]
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "orig.jpg").write_bytes(source.read_bytes())
    buffer = io.BytesIO()
    Image.open(source).resize((200, 150)).save(buffer, "JPEG", quality=80)
    (b / "copy.jpg").write_bytes(buffer.getvalue())
    (b / "other.jpg").write_bytes(other.read_bytes())
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(b / "noise.png")
    result = audit_folders(a, b)
    assert [(p.path_a.name, p.path_b.name) for p in result.pairs] == [("orig.jpg", "copy.jpg")]
    assert result.pairs[0].correlation > 0.995


def test_a_file_is_not_its_own_duplicate(fanconic: Path) -> None:
    paths = sorted((fanconic / "test" / "benign").glob("*.jpg"))[:5]
    assert find_near_duplicates(paths, paths).pairs == []


def test_fanconic_train_test_leakage(fanconic: Path) -> None:
    result = audit_folders(fanconic / "train", fanconic / "test")
    assert len(result.pairs) == 22


def test_fanconic_inside_ham10000(fanconic: Path, ham_root: Path) -> None:
    result = audit_folders(fanconic, ham_root / "images")
    by_class = Counter(p.parent.name for p in result.images_a_with_duplicate)
    assert abs(by_class["benign"] - 1800) <= 5
    assert abs(by_class["malignant"] - 688) <= 5


def test_audit_cli(fanconic: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "skinxai.cli",
            "audit",
            str(fanconic / "train"),
            str(fanconic / "test"),
            "--show",
            "3",
            "--csv",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "pairs" in done.stdout and "19 more pairs" in done.stdout
    assert len(out.read_text().splitlines()) == 23


def test_audit_cli_missing_folder(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "skinxai.cli", "audit", str(tmp_path / "nope"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr
