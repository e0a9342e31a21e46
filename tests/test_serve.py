"""The service for real: uvicorn on 127.0.0.1, real images, every bad input, and Chromium."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.test_io import encode, png_header_only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(*options: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "skinxai.cli", "serve", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("server did not start in time")


def stop_server(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process, base = start_server("--max-upload-mb", "1", "--queue", "2")
    yield base
    stderr = stop_server(process)
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def lesion(fanconic: Path) -> bytes:
    return sorted((fanconic / "test" / "malignant").glob("*.jpg"))[0].read_bytes()


def post(base: str, path: str, data: bytes, name: str = "x.jpg", **params) -> httpx.Response:
    return httpx.post(f"{base}{path}", files={"file": (name, data)}, params=params, timeout=120)


def test_health_model_and_docs(server: str) -> None:
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"
    info = httpx.get(f"{server}/api/v1/model").json()
    assert info["class_names"] == ["benign", "malignant"] and info["trained"]
    assert "not a medical device" in info["intended_use"]
    assert "gradcam" in info["methods"] and "Model card" in info["model_card_markdown"]
    assert httpx.get(f"{server}/docs").status_code == 200
    assert "/api/v1/explain" in httpx.get(f"{server}/openapi.json").json()["paths"]


def test_predict_real_images(server: str, fanconic: Path) -> None:
    for cls in ("benign", "malignant"):
        path = sorted((fanconic / "test" / cls).glob("*.jpg"))[1]
        body = post(server, "/api/v1/predict", path.read_bytes()).json()
        assert body["label"] in ("benign", "malignant")
        assert abs(sum(body["probabilities"].values()) - 1) < 1e-5
        assert body["model_version"].startswith("skinxai-")


def test_explain_returns_overlays_and_raw_maps(server: str, lesion: bytes) -> None:
    response = post(
        server, "/api/v1/explain", lesion, methods="cam,gradcam,layercam", target="malignant"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["explanations"]) == {"cam", "gradcam", "layercam"}
    for method, result in body["explanations"].items():
        overlay = Image.open(io.BytesIO(base64.b64decode(result["overlay_png"])))
        assert overlay.size == (224, 224), method
        raw = np.array(result["raw"])
        assert raw.shape == (7, 7) and result["target"] == "malignant"
    assert Image.open(io.BytesIO(base64.b64decode(body["image_png"]))).size == (224, 224)


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("empty", lambda: b"", 422, "empty_file"),
        ("text", lambda: b"just some text, not a picture", 415, "not_an_image"),
        (
            "truncated",
            lambda: encode(Image.effect_noise((256, 256), 50).convert("RGB"), "JPEG")[:900],
            422,
            "corrupt_image",
        ),
        ("tiny", lambda: encode(Image.new("RGB", (1, 1)), "PNG"), 422, "image_too_small"),
        ("bomb", lambda: png_header_only(30000, 30000), 422, "image_too_large"),
    ],
)
def test_bad_inputs_get_json_reasons(server: str, name, make, status, code) -> None:
    for path in ("/api/v1/predict", "/api/v1/explain"):
        response = post(server, path, make())
        assert response.status_code == status, (name, path, response.text)
        assert response.json()["error"] == code
        assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (64, 64), 90),
        Image.fromarray(np.full((64, 64), 40000, dtype=np.uint16)),
        Image.new("CMYK", (64, 64), (10, 200, 30, 0)),
    ],
)
def test_unusual_but_valid_images_are_accepted(server: str, image: Image.Image) -> None:
    fmt = "JPEG" if image.mode == "CMYK" else "PNG"
    assert post(server, "/api/v1/predict", encode(image, fmt)).status_code == 200


def test_upload_limits_and_request_errors(server: str) -> None:
    too_big = post(server, "/api/v1/predict", b"\xff" * (2 * 2**20))
    assert too_big.status_code == 413 and too_big.json()["error"] == "upload_too_large"
    missing = httpx.post(f"{server}/api/v1/predict", timeout=30)
    assert missing.status_code == 422 and "error" in missing.json()
    bad_method = post(server, "/api/v1/explain", b"x", methods="magic")
    assert bad_method.status_code == 422 and bad_method.json()["error"] == "invalid_methods"
    assert httpx.get(f"{server}/nope").status_code == 404


def test_saturation_answers_503_not_errors(server: str, lesion: bytes) -> None:
    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=server, timeout=120) as client:
            requests = [
                client.post(
                    "/api/v1/explain",
                    files={"file": ("x.jpg", lesion)},
                    params={"methods": "cam,gradcam"},
                )
                for _ in range(8)
            ]
            return [r.status_code for r in await asyncio.gather(*requests)]

    statuses = asyncio.run(burst())
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses


def test_page_in_chromium(server: str, fanconic: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    image = sorted((fanconic / "test" / "malignant").glob("*.jpg"))[2]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server + "/")
            page.wait_for_function(
                "document.getElementById('model-version').textContent !== 'loading…'"
            )
            assert "not a medical device" in page.inner_text("#intended-use")
            page.set_input_files("#file-input", str(image))
            page.wait_for_selector("#result:not([hidden])", timeout=60_000)
            assert page.inner_text("#label") in ("benign", "malignant")
            for slot in ("cam", "gradcam"):
                width = page.eval_on_selector(f"#overlay-{slot}", "img => img.naturalWidth")
                assert width > 0, slot
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            page.set_input_files(
                "#file-input",
                {"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"},
            )
            page.wait_for_selector("#error:not([hidden])", timeout=60_000)
            assert "not an image" in page.inner_text("#error")
        finally:
            browser.close()
    assert (tmp_path / "page.png").stat().st_size > 10_000
