"""What an archive run is asked to do, written to ``run.json`` in its output folder, so that
``--resume`` continues the same run (the same inputs, task and options) or refuses with a
reason, and each rank takes its share of what is left."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skinxai.explain.index_files import write_text_atomically

PLAN_FILE = "run.json"


class ResumeMismatch(ValueError):
    """``--resume`` on a folder that holds another run."""


@dataclass(frozen=True)
class RunPlan:
    """The task (``explain`` or ``predict``), every input in output order and the options
    that shape the results (methods, target, layer, model)."""

    task: str
    files: tuple[str, ...]
    options: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        text = json.dumps([self.task, self.files, self.options], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def share(self, finished: set[str], rank: int, world_size: int, batch_size: int) -> list[str]:
        """Rank ``rank``'s inputs: every ``world_size``-th batch of those not finished yet, so
        the ranks split the rest evenly (within a batch), no input goes to two of them, and a
        fresh run's batches have the sizes one process gives them (bf16 outputs move with the
        batch size: up to 0.0024 in P(malignant) between batches of 32 and 16 here)."""
        remaining = [file for file in self.files if file not in finished]
        batches = [remaining[i : i + batch_size] for i in range(0, len(remaining), batch_size)]
        return [file for batch in batches[rank::world_size] for file in batch]


def write_plan(out: Path, plan: RunPlan) -> None:
    record = {
        "task": plan.task,
        "fingerprint": plan.fingerprint(),
        "inputs": len(plan.files),
        "options": plan.options,
    }
    write_text_atomically(out / PLAN_FILE, json.dumps(record, indent=2) + "\n")


def check_resumable(out: Path, plan: RunPlan) -> None:
    """Raise ``ResumeMismatch`` unless ``out`` holds a run of exactly this plan."""
    try:
        record = json.loads((out / PLAN_FILE).read_text())
    except FileNotFoundError:
        raise ResumeMismatch(
            f"--resume: '{out}' holds no earlier run to resume (no {PLAN_FILE}); leave out "
            "--resume to start one"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ResumeMismatch(f"--resume: cannot read '{out / PLAN_FILE}': {exc}") from None
    if record.get("fingerprint") != plan.fingerprint():
        differs = [
            name
            for name, old, new in (
                ("task", record.get("task"), plan.task),
                ("number of inputs", record.get("inputs"), len(plan.files)),
                ("options", record.get("options"), plan.options),
            )
            if old != new
        ] or ["inputs"]
        raise ResumeMismatch(
            f"--resume: '{out}' holds a run with other {' and '.join(differs)}; resume with "
            "the same inputs and options, or use another --out"
        )


def plan_for(task: str, files: Sequence[Path], options: dict) -> RunPlan:
    return RunPlan(task, tuple(str(file) for file in files), dict(options))
