"""The index of an ``explain`` run: ``explanations.json`` for machines and ``index.html`` for
people, both rewritten atomically after every batch so that an interrupted run leaves an
index of exactly the figures on disk."""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from skinxai.explain.descriptions import METHOD_DESCRIPTIONS, WHAT_YOU_ARE_LOOKING_AT


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``: a
    reader sees the old file or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the index from other readers
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def relative_link(file_name: str) -> str:
    """An href/src for a file beside the page: ``./`` and every byte percent-encoded, so that a
    name such as ``javascript:alert(1).png`` stays a file name, never a URL scheme."""
    return "./" + quote(file_name, safe="")


def _card(row: dict) -> str:
    name = html.escape(Path(row["file"]).name)
    if row.get("error"):
        return (
            f'<article class="card error"><h2>{name}</h2>'
            f"<p>{html.escape(row['error'])}</p></article>"
        )
    figure = relative_link(row["figure"])
    label = html.escape(row.get("decision") or row["label"])
    explained = html.escape(next(iter(row["methods"].values()))["target"])
    return (
        f'<article class="card"><h2>{name}</h2>'
        f'<p><strong class="{label}">{label}</strong>, '
        f"P(malignant) = {row['probability']:.3f}; maps for class {explained}</p>"
        f'<a href="{figure}"><img src="{figure}" loading="lazy" '
        f'alt="{name}: the photo, heat maps and overlays for class {explained}"></a>'
        f"{_checklist(row)}</article>"
    )


def _checklist(row: dict) -> str:
    """The network's 7-point checklist reading of a row explained with ``--concepts``."""
    concepts = row.get("concepts")
    if not concepts:
        return ""
    found = [c for c in concepts["criteria"] if c["present"]]
    words = ", ".join(f"{html.escape(c['words'])} ({c['points']})" for c in found) or "none"
    link = ""
    if row.get("concepts_figure"):
        link = f' <a href="{relative_link(row["concepts_figure"])}">maps of the criteria</a>'
    verdict = " (3 or more: suspicious)" if concepts["suspicious"] else ""
    return (
        f'<p class="checklist">What a dermatologist would check, as the network reads it: '
        f"{concepts['total_points']} points{verdict}; found: {words}.{link} "
        f"<small>{html.escape(concepts['note'])}</small></p>"
    )


def summary_page(rows: Sequence[dict], methods: Sequence[str], model_version: str) -> str:
    """A self-contained HTML page that shows every figure of the run (no scripts, no CDN)."""
    legend = "".join(
        f"<li><strong>{html.escape(m)}</strong>: {html.escape(METHOD_DESCRIPTIONS.get(m, ''))}</li>"
        for m in methods
    )
    cards = "\n".join(_card(row) for row in rows)
    failed = sum(bool(row.get("error")) for row in rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>skinxai explanations</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2733; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr));
  gap: 1rem; }}
.card {{ border: 1px solid #d5dbe3; border-radius: 8px; padding: .75rem; }}
.card h2 {{ font-size: 1rem; margin: 0 0 .25rem 0; word-break: break-all; }}
.card img {{ width: 100%; height: auto; }}
.malignant {{ color: #b00020; }} .benign {{ color: #1b7f3b; }} .error {{ color: #b00020; }}
</style></head><body>
<h1>skinxai explanations</h1>
<p><strong>Research tool, not a medical device.</strong> Model {html.escape(model_version)};
{len(rows) - failed} images explained, {failed} failed; methods:</p>
<ul>{legend}</ul>
<p>{html.escape(WHAT_YOU_ARE_LOOKING_AT)}</p>
<div class="cards">
{cards}
</div>
</body></html>
"""


def write_index(
    out: Path, rows: Sequence[dict], methods: Sequence[str], model_version: str
) -> Path:
    """Rewrite ``out/explanations.json`` and ``out/index.html``; returns the JSON's path."""
    index = out / "explanations.json"
    write_text_atomically(index, json.dumps(list(rows), indent=2) + "\n")
    write_text_atomically(out / "index.html", summary_page(rows, methods, model_version))
    return index
