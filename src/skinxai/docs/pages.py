"""Pages with generated parts: a block between ``<!-- results:NAME [ARG] -->`` and
``<!-- /results -->`` is rewritten by the table NAME, and the text between
``<!-- value FILE PATH [SPEC] -->`` and ``<!-- /value -->`` by one number of FILE.json."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from skinxai.docs.markdown import CODE
from skinxai.docs.results import Results, formatted
from skinxai.docs.tables import TABLES

PAGES = ("README.md", "docs/*.md")  # every page the generator owns, from the repository root

BLOCK = re.compile(
    r"(?P<open><!-- results:(?P<name>[\w-]+)(?: (?P<arg>[^>]*?))? -->\n)"
    r"(?P<body>.*?)(?P<close><!-- /results -->)",
    re.S,
)
VALUE = re.compile(
    r"(?P<open><!-- value (?P<file>[\w-]+) (?P<path>\S+)(?: (?P<spec>\S+))? -->)"
    r"(?P<text>.*?)(?P<close><!-- /value -->)",
    re.S,
)


@dataclass(frozen=True)
class StalePage:
    """A page whose generated parts differ from what the results give now."""

    path: Path
    parts: tuple[str, ...]  # the markers whose text changed


def render_page(text: str, results: Results) -> str:
    """``text`` with every block and value rewritten from ``results``."""

    def block(match: re.Match) -> str:
        name, arg = match["name"], match["arg"]
        if name not in TABLES:
            raise ValueError(f"unknown results block {name!r}; known: {', '.join(TABLES)}")
        body = TABLES[name](results, arg).rstrip("\n") + "\n"
        return match["open"] + body + match["close"]

    def value(match: re.Match) -> str:
        number = formatted(results.value(match["file"], match["path"]), match["spec"] or "")
        return match["open"] + number + match["close"]

    return _sub_outside_code(VALUE, value, _sub_outside_code(BLOCK, block, text))


def _sub_outside_code(pattern: re.Pattern, replace, text: str) -> str:
    """``pattern.sub(replace, text)`` but for the matches that start inside code, which a
    page quotes as written (a marker shown in backticks is an example, not a marker)."""
    code = [m.span() for m in CODE.finditer(text)]

    def outside(match: re.Match) -> str:
        inside = any(start <= match.start() < end for start, end in code)
        return match.group(0) if inside else replace(match)

    return pattern.sub(outside, text)


def page_paths(root: Path) -> list[Path]:
    """README.md and every Markdown page under docs/."""
    found: list[Path] = []
    for pattern in PAGES:
        found.extend(sorted(root.glob(pattern)))
    return found


def _changed_parts(old: str, new: str) -> tuple[str, ...]:
    """The opening markers whose generated text differs between two renderings (rendering
    keeps every marker, so the matches pair up in order)."""
    changed = []
    for pattern in (BLOCK, VALUE):
        for before, after in zip(pattern.finditer(old), pattern.finditer(new), strict=True):
            if before.group(0) != after.group(0):
                changed.append(after["open"].strip())
    return tuple(dict.fromkeys(changed))


def _changed_pages(root: Path, results: Results) -> Iterator[tuple[Path, str, str]]:
    """Each page whose rendering from ``results`` differs: its path, its text, the rendering."""
    for path in page_paths(root):
        text = path.read_text()
        rendered = render_page(text, results)
        if rendered != text:
            yield path, text, rendered


def check_pages(root: Path, results: Results) -> list[StalePage]:
    """The pages whose generated parts are not what ``results`` give (none: all current)."""
    return [
        StalePage(path, _changed_parts(text, rendered) or ("(layout)",))
        for path, text, rendered in _changed_pages(root, results)
    ]


def write_pages(root: Path, results: Results) -> list[Path]:
    """Rewrite the generated parts of every page; the pages that changed."""
    written = []
    for path, _, rendered in _changed_pages(root, results):
        path.write_text(rendered)
        written.append(path)
    return written
