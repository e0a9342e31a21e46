"""The service for real: uvicorn on 127.0.0.1, real images, every bad input, and Chromium."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from skinxai.precision import inference_precision
from skinxai.serve.local import start_local_server
from tests.conftest import REPO_ROOT
from tests.test_io import encode, png_header_only


def start_server(*options: str) -> tuple[subprocess.Popen, str]:
    """The service on a free port, its stderr piped for the tests to read."""
    return start_local_server(*options, stderr=subprocess.PIPE)


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
    process, base = start_server("--max-upload-mb", "12", "--queue", "2")
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
    assert info["inference_precision"] == inference_precision("auto", "cpu")  # what serve runs
    assert set(info["method_descriptions"]) == set(info["methods"])
    assert "Red marks" in info["what_you_are_looking_at"]
    assert httpx.get(f"{server}/docs").status_code == 200
    assert "/api/v1/explain" in httpx.get(f"{server}/openapi.json").json()["paths"]


def test_predict_real_images(server: str, fanconic: Path) -> None:
    for cls in ("benign", "malignant"):
        path = sorted((fanconic / "test" / cls).glob("*.jpg"))[1]
        body = post(server, "/api/v1/predict", path.read_bytes()).json()
        assert body["label"] in ("benign", "malignant")
        assert abs(sum(body["probabilities"].values()) - 1) < 1e-5
        assert body["model_version"].startswith("skinxai-")
        assert body["inference_precision"] == inference_precision("auto", "cpu")


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


def test_explain_with_concepts_returns_the_checklist_and_its_maps(
    server: str, lesion: bytes
) -> None:
    response = post(server, "/api/v1/explain", lesion, methods="cam", concepts="true")
    assert response.status_code == 200, response.text
    concepts = response.json()["concepts"]
    assert len(concepts["criteria"]) == 7 and "research aid" in concepts["note"]
    assert concepts["total_points"] == sum(c["points"] for c in concepts["criteria"])
    assert concepts["suspicious"] == (concepts["total_points"] >= 3)
    for criterion in concepts["criteria"]:
        heat = Image.open(io.BytesIO(base64.b64decode(criterion["heatmap_png"])))
        assert heat.size == (224, 224) and 0.0 <= criterion["probability"] <= 1.0
        assert criterion["points"] == (criterion["worth"] if criterion["present"] else 0)
    assert "concepts" not in post(server, "/api/v1/explain", lesion, methods="cam").json()
    assert httpx.get(f"{server}/api/v1/model").json()["concept_readers"]["layer"]


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


def _cmyk_lesion() -> Image.Image:
    from skinxai.data.paths import shared_data_dir

    photo = Image.open(shared_data_dir() / "ham10000" / "images" / "ISIC_0024313.jpg")
    return photo.convert("CMYK")


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (_cmyk_lesion, 200, None),
        # decoded, then refused by the gate: a flat field is not a dermoscopic photo
        (lambda: Image.new("L", (64, 64), 90), 422, "not_dermoscopic"),
        (
            lambda: Image.fromarray(np.full((64, 64), 40000, dtype=np.uint16)),
            422,
            "not_dermoscopic",
        ),
        (lambda: Image.new("CMYK", (64, 64), (10, 200, 30, 0)), 422, "not_dermoscopic"),
    ],
)
def test_unusual_but_valid_images_are_decoded(server: str, make, status, code) -> None:
    image = make()
    fmt = "JPEG" if image.mode == "CMYK" else "PNG"
    response = post(server, "/api/v1/predict", encode(image, fmt))
    assert response.status_code == status and response.json().get("error") == code


def test_upload_limits_and_request_errors(server: str) -> None:
    too_big = post(server, "/api/v1/predict", b"\xff" * (13 * 2**20))
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


def decode_png(base64_png: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(base64_png)))


@pytest.fixture(scope="module")
def wide_photo(ham_root: Path) -> bytes:
    """A real HAM10000 lesion as a 765x572 photo (a common dermatoscope frame)."""
    lesion = Image.open(ham_root / "images" / "ISIC_0024313.jpg")
    return encode(lesion.resize((765, 572), Image.Resampling.BICUBIC), "JPEG")


def test_explain_on_the_photo_as_taken(server: str, wide_photo: bytes) -> None:
    response = post(
        server,
        "/api/v1/explain",
        wide_photo,
        methods="cam,gradcam",
        size="original",
        both_classes="true",
        include_overlay="false",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["original_size"] == body["image_size"] == {"width": 765, "height": 572}
    assert decode_png(body["image_png"]).size == (765, 572)
    assert set(body["explanations_by_class"]) == {"benign", "malignant"}
    for name, maps in body["explanations_by_class"].items():
        assert {m["target"] for m in maps.values()} == {name}
    peaks_checked = 0
    for maps in (body["explanations"], *body["explanations_by_class"].values()):
        for result in maps.values():
            assert result["overlay_png"] is None
            heat = np.asarray(decode_png(result["heatmap_png"]).convert("RGB"))
            assert heat.shape == (572, 765, 3)
            raw = np.array(result["raw"])
            if raw.max() <= raw.min():
                continue  # no evidence for this class anywhere (a flat map): no peak to place
            peaks_checked += 1
            # The peak of the 7x7 grid lands in the same cell of the photo, and the PNG's pixel
            # there is jet's top colour: the map is aligned with the photo, not with a square.
            row, col = np.unravel_index(raw.argmax(), raw.shape)
            x, y = result["peak_original_xy"]
            assert (
                col * 765 / 7 <= x < (col + 1) * 765 / 7
                and row * 572 / 7 <= y < (row + 1) * 572 / 7
            )
            red, green, blue = heat[int(y), int(x)]
            assert red >= 120 and green == blue == 0  # jet's top colour, dark red
    assert peaks_checked >= 3  # of the 6 maps (2 methods: the decision's, then each class's)
    model_sized = post(server, "/api/v1/explain", wide_photo, methods="gradcam").json()
    assert decode_png(model_sized["explanations"]["gradcam"]["overlay_png"]).size == (224, 224)
    bad_size = post(server, "/api/v1/explain", wide_photo, size="huge")
    assert bad_size.status_code == 422 and bad_size.json()["error"] == "invalid_request"


def phone_photo(ham_root: Path) -> bytes:
    """An 11 MB, 12-megapixel JPEG as a phone takes it: 4032x3024 stored, EXIF 'rotate 90'."""
    lesion = Image.open(ham_root / "images" / "ISIC_0024313.jpg")
    big = np.asarray(lesion.resize((4032, 3024), Image.Resampling.BICUBIC)).astype(np.int16)
    noise = np.random.default_rng(0).integers(-30, 31, big.shape, dtype=np.int16)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=90, subsampling=0, exif=exif.tobytes()
    )
    return buffer.getvalue()


BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_page_in_chromium(
    server: str, ham_root: Path, tmp_path: Path, default_model, fanconic: Path
) -> None:
    from playwright.sync_api import sync_playwright

    photo = tmp_path / "phone.jpg"
    photo.write_bytes(phone_photo(ham_root))
    assert photo.stat().st_size > 10 * 2**20
    screenshots = REPO_ROOT / "out"
    screenshots.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server + "/")
            page.wait_for_function(
                "document.getElementById('model-version').textContent !== 'loading…'"
            )
            assert "not a medical device" in page.inner_text("#intended-use")
            check_keyboard_order(page)
            page.set_input_files("#file-input", str(photo))
            page.wait_for_selector("#result:not([hidden])", timeout=60_000)
            assert page.inner_text("#label") in ("benign", "malignant", "uncertain")
            assert "chosen for sensitivity" in page.inner_text("#threshold")
            # EXIF says "rotate 90": the photo is 3024x4032 as taken, shown at 768x1024.
            assert "3024x4032" in page.inner_text("#photo-size")
            for slot in ("cam", "gradcam"):
                check_heat_panel(page, f"#overlay-{slot}", 768 / 1024)
            check_checklist(page)
            page.screenshot(path=str(screenshots / "test-page-phone-photo.png"), full_page=True)
            check_controls(page)
            page.screenshot(path=str(screenshots / "test-page-both-classes.png"), full_page=True)
            page.set_input_files("#file-input", str(uncertain_lesion(default_model, fanconic)))
            page.wait_for_function("document.getElementById('label').textContent === 'uncertain'")
            assert "uncertain band" in page.inner_text("#decision-note")
            page.set_input_files(
                "#file-input",
                {"name": "page.jpg", "mimeType": "image/jpeg", "buffer": scanned_page()},
            )
            page.wait_for_selector("#error:not([hidden])", timeout=60_000)
            assert "does not look like a dermoscopic" in page.inner_text("#error")
            page.set_input_files(
                "#file-input",
                {"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"not an image"},
            )
            page.wait_for_selector("#error:not([hidden])", timeout=60_000)
            assert "not an image" in page.inner_text("#error")
        finally:
            browser.close()
    assert (screenshots / "test-page-both-classes.png").stat().st_size > 10_000


def check_keyboard_order(page) -> None:
    """Tab reaches the upload, then the controls, in reading order; every control has a label."""
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    wanted = ["file-input", "method-select", "both-classes", "opacity"]
    positions = [order.index(control) for control in wanted]
    assert positions == sorted(positions), order
    for control in wanted:
        assert page.evaluate(f"document.getElementById('{control}').labels.length") >= 1, control


def check_checklist(page) -> None:
    """The section "What a dermatologist would check": the seven criteria as the network reads
    them, the total, each openable as its concept map over the photo."""
    section = page.locator("#checklist")
    assert section.is_visible()
    assert "What a dermatologist would check" in section.inner_text()
    assert section.locator("li").count() == 7
    assert re.match(r"(1 point|\d+ points): ", page.inner_text("#checklist-total"))
    assert "research aid" in section.inner_text()
    section.locator("summary").first.click()
    check_heat_panel(page, "#concept-atypical_pigment_network", 768 / 1024)


def check_heat_panel(page, selector: str, aspect: float) -> None:
    """The heat map is loaded, described for screen readers, and drawn at the photo's aspect
    ratio exactly over the photo beneath it."""
    heat = page.locator(selector)
    size = heat.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size[0] > 0 and abs(size[0] / size[1] - aspect) < 0.01, (selector, size)
    assert "heat map of the evidence for" in heat.get_attribute("alt")
    base = heat.locator("xpath=../img[contains(@class, 'base')]")
    box, base_box = heat.bounding_box(), base.bounding_box()
    assert abs(box["width"] / box["height"] - aspect) < 0.02, box
    for key in ("x", "y", "width", "height"):
        assert abs(box[key] - base_box[key]) < 1.5, (key, box, base_box)


def check_controls(page) -> None:
    """A third method with its one-line meaning on hover, both classes, opacity."""
    page.select_option("#method-select", "layercam")
    page.wait_for_selector("#overlay-layercam", timeout=60_000)
    assert page.inner_text("#method-help").startswith("LayerCAM:")
    panel_title = page.locator("#overlay-layercam").evaluate("img => img.closest('figure').title")
    assert panel_title.startswith("LayerCAM:")
    page.check("#both-classes")
    page.wait_for_selector("#overlay-benign-gradcam", timeout=60_000)
    page.wait_for_selector("#overlay-malignant-layercam", timeout=60_000)
    headings = page.locator("#groups h3").all_inner_texts()
    assert [h.split(" (")[0] for h in headings] == [
        "Evidence for benign",
        "Evidence for malignant",
    ]
    assert page.locator(".colour-bar").count() == 2
    page.fill("#opacity", "0.8")
    opacities = page.eval_on_selector_all("img.heat", "imgs => imgs.map(i => i.style.opacity)")
    assert opacities and set(opacities) == {"0.8"}


def test_security_headers_and_trusted_host(server: str) -> None:
    page = httpx.get(f"{server}/")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    api = httpx.get(f"{server}/api/v1/model")
    assert api.headers["cache-control"] == "no-store" and "nosniff" in str(api.headers)
    error = httpx.get(f"{server}/nope")
    assert error.headers["x-content-type-options"] == "nosniff"
    for host in ("attacker.example", "127.0.0.1.attacker.example", "localhost.:80"):
        spoofed = httpx.get(f"{server}/healthz", headers={"Host": host})
        assert spoofed.status_code == 400 and spoofed.json()["error"] == "invalid_host", host
    for host in ("localhost", f"127.0.0.1:{server.rsplit(':', 1)[1]}", "[::1]:8000"):
        assert httpx.get(f"{server}/healthz", headers={"Host": host}).status_code == 200


def test_chunked_upload_is_cut_off_at_the_limit(server: str) -> None:
    sent = 0

    def body():
        nonlocal sent
        boundary = b"--b\r\nContent-Disposition: form-data; name=file; filename=x.jpg\r\n\r\n"
        yield boundary
        for _ in range(64):  # up to 64 MiB, far over the 12 MB limit
            sent += 2**20
            yield b"\xff" * 2**20
        yield b"\r\n--b--\r\n"

    response = httpx.post(
        f"{server}/api/v1/predict",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        timeout=60,
    )
    assert response.status_code == 413 and response.json()["error"] == "upload_too_large"
    assert "transfer-encoding" not in response.request.headers or sent <= 64 * 2**20
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_target_must_be_a_class(server: str, lesion: bytes) -> None:
    for target in ("²", "2", "melanoma", "-1"):
        response = post(server, "/api/v1/explain", lesion, target=target)
        assert response.status_code == 422 and response.json()["error"] == "invalid_target"
    assert post(server, "/api/v1/explain", lesion, target="1").status_code == 200


def test_swagger_ui_works_offline_under_the_csp(server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            outside = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(server) else None,
            )
            page.goto(server + "/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert "skinxai" in page.inner_text(".swagger-ui .info .title")
            assert page.locator(".opblock-summary-path").count() >= 4
            assert [u for u in outside if not u.startswith("data:")] == []
        finally:
            browser.close()


def uncertain_lesion(default_model, fanconic: Path) -> Path:
    """The first fanconic test image whose calibrated P(malignant) lies in the shipped band."""
    low, high = default_model.config.uncertain_band
    for path in sorted((fanconic / "test" / "benign").glob("*.jpg"))[:60]:
        if low <= float(default_model.predict_proba(path)[0, 1]) < high:
            return path
    raise AssertionError("no image in the uncertain band among the first 60")


def confident_malignant(default_model, fanconic: Path) -> Path:
    """Of the first 20 fanconic test melanomas, the one the shipped model is surest of."""
    candidates = sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:20]
    chosen = candidates[int(default_model.predict_proba(candidates)[:, 1].argmax())]
    assert default_model.config.decision(float(default_model.predict_proba(chosen)[0, 1])) == (
        "malignant"
    )
    return chosen


def test_decisions_with_the_calibrated_operating_point(
    server: str, default_model, fanconic: Path
) -> None:
    config = default_model.config
    assert config.operating_point["goal"] == "sensitivity" and config.threshold < 0.5
    info = httpx.get(f"{server}/api/v1/model").json()
    assert info["uncertain_band"] == list(config.uncertain_band)
    path = uncertain_lesion(default_model, fanconic)
    for endpoint in ("/api/v1/predict", "/api/v1/explain"):
        body = post(server, endpoint, path.read_bytes()).json()
        assert body["decision"] == "uncertain" and body["uncertain_band"] == info["uncertain_band"]
    confident = confident_malignant(default_model, fanconic)
    body = post(server, "/api/v1/predict", confident.read_bytes()).json()
    assert body["decision"] == body["label"] == "malignant"


def scanned_page() -> bytes:
    """scikit-image's scan of a printed page: a real image, not a skin lesion (the shipped gate
    refuses it by a wide margin; it lets some photographs through, see benchmarks/ood_gate.py)."""
    from skimage import data

    return encode(Image.fromarray(data.page()).convert("RGB"), "JPEG")


def test_photographs_get_no_diagnosis(server: str) -> None:
    for endpoint in ("/api/v1/predict", "/api/v1/explain"):
        response = post(server, endpoint, scanned_page(), name="page.jpg")
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "not_dermoscopic"
        assert "does not look like a dermoscopic" in response.json()["detail"]


# Hardening round two: rows 4 and 10 (methods, two files, 405, Host).


def push_until_closed(port: int, request_line: str, seconds: float = 10.0) -> dict:
    """Send ``request_line`` with an endless chunked multipart body on a raw socket, as fast
    as the server takes it: how much it took in all and after its answer, the status line,
    and whether the server closed the connection (the body can no longer be sent)."""
    head = (
        f"{request_line} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
    ).encode()
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n\r\n'
    chunk = b"\xff" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent, answered_at, answer, pending = 0, None, b"", head + b"%x\r\n%s\r\n" % (len(part), part)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setblocking(False)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pending = pending or framed
            try:
                count = sock.send(pending)
                sent, pending = sent + count, pending[count:]
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:  # reset or broken pipe: the server closed the connection
                return {"sent": sent, "after": sent - (answered_at or sent), "answer": answer}
            try:
                received = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                return {"sent": sent, "after": sent - (answered_at or sent), "answer": answer}
            if not received:
                return {"sent": sent, "after": sent - (answered_at or sent), "answer": answer}
            answer += received
            answered_at = sent if answered_at is None else answered_at
    return {"sent": sent, "after": sent - (answered_at or sent), "answer": answer, "open": True}


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        ("POST /api/v1/predict", b"413"),  # cut off at the 12 MB limit
        ("GET /api/v1/predict", b"405"),  # a route that never reads the body
        ("POST /api/v1/nope", b"405"),  # the page's mount, which never reads it either
        ("POST /healthz", b"405"),
    ],
)
def test_an_answer_before_the_body_ends_closes_the_connection(
    server: str, request_line: str, status: bytes
) -> None:
    pushed = push_until_closed(int(server.rsplit(":", 1)[1]), request_line)
    assert "open" not in pushed, f"still reading after {pushed['sent'] / 2**20:.0f} MiB"
    assert pushed["answer"].split(b"\r\n", 1)[0].split(b" ")[1] == status
    assert b"connection: close" in pushed["answer"].lower()
    assert pushed["sent"] < 40 * 2**20  # the 12 MB limit plus the socket buffers
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_api_paths_answer_other_methods_with_405(server: str) -> None:
    for method, path, allowed in (
        ("GET", "/api/v1/predict", "POST"),
        ("PUT", "/api/v1/explain", "POST"),
        ("DELETE", "/api/v1/model", "GET, HEAD"),
        ("POST", "/healthz", "GET, HEAD"),
    ):
        response = httpx.request(method, f"{server}{path}")
        assert response.status_code == 405, (method, path)
        assert response.json()["error"] == "method_not_allowed"
        assert response.headers["allow"] == allowed
    assert httpx.head(f"{server}/healthz").status_code == 200
    assert httpx.get(f"{server}/api/v1/nope").status_code == 404


def test_two_file_parts_are_refused_not_one_dropped(server: str, lesion: bytes) -> None:
    response = httpx.post(
        f"{server}/api/v1/predict",
        files=[("file", ("a.jpg", lesion)), ("file", ("b.jpg", b"not an image"))],
        timeout=60,
    )
    assert response.status_code == 422 and "exactly one image" in response.json()["detail"]


def test_an_unencoded_plus_in_methods_is_refused_by_name(server: str, lesion: bytes) -> None:
    url = f"{server}/api/v1/explain?methods=cam,gradcam++"  # '+' is a space in a query
    response = httpx.post(url, files={"file": ("x.jpg", lesion)}, timeout=60)
    assert response.status_code == 422 and response.json()["error"] == "invalid_methods"
    assert "'gradcam  '" in response.json()["detail"] and "%2B%2B" in response.json()["detail"]
    encoded = post(server, "/api/v1/explain", lesion, methods="gradcam++")  # httpx encodes it
    assert encoded.status_code == 200 and list(encoded.json()["explanations"]) == ["gradcam++"]
    assert post(server, "/api/v1/explain", lesion, methods="cam,,gradcam").status_code == 422


def test_a_host_header_with_more_than_a_host_and_port_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}@evil.com", "127.0.0.1/evil", "127.0.0.1:x", "user@localhost"):
        response = httpx.get(f"{server}/healthz", headers={"Host": host})
        assert response.status_code == 400 and response.json()["error"] == "invalid_host", host
    assert httpx.get(f"{server}/healthz", headers={"Host": "::1"}).status_code == 200
