"""The index page of an ``explain`` run in Chromium: a file name that reads as a URL scheme
stays a file name (hardening round two, row 3)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

from typer.testing import CliRunner

from skinxai.cli import app
from tests.test_serve import BROWSER_ARGS

HOSTILE_NAME = "javascript:alert(document.domain)<!--.jpg"


def test_a_hostile_file_name_never_runs_script_from_the_index(
    fanconic: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    photo = tmp_path / "in" / HOSTILE_NAME
    photo.parent.mkdir()
    shutil.copy(sorted((fanconic / "test" / "malignant").glob("*.jpg"))[0], photo)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["explain", str(photo), "--out", str(out)])
    assert result.exit_code == 0, result.output
    figure = json.loads((out / "explanations.json").read_text())[0]["figure"]
    assert (out / figure).is_file() and figure.startswith("javascript:alert")
    page_text = (out / "index.html").read_text()
    links = re.findall(r'(?:href|src)="([^"]*)"', page_text)
    assert len(links) == 2 and all(link.startswith("./") for link in links)
    assert all(":" not in link and "<" not in link for link in links)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto((out / "index.html").as_uri())
            page.wait_for_function("document.images[0].complete")
            assert page.evaluate("document.images[0].naturalWidth") > 100  # the figure shows
            page.click("article.card a")
            page.wait_for_url(re.compile(r".*\.png$"))
            page.wait_for_timeout(300)
            assert dialogs == []
            assert unquote(page.url) == f"file://{out / figure}"  # the figure itself opened
        finally:
            browser.close()
