"""Dead-link check for the Markdown pages: every relative link names a file that exists, and
every ``#anchor`` a heading of its page, slugged as the repository host does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from skinxai.docs.markdown import CODE, FENCE

LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$", re.M)
EXTERNAL = ("http://", "https://", "mailto:")


@dataclass(frozen=True)
class DeadLink:
    """A link on ``page`` whose file or anchor does not exist."""

    page: Path
    target: str
    reason: str


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", title).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page, numbered as GitHub numbers repeated titles."""
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(FENCE.sub("", page.read_text())):
        base = slug(match["title"])
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def links(page: Path) -> list[str]:
    """The link targets of a page, outside code blocks and code spans."""
    text = CODE.sub("", page.read_text())
    return [m["target"] for m in LINK.finditer(text)]


def dead_links(pages: list[Path]) -> list[DeadLink]:
    """The relative links and anchors of ``pages`` that lead nowhere."""
    dead = []
    headings: dict[Path, set[str]] = {}  # each linked page's anchors, read once
    for page in pages:
        for target in links(page):
            if target.startswith(EXTERNAL):
                continue
            path_part, _, anchor = target.partition("#")
            linked = (page.parent / path_part).resolve() if path_part else page.resolve()
            if not linked.exists():
                dead.append(DeadLink(page, target, "no such file"))
            elif linked.suffix == ".md" and anchor:
                if linked not in headings:
                    headings[linked] = anchors(linked)
                if anchor not in headings[linked]:
                    dead.append(DeadLink(page, target, f"no heading #{anchor} in {linked.name}"))
    return dead
