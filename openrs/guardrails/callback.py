"""The guard: the detectors watch every logged step of training and their actions are taken here.

Every rank sees the same logged metrics (TRL gathers them before logging; the loss and gradient norm are reduced
over the ranks), so every rank fires the same detectors at the same step and takes the same decision: a stop or a
rollback ends every rank's loop at that step. Rank 0 alone logs, alerts W&B and records the firing in summary.json.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from openrs.config import GuardAction, OpenRSConfig
from openrs.guardrails.detectors import Firing, blind_detectors, build_detectors
from openrs.resume import COMPLETE_MARKER, checkpoint_dirs

log = logging.getLogger(__name__)

#: The exit code of a run a guardrail stopped (0: completed, 1: failed, 2: bad config, 130: interrupted).
EXIT_STOPPED = 3


class GuardCallback(TrainerCallback):
    """Feeds each logged step to the detectors; on a firing warns, and stops or asks for a rollback as configured.
    After training, `decision` is None (ran to the end), or the Firing that stopped it or asks for the rollback
    (its `action` says which; `rollback_to` is the checkpoint)."""

    def __init__(self, cfg: OpenRSConfig, run_dir: Path, summary: dict[str, Any], main: bool, rollbacks_done: int
                 ) -> None:  # fmt: skip
        self.guard = cfg.guard
        self.run_dir, self.summary, self.main = run_dir, summary, main
        self.detectors = build_detectors(cfg.guard, cfg.train.per_device_train_batch_size
                                         * cfg.train.gradient_accumulation_steps)  # fmt: skip
        self.decision: Firing | None = None
        self.rollback_to: Path | None = None
        self.record = summary["guard"]  # firings, rollbacks and the stop, kept over the run's attempts
        self.rollbacks_done = rollbacks_done  # passed in: every rank must count the same
        for why in blind_detectors(cfg).values() if main else ():
            log.info("openrs guard: %s", why)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or self.decision is not None or "train_runtime" in logs:
            return
        for detector in self.detectors:
            firing = detector.observe(state.global_step, logs)
            if firing is not None:
                self.fire(firing, control)

    def fire(self, firing: Firing, control: Any) -> None:
        """Take the firing's action (a rollback without a checkpoint before the trouble, or past max_rollbacks,
        becomes a stop), tell the user, and record it."""
        if firing.action == GuardAction.rollback:
            firing.action, why = self.rollback_or_stop(firing)
            firing.message += why
        self.tell(firing)
        self.record["firings"].append(firing.as_dict())
        if firing.action in (GuardAction.stop, GuardAction.rollback):
            self.decision = firing
            control.should_training_stop = True
            if firing.action == GuardAction.stop:
                control.should_save = True  # the trainer saves checkpoint-<step> before it leaves the loop
                self.record["stopped_by"] = firing.as_dict()

    def rollback_or_stop(self, firing: Firing) -> tuple[str, str]:
        """`rollback` with the newest whole checkpoint saved before the trouble began, else `stop` and why."""
        allowed = self.guard.rollback.max_rollbacks
        if self.rollbacks_done >= allowed:
            return GuardAction.stop, f"; stopping: guard.rollback.max_rollbacks={allowed} used"
        good = [path for step, path in checkpoint_dirs(self.run_dir, COMPLETE_MARKER) if step <= firing.last_good]
        if not good:
            step = max(firing.last_good, 0)
            return GuardAction.stop, (f"; stopping: no checkpoint of step {step} or earlier to roll back to (a smaller "
                                      "train.save_steps saves more often)")  # fmt: skip
        self.rollback_to = good[-1]
        return GuardAction.rollback, f"; rolling back to {self.rollback_to.name}"

    def tell(self, firing: Firing) -> None:
        """One log line, and a W&B alert when a W&B run is open (rank 0)."""
        if not self.main:
            return
        doing = {"warn": "training goes on", "stop": "stopping the run", "rollback": "rolling back"}[firing.action]
        log.warning("openrs guard at step %d: %s (%s; guard.%s.action=%s)", firing.step, firing.message, doing,
                    firing.detector, firing.action)  # fmt: skip
        import wandb

        if wandb.run is not None:
            level = wandb.AlertLevel.WARN if firing.action == GuardAction.warn else wandb.AlertLevel.ERROR
            try:
                wandb.run.alert(title=f"openrs guard: {firing.detector}", text=firing.message, level=level)
            except Exception as err:  # an alert is a courtesy: a W&B hiccup must not end training
                log.warning("could not send the W&B alert (%s: %s)", type(err).__name__, err)
