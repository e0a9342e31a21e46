"""Each rank's results as a JSONL shard beside the outputs: one line per finished image,
appended and synced after the image's own files are on disk, so that a run killed at any
instant (SIGKILL too) leaves shards that name only finished work. A torn last line, the
trace of a kill during a write, is ignored when read and cut off before the next append."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

SHARD_FOLDER = ".shards"


def shard_folder(out: Path) -> Path:
    return out / SHARD_FOLDER


def shard_path(out: Path, rank: int) -> Path:
    return shard_folder(out) / f"rank-{rank:04d}.jsonl"


def _complete_lines(data: bytes) -> tuple[list[dict], int]:
    """The rows of the complete lines and the byte length they span (a torn tail excluded)."""
    rows, end = [], 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
        end += len(line)
    return rows, end


def read_shard(path: Path) -> list[dict]:
    """The rows of one shard's complete lines; a missing shard has none."""
    try:
        return _complete_lines(path.read_bytes())[0]
    except FileNotFoundError:
        return []


def finished_rows(out: Path) -> dict[str, dict]:
    """Every finished row of every shard in ``out``, by input file (a later line wins)."""
    rows: dict[str, dict] = {}
    for path in sorted(shard_folder(out).glob("rank-*.jsonl")):
        for row in read_shard(path):
            rows[row["file"]] = row
    return rows


def count_finished(out: Path) -> int:
    """How many lines the shards hold now: cheap enough to poll for a progress bar."""
    total = 0
    for path in shard_folder(out).glob("rank-*.jsonl"):
        try:
            total += path.read_bytes().count(b"\n")
        except FileNotFoundError:
            continue
    return total


def clear_shards(out: Path) -> None:
    """Forget an earlier run's shards (a fresh run, not a resumed one)."""
    shutil.rmtree(shard_folder(out), ignore_errors=True)


class ShardWriter:
    """Appends one rank's rows to its shard: a torn tail is cut first, every batch of lines
    goes down in one write and is synced before the call returns."""

    def __init__(self, out: Path, rank: int) -> None:
        self.path = shard_path(out, rank)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            _, end = _complete_lines(self.path.read_bytes())
            os.truncate(self.path, end)

    def append(self, rows: Iterable[dict]) -> None:
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
        if not data:
            return
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
