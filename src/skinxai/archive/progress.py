"""One progress bar for a run over several processes: rank 0 counts the lines in every
rank's shard, so images/s and the ETA cover the whole run, not its own share."""

from __future__ import annotations

import threading
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from skinxai.archive.shards import count_finished


class ImagesPerSecond(ProgressColumn):
    """The rate of the last half minute, in images per second."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:.1f} img/s")


class ShardProgress:
    """A context manager that polls the shards of ``out`` on a thread until it exits."""

    def __init__(self, out: Path, total: int, console: Console) -> None:
        self.out, self.total = out, total
        self.progress = Progress(
            BarColumn(),
            MofNCompleteColumn(),
            ImagesPerSecond(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _update(self) -> None:
        self.progress.update(self.task, completed=min(self.total, count_finished(self.out)))

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self._update()

    def __enter__(self) -> ShardProgress:
        self.progress.start()
        self.task = self.progress.add_task("", total=self.total, completed=count_finished(self.out))
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self._update()
        self.progress.stop()
