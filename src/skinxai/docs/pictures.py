"""The README's pictures, made from the shipped model: the demo figure (``skinxai explain``
on a shipped sample) and a screenshot of the web page in Chromium (``skinxai serve``).
``docs/pictures.json`` records the model they were made with, so a test can tell when a new
model shipped and the pictures did not follow."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from skinxai.serve.local import start_local_server

SAMPLE = "malignant_ham10000_test_ISIC_0024313.jpg"  # the first melanoma of the grouped test
PAGE_PHOTO_SIZE = (765, 572)  # a common dermatoscope frame
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


def shipped_model() -> dict:
    """The shipped model's version and the SHA-256 of its weights."""
    from skinxai.model import default_model_path

    weights = default_model_path()
    config = json.loads(weights.with_suffix(".json").read_text())
    return {"version": config["version"], "sha256": file_sha256(weights)}


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for piece in iter(lambda: handle.read(2**20), b""):
            digest.update(piece)
    return digest.hexdigest()


def sample_path() -> Path:
    """The shipped sample photo both pictures show."""
    from importlib import resources

    return Path(str(resources.files("skinxai") / "assets" / "samples" / SAMPLE))


def demo_figure(target: Path) -> dict:
    """``skinxai explain`` (CAM and Grad-CAM) on the sample, its figure copied to ``target``;
    the sample's row of explanations.json."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "explain"
        command = [sys.executable, "-m", "skinxai.cli", "explain", str(sample_path())]
        subprocess.run([*command, "--method", "cam,gradcam", "--out", str(out)], check=True)
        row = json.loads((out / "explanations.json").read_text())[0]
        shutil.copyfile(out / row["figure"], target)
    return row


def page_screenshot(target: Path) -> None:
    """The page in Chromium after the sample, as a 765x572 photo, was dropped on it with the
    evidence for both classes shown."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "lesion.jpg"
        Image.open(sample_path()).resize(PAGE_PHOTO_SIZE, Image.Resampling.BICUBIC).save(photo)
        server, base = start_local_server()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(base + "/")
                page.check("#both-classes")
                page.set_input_files("#file-input", str(photo))
                page.wait_for_selector("#overlay-benign-gradcam", timeout=120_000)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(target), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


def make_pictures(docs: Path) -> dict:
    """Both pictures into ``docs``, and ``docs/pictures.json`` naming the model."""
    row = demo_figure(docs / "demo-figure.png")
    page_screenshot(docs / "page.png")
    record = {
        "model": shipped_model(),
        "sample": SAMPLE,
        "sample_size": list(Image.open(sample_path()).size),
        "sample_reading": {k: row[k] for k in ("decision", "probability", "inference_precision")},
        "demo_figure": "demo-figure.png",
        "page": "page.png",
        "page_photo_size": list(PAGE_PHOTO_SIZE),
    }
    (docs / "pictures.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
