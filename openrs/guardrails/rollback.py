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


def rollback_learning_rate(cfg: Any, rollbacks: int) -> float:
    """The peak learning rate after `rollbacks` rollbacks: the configured one times guard.rollback.lr_factor for each
    (so the same whichever checkpoint a rollback restores, and whether that checkpoint was saved before or after an
    earlier rollback)."""
    return cfg.optimizer.learning_rate * cfg.guard.rollback.lr_factor**rollbacks


class ScaleLearningRate(TrainerCallback):
    """Sets the peak learning rate of the schedule to `learning_rate` once the checkpoint's optimizer and scheduler
    are loaded (on_train_begin comes after): every rate of the schedule restored from the checkpoint is scaled by
    learning_rate / the restored peak, so the restarted run continues the same schedule at the new peak."""

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate

    def on_train_begin(self, args: Any, state: Any, control: Any, optimizer: Any = None, lr_scheduler: Any = None,
                       **kwargs: Any) -> None:  # fmt: skip
        scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate wraps torch's scheduler
        groups = getattr(optimizer, "param_groups", [])
        peaks = getattr(scheduler, "base_lrs", None) or [group.get("initial_lr", group["lr"]) for group in groups]
        ratios = [self.learning_rate / peak if peak else 1.0 for peak in peaks]
        for name in ("base_lrs", "_last_lr"):  # _last_lr: the rate logged until the scheduler's next step
            values = getattr(scheduler, name, None)
            if isinstance(values, list):
                setattr(scheduler, name, [value * ratio for value, ratio in zip(values, ratios, strict=False)])
        for group, ratio in zip(groups, ratios, strict=False):
            group["lr"] *= ratio
            if "initial_lr" in group:
                group["initial_lr"] *= ratio
