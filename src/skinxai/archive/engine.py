"""An archive run on Lightning's predict loop: one process per device (DDP, gloo on CPU and
NCCL on GPUs, across nodes too), each explaining or predicting its share of the inputs into
its own shard, and rank 0 merging the shards into the run's outputs at the end or when the
run is interrupted. ``resume`` skips every image a shard already records."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerStatus
from rich.console import Console
from torch.utils.data import DataLoader

from skinxai.archive.plan import RunPlan, check_resumable, plan_for, write_plan
from skinxai.archive.progress import ShardProgress
from skinxai.archive.shards import ShardWriter, clear_shards, finished_rows
from skinxai.archive.tasks import ArchiveTask
from skinxai.explain.batch import DecodedImages, as_list
from skinxai.model import SkinClassifier
from skinxai.precision import computed_in

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


@dataclass(frozen=True)
class ArchiveOptions:
    """How the run is spread and fed: Lightning's devices and nodes, batches, loader workers."""

    devices: int = 1
    num_nodes: int = 1
    accelerator: str = "auto"
    batch_size: int = 16
    workers: int = 0
    resume: bool = False
    precision: str = "auto"  # the backbone's, as SkinClassifier.set_precision takes it


@dataclass(frozen=True)
class ArchiveResult:
    """What rank 0 reports: every finished row in input order and how the run went."""

    rows: list[dict]
    resumed_from: int  # images an earlier run had finished
    world_size: int
    interrupted: bool = False


def _die_with_parent() -> None:
    """A rank started by this machine's first rank ends when it does, SIGKILL included, so that
    a killed run leaves no rank writing on into the shards a resumed run will append to."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(128 + signal.SIGKILL)


class _ArchiveModule(L.LightningModule):
    """Each rank: read what is finished, take its share of the rest, and append a shard
    line per image once the image's figure is on disk."""

    def __init__(
        self, classifier: SkinClassifier, task: ArchiveTask, out: Path, plan: RunPlan, options
    ) -> None:
        super().__init__()
        self.classifier, self.task, self.out, self.plan = classifier, task, out, plan
        self.options = options
        self.paths: list[Path] = []

    def setup(self, stage: str) -> None:
        rank, world = self.trainer.global_rank, self.trainer.world_size
        if self.trainer.local_rank != 0:
            _die_with_parent()
        finished = set(finished_rows(self.out)) if self.options.resume else set()
        self.trainer.strategy.barrier("archive-plan")  # nobody writes before all have read
        self.paths = [
            Path(file) for file in self.plan.share(finished, rank, world, self.options.batch_size)
        ]
        self.writer = ShardWriter(self.out, rank)

    def on_predict_start(self) -> None:
        self.classifier.set_precision(self.options.precision)  # now on the rank's device

    def predict_dataloader(self) -> DataLoader:
        images = DecodedImages(self.paths, self.classifier, keep_photo=self.task.keeps_photo)
        return DataLoader(
            images,
            batch_size=self.options.batch_size,
            num_workers=self.options.workers,
            collate_fn=as_list,
        )

    def predict_step(self, batch: list, batch_idx: int) -> None:
        self.writer.append(self.task.rows(self.classifier, batch, self.paths, self.out))


def _trainer(options: ArchiveOptions, out: Path) -> L.Trainer:
    distributed = options.devices > 1 or options.num_nodes > 1
    return L.Trainer(
        accelerator=options.accelerator,
        devices=options.devices,
        num_nodes=options.num_nodes,
        strategy="ddp" if distributed else "auto",
        precision="32-true",  # the classifier autocasts its backbone itself (set_precision)
        inference_mode=False,  # Grad-CAM differentiates; the classifier turns grad off elsewhere
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,  # each rank's share is chosen by the plan
        default_root_dir=out,
    )


def _quiet_lightning() -> None:
    """Lightning's start-up lines and its few-workers hint say nothing to this command's user."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Total length of .* across ranks is zero.*")
    warnings.filterwarnings("ignore", message=".*predict returned None.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def _predict(trainer: L.Trainer, module: _ArchiveModule) -> bool:
    """Run every rank's loop; True if it was interrupted (Ctrl-C, SIGTERM), which Lightning
    reports by exiting; any other failure propagates."""
    try:
        trainer.predict(module, return_predictions=False)
    except SystemExit:
        if trainer.state.status != TrainerStatus.INTERRUPTED:
            raise
        return True
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()  # every shard complete before rank 0 merges
    return False


def run_archive(
    classifier: SkinClassifier,
    task: ArchiveTask,
    files: Sequence[Path],
    out: Path,
    options: ArchiveOptions = ArchiveOptions(),
    progress_console: Console | None = None,
) -> ArchiveResult | None:
    """Explain or predict every file into ``out`` across ``options.devices`` processes (on
    each of ``options.num_nodes`` machines, which must share ``out``). Rank 0 merges the
    shards into the task's outputs, also when the run fails or is interrupted (the result
    then says so), and returns the result; other ranks return None. ``ResumeMismatch`` if
    ``options.resume`` finds another run in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plan = plan_for(task.name, files, {**task.options(), "model": classifier.config.version})
    if options.resume:
        check_resumable(out, plan)
    earlier = len(finished_rows(out)) if options.resume else 0
    _quiet_lightning()
    trainer = _trainer(options, out)
    if trainer.global_rank == 0 and not options.resume:  # before any rank can write
        clear_shards(out)
        write_plan(out, plan)
    module = _ArchiveModule(classifier, task, out, plan, options)
    show = trainer.global_rank == 0 and progress_console is not None
    try:
        with ShardProgress(out, len(files), progress_console) if show else nullcontext():
            interrupted = _predict(trainer, module)
    finally:  # an error too: the outputs list exactly the finished images and their figures
        if trainer.global_rank == 0:
            rows = finished_rows(out)
            version = f"{classifier.config.version} ({computed_in(classifier)})"
            task.merge(out, plan.files, rows, version)
    if trainer.global_rank != 0:
        return None
    listed = [rows[file] for file in plan.files if file in rows]
    return ArchiveResult(listed, earlier, trainer.world_size, interrupted)
