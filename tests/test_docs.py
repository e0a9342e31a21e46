"""The README and docs/ say what the benchmarks measured: their numbers are generated from
benchmarks/results, their links lead somewhere, their pictures come from the shipped model."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skinxai.docs import check_pages, repository_results, write_pages
from skinxai.docs.links import dead_links, slug
from skinxai.docs.pages import page_paths, render_page
from skinxai.docs.pictures import sample_path, shipped_model
from skinxai.docs.results import Results
from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"


def test_every_page_matches_the_results() -> None:
    stale = check_pages(REPO_ROOT, repository_results(REPO_ROOT))
    assert not stale, f"run `make docs`: {stale}"


def copy_of_the_pages(tmp_path: Path) -> Path:
    """The pages, what they link to, the results and the shipped config, laid out as in the
    repository."""
    shutil.copy(README, tmp_path / "README.md")
    shutil.copy(REPO_ROOT / "SECURITY.md", tmp_path / "SECURITY.md")
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs")
    shutil.copytree(REPO_ROOT / "benchmarks" / "results", tmp_path / "benchmarks" / "results")
    assets = tmp_path / "src" / "skinxai" / "assets"
    assets.mkdir(parents=True)
    for name in ("model.json", "MODEL_CARD.md"):
        shutil.copy(REPO_ROOT / "src" / "skinxai" / "assets" / name, assets / name)
    return tmp_path


def test_the_check_fails_when_a_result_changes_and_passes_once_regenerated(
    tmp_path: Path,
) -> None:
    root = copy_of_the_pages(tmp_path)
    accuracy = root / "benchmarks" / "results" / "accuracy.json"
    data = json.loads(accuracy.read_text())
    assert f"| {data['results']['derm7pt']['auroc']:.3f} |" in README.read_text()
    data["results"]["derm7pt"]["auroc"] = 0.8123
    accuracy.write_text(json.dumps(data))

    command = [sys.executable, "-m", "skinxai.docs", "--check", "--root", str(root)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stale: README.md: <!-- results:accuracy -->" in done.stdout
    assert "docs/model.md" in done.stdout  # the full table quotes it too

    assert root / "README.md" in write_pages(root, repository_results(root))
    assert "| 0.812 |" in (root / "README.md").read_text()
    assert check_pages(root, repository_results(root)) == []
    assert subprocess.run(command, capture_output=True).returncode == 0


def test_a_value_is_one_number_of_a_json_file(tmp_path: Path) -> None:
    (tmp_path / "speed.json").write_text(
        json.dumps({"runs": [{"a b": {"x/y": 0.25, "bytes": 3 * 2**20}}]})
    )
    results = Results(tmp_path)
    page = (
        "P <!-- value speed runs/0/a%20b/x%2Fy .1% -->?<!-- /value --> of "
        "<!-- value speed runs/0/a%20b/bytes MiB:.0f -->?<!-- /value --> MiB; "
        "`<!-- value speed nowhere -->an example<!-- /value -->` stays as written"
    )
    assert render_page(page, results) == (
        "P <!-- value speed runs/0/a%20b/x%2Fy .1% -->25.0%<!-- /value --> of "
        "<!-- value speed runs/0/a%20b/bytes MiB:.0f -->3<!-- /value --> MiB; "
        "`<!-- value speed nowhere -->an example<!-- /value -->` stays as written"
    )
    with pytest.raises(ValueError, match="has no 'runs/1'"):
        render_page("<!-- value speed runs/1 -->?<!-- /value -->", results)
    with pytest.raises(ValueError, match="unknown results block 'nope'"):
        render_page("<!-- results:nope -->\n<!-- /results -->", results)


def test_no_dead_links_or_anchors() -> None:
    assert dead_links(page_paths(REPO_ROOT)) == []


def test_dead_links_and_anchors_are_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text('# Guide\n\n## Probabilities, "gate" & more\n')
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/guide.md#probabilities-gate--more) [file](docs/missing.md) "
        "[anchor](docs/guide.md#nope) [here](#guide) `[code](nowhere.md)` "
        "[web](https://example.org/x)\n\n# Guide\n"
    )
    found = {(link.target, link.reason) for link in dead_links([page])}
    assert found == {
        ("docs/missing.md", "no such file"),
        ("docs/guide.md#nope", "no heading #nope in guide.md"),
    }


def test_anchors_are_slugged_as_the_repository_host_does() -> None:
    title = 'Probabilities, decisions and "not a dermoscopic image"'
    assert slug(title) == "probabilities-decisions-and-not-a-dermoscopic-image"
    assert slug("bf16 against fp32 on this CPU") == "bf16-against-fp32-on-this-cpu"
    assert slug("The 7-point checklist, read from the `network`") == (
        "the-7-point-checklist-read-from-the-network"
    )


def test_the_readme_is_short_and_reaches_every_page_in_one_click() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", text))
    pages = {f"docs/{p.name}" for p in (REPO_ROOT / "docs").glob("*.md")}
    assert pages <= linked, f"not linked from the README: {pages - linked}"
    assert "](SECURITY.md)" in text


def test_the_pictures_were_made_with_the_shipped_model() -> None:
    record = json.loads((REPO_ROOT / "docs" / "pictures.json").read_text())
    assert record["model"] == shipped_model(), "a new model shipped: run `make docs`"
    for picture in ("demo_figure", "page"):
        assert (REPO_ROOT / "docs" / record[picture]).stat().st_size > 10_000


def test_the_readme_python_example_runs() -> None:
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    namespace: dict = {}
    exec(example.replace('"lesion.jpg"', repr(str(sample_path()))), namespace)
    assert namespace["p_malignant"].shape == (1,)
    assert 0.0 <= float(namespace["p_malignant"][0]) <= 1.0
    assert tuple(namespace["maps"].shape) == (1, 224, 224)
