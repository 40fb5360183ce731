"""What a rollback does to the run dir before training restarts from an earlier checkpoint, and the learning rate
it restarts with.

Nothing is deleted: the step records after the checkpoint move to `*.superseded.jsonl` (as for a resumed run), and
the later checkpoints and their in-training evaluations move to `rolled_back/<n>/`, out of the way of the
checkpoints the restarted run saves under the same names.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from openrs.resume import checkpoint_dirs, checkpoint_step
from openrs.run_dir import rewind_records

log = logging.getLogger(__name__)

ROLLED_BACK = "rolled_back"


def set_aside(run_dir: Path, checkpoint: Path, number: int) -> Path:
    """Rewind the step records to `checkpoint` and move every later checkpoint (and its in-training evaluation)
    into `rolled_back/<number>/`. Returns that folder."""
    step = checkpoint_step(checkpoint)
    aside = run_dir / ROLLED_BACK / str(number)
    later = [path for n, path in checkpoint_dirs(run_dir) if n > step]
    during = run_dir / "eval" / "during_training"
    later += [path for n, path in checkpoint_dirs(during) if n > step] if during.is_dir() else []
    for path in later:
        target = aside / path.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    cut = rewind_records(run_dir, step)
    log.warning("openrs guard: rolled back to %s: %d record lines after step %d moved to *.superseded.jsonl, %d later "
                "checkpoint(s) moved to %s", checkpoint.name, cut, step, len(later), aside)  # fmt: skip
    return aside


class ScaleLearningRate(TrainerCallback):
    """Multiplies the learning rate and its whole schedule by `factor` once the checkpoint's optimizer and scheduler
    are loaded (on_train_begin comes after), so the restarted run continues the schedule, scaled."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def on_train_begin(self, args: Any, state: Any, control: Any, optimizer: Any = None, lr_scheduler: Any = None,
                       **kwargs: Any) -> None:  # fmt: skip
        if self.factor == 1.0:
            return
        scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate wraps torch's scheduler
        for name in ("base_lrs", "_last_lr"):  # _last_lr: the rate logged until the scheduler's next step
            if isinstance(getattr(scheduler, name, None), list):
                setattr(scheduler, name, [lr * self.factor for lr in getattr(scheduler, name)])
        for group in getattr(optimizer, "param_groups", []):
            group["lr"] *= self.factor
            if "initial_lr" in group:
                group["initial_lr"] *= self.factor
