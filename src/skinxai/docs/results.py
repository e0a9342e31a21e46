"""The benchmark results as the pages quote them: ``benchmarks/results/<name>.json``, looked
up by a slash-separated path and formatted with a Python format spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote


class Results:
    """The JSON files of one results folder (and any other named files), read once each."""

    def __init__(self, folder: Path, others: dict[str, Path] | None = None) -> None:
        self.folder = Path(folder)
        self.others = dict(others or {})
        self._read: dict[str, dict] = {}

    def __call__(self, name: str) -> dict:
        """The whole of ``<name>.json``; a missing file is a ValueError that names it."""
        if name not in self._read:
            path = self.others.get(name, self.folder / f"{name}.json")
            if not path.is_file():
                raise ValueError(f"the results file {path} does not exist")
            self._read[name] = json.loads(path.read_text())
        return self._read[name]

    def value(self, name: str, path: str) -> Any:
        """The value at ``path`` (``results/derm7pt/auroc``; a number indexes a list; a key
        with a space or a slash is written percent-encoded, ``%20``, ``%2F``)."""
        node: Any = self(name)
        for key in (unquote(part) for part in path.split("/")):
            try:
                node = node[int(key)] if isinstance(node, list) else node[key]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ValueError(f"{name}.json has no {path!r} (stopped at {key!r})") from None
        return node


def formatted(value: Any, spec: str = "") -> str:
    """``value`` written with ``spec``; ``MiB:.0f`` divides bytes by 2**20 first, n/a for None."""
    if value is None:
        return "n/a"
    if spec.startswith("MiB:"):
        value, spec = value / 2**20, spec[4:]
    return format(value, spec)


def repository_results(root: Path) -> Results:
    """The benchmarks' results of a repository, ``model``: the shipped model's JSON config
    (its calibration and operating point), and ``pictures``: what the pictures show."""
    others = {
        "model": root / "src" / "skinxai" / "assets" / "model.json",
        "pictures": root / "docs" / "pictures.json",
    }
    return Results(root / "benchmarks" / "results", others)
