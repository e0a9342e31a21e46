"""Archive runs: predict or explain a folder or a ``list:`` CSV across processes, GPUs and
machines on Lightning, each rank into its own shard, merged at the end, resumable."""

from skinxai.archive.engine import ArchiveOptions, ArchiveResult, run_archive
from skinxai.archive.plan import ResumeMismatch
from skinxai.archive.tasks import ExplainTask, PredictTask

__all__ = [
    "ArchiveOptions",
    "ArchiveResult",
    "ExplainTask",
    "PredictTask",
    "ResumeMismatch",
    "run_archive",
]
