"""``import skinxai`` asks PyTorch for huge pages before any tensor exists, unless told not to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

READ_BACK = "import skinxai, os; print(os.environ.get('THP_MEM_ALLOC_ENABLE'))"


def _setting_after_import(value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if value is not None:
        env["THP_MEM_ALLOC_ENABLE"] = value
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="THP is Linux's")
def test_huge_pages_are_on_by_default() -> None:
    assert _setting_after_import(None) == "1"


def test_an_explicit_setting_is_kept() -> None:
    assert _setting_after_import("0") == "0"
