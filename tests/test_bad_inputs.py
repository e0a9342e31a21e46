"""The bad-input corpus against the real server and the real CLI: every case gets its documented
answer, nothing answers 5xx, no command prints a traceback; and a fuzz test of the upload
endpoint with mutated real JPEG/PNG bytes."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.bad_input_corpus import Case, build_corpus, write_corpus
from tests.test_cli_predict import run_cli
from tests.test_serve import post, start_server, stop_server

CASES = build_corpus()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process, base = start_server("--queue", "4")
    yield base
    stderr = stop_server(process)
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr[-3000:]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[Case]]:
    folder = tmp_path_factory.mktemp("corpus")
    return folder, write_corpus(folder)


@pytest.mark.parametrize("path", ["/api/v1/predict", "/api/v1/explain"])
def test_every_case_gets_its_documented_answer_from_the_api(server: str, path: str) -> None:
    answers = {}
    for case in CASES:
        response = post(server, path, case.data, name=case.name, methods="cam,gradcam")
        body = response.json()
        answers[case.name] = (response.status_code, body.get("error"))
        assert "Traceback" not in response.text
    expected = {case.name: (case.status, case.code) for case in CASES}
    assert answers == expected
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_every_case_gets_its_documented_row_from_predict_and_explain(
    corpus: tuple[Path, list[Case]], tmp_path: Path
) -> None:
    folder, cases = corpus
    files = [str(folder / case.name) for case in cases]
    expected = {str(folder / case.name): case.code for case in cases}

    predicted = run_cli("predict", *files, "--json")
    assert predicted.returncode == 1 and "Traceback" not in predicted.stderr
    assert "Warning" not in predicted.stderr, predicted.stderr
    assert {row["file"]: row["error_code"] for row in json.loads(predicted.stdout)} == expected

    out = tmp_path / "explained"
    explained = run_cli("explain", *files, "--out", str(out), "--batch-size", "8")
    assert explained.returncode == 1 and "Traceback" not in explained.stderr
    rows = json.loads((out / "explanations.json").read_text())
    assert {row["file"]: row["error_code"] for row in rows} == expected
    figures = {row["figure"] for row in rows if row["figure"]}
    assert figures == {p.name for p in out.glob("*.png")}
    assert len(figures) == sum(case.usable for case in cases)


def test_evaluate_scores_the_good_images_and_lists_the_bad(
    corpus: tuple[Path, list[Case]], fanconic: Path, tmp_path: Path
) -> None:
    folder, cases = corpus
    data = tmp_path / "set"
    shutil.copytree(folder, data / "benign")
    (data / "malignant").mkdir()
    for image in sorted((fanconic / "test" / "malignant").glob("*.jpg"))[:4]:
        shutil.copy(image, data / "malignant" / image.name)
    done = run_cli("evaluate", "--data", str(data), "--out", str(tmp_path / "report"))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "not usable images" in done.stderr
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    from skinxai.data.paths import list_images

    listed = {p.name for p in list_images(data / "benign")}
    # evaluate scores every decodable image (the gate's refusals get their own report)
    decodable = (None, "not_dermoscopic")
    bad = {case.name for case in cases if case.code not in decodable and case.name in listed}
    assert {Path(f["file"]).name for f in metrics["failed_images"]} == bad
    assert metrics["n"] == len(listed) - len(bad) + 4


def _real_image_bytes(fanconic: Path) -> list[bytes]:
    path = sorted((fanconic / "test" / "benign").glob("*.jpg"))[0]
    jpeg = path.read_bytes()
    buffer = io.BytesIO()
    Image.open(path).resize((64, 48)).save(buffer, "PNG")
    return [jpeg, buffer.getvalue()]


@st.composite
def mutated(draw, originals: list[bytes]) -> bytes:
    """A real JPEG or PNG with bytes flipped, runs overwritten, a cut, or junk spliced in."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "overwrite", "truncate", "splice"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            junk = draw(st.binary(min_size=1, max_size=64))
            data[position : position + len(junk)] = junk
        elif kind == "truncate":
            del data[position:]
        else:
            data[position:position] = draw(st.binary(min_size=1, max_size=256))
    return bytes(data)


def test_fuzzed_uploads_never_get_a_5xx(server: str, fanconic: Path) -> None:
    originals = _real_image_bytes(fanconic)
    statuses: list[int] = []

    @settings(
        max_examples=80,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=mutated(originals))
    def upload(data: bytes) -> None:
        response = post(server, "/api/v1/predict", data, name="fuzz.jpg")
        statuses.append(response.status_code)
        assert response.status_code in (200, 415, 422), response.text
        assert "error" in response.json() or response.status_code == 200

    upload()
    assert len(statuses) == 80 and {200, 422} <= set(statuses)
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"
