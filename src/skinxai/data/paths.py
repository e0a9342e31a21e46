"""Where the shared real data sets live: ``$SKINXAI_DATA`` or ``../shared/data`` from the repo."""

from __future__ import annotations

import os
from pathlib import Path

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".avif"}
)


def shared_data_dir() -> Path:
    """Return the folder holding ``fanconic/`` and ``ham10000/``, or raise FileNotFoundError."""
    candidates = []
    if os.environ.get("SKINXAI_DATA"):
        candidates.append(Path(os.environ["SKINXAI_DATA"]))
    candidates.append(Path.cwd() / ".." / "shared" / "data")
    repo_root = Path(__file__).resolve().parents[3]
    candidates.append(repo_root / ".." / "shared" / "data")
    for candidate in candidates:
        if (candidate / "fanconic").is_dir() or (candidate / "ham10000").is_dir():
            return candidate.resolve()
    raise FileNotFoundError(
        "cannot find the shared data sets; set SKINXAI_DATA to the folder that holds "
        "fanconic/ and ham10000/"
    )


def list_images(root: str | os.PathLike) -> list[Path]:
    """All image files under ``root`` (recursively), sorted for reproducibility."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"'{root}' does not exist")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
