"""Run records: metrics.jsonl, completions.jsonl and the W&B run (offline unless a key is configured)."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from openrs.config import LoggerConfig
from openrs.jsonl import append_jsonl
from openrs.run_dir import write_json
from openrs.wandb_mode import choose_wandb_mode

log = logging.getLogger(__name__)

#: Seconds wandb.init may wait for the server before openrs logs offline instead.
INIT_TIMEOUT_S = 60


def json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (nan, inf) as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsFileCallback(TrainerCallback):
    """Writes every logged step to `metrics.jsonl` (the local source of truth, independent of W&B)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.last: dict[str, Any] = {}
        self.reward_steps = 0  # logged steps with a reward
        self.scored_steps = 0  # ... of which the reward was a number (not None/NaN from every reward)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, **{k: json_safe(v) for k, v in logs.items()}}
        if "reward" in logs:
            self.reward_steps += 1
            self.scored_steps += isinstance(record["reward"], int | float)
        self.last.update(record)
        append_jsonl(self.path, record)


class AttemptRecorder(TrainerCallback):
    """Records this attempt's wall time and step in summary.json at every logged step (rank 0), so a kill loses
    at most one step of it."""

    def __init__(self, summary: dict[str, Any], run_dir: Path, started: float) -> None:
        self.summary, self.run_dir, self.started = summary, run_dir, started

    def update(self, step: int | None = None, status: str | None = None) -> None:
        attempt = self.summary["attempts"][-1]
        attempt["wall_time_s"] = round(time.time() - self.started, 2)
        attempt.update({key: value for key, value in (("steps", step), ("status", status)) if value is not None})

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero:
            self.update(step=state.global_step)
            write_json(self.run_dir / "summary.json", self.summary)


#: The console's line per logged step: these metrics (when logged) and each reward's mean; the full record of every
#: step is in metrics.jsonl and W&B.
PROGRESS_METRICS = (
    ("reward", "reward"),
    ("completions/mean_length", "length"),
    ("completions/clipped_ratio", "clipped"),
    ("kl", "kl"),
    ("benchmarks/average/pass@1", "pass@1"),
)


def short_number(value: Any) -> str:
    """A metric in 3 significant digits; `n/a` for None or NaN (a reward that scored no completion of the step)."""
    return f"{value:.3g}" if isinstance(value, int | float) and not math.isnan(value) else "n/a"


def progress_line(step: int, max_steps: int, logs: dict[str, Any]) -> str:
    """`step 12/60  reward 0.25 (accuracy 0, format 0.25)  length 31.2  clipped 0.94  kl 0.0012`."""
    if "train_runtime" in logs:
        return f"step {step}/{max_steps}  training done in {logs['train_runtime']:.0f}s"
    parts = [f"step {step}/{max_steps}"]
    rewards = {key[len("rewards/") : -len("/mean")]: value for key, value in logs.items()
               if key.startswith("rewards/") and key.endswith("/mean")}  # fmt: skip
    for key, label in PROGRESS_METRICS:
        if isinstance(logs.get(key), int | float):
            text = f"{label} {logs[key]:.3g}"
            if key == "reward" and rewards:
                text += " (" + ", ".join(f"{name} {short_number(value)}" for name, value in rewards.items()) + ")"
            parts.append(text)
    return "  ".join(parts)


class CompactProgressCallback(ProgressCallback):
    """transformers' progress bar, with one short line per logged step instead of the whole metrics dict."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None and logs:
            self.training_bar.write(progress_line(state.global_step, state.max_steps, logs))


def use_compact_progress(trainer: Any) -> None:
    """Swap the trainer's progress printer for the compact one (no-op when the progress bar is disabled)."""
    if any(isinstance(callback, ProgressCallback) for callback in trainer.callback_handler.callbacks):
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(CompactProgressCallback())


class CompletionSamplerCallback(TrainerCallback):
    """Every N steps: the latest batch (prompt, completion, each reward, advantage) to completions.jsonl + W&B.

    TRL's own W&B table is overwritten under one key; this one logs a cumulative table so earlier steps stay
    visible. Reads the trainer's `_logs` buffer (TRL 1.16 fills it on every step).
    """

    def __init__(self, run_dir: Path, every: int) -> None:
        self.path = Path(run_dir) / "completions.jsonl"
        self.every = every
        self.trainer: Any = None
        self.rows: list[dict[str, Any]] = []
        self.last_sampled_step = -1

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.every <= 0 or self.trainer is None or not state.is_world_process_zero:
            return
        if state.global_step % self.every != 0 or state.global_step in (0, self.last_sampled_step):
            return  # the final train-summary log repeats the last step
        self.last_sampled_step = state.global_step
        buffers = self.trainer._logs
        reward_names = list(buffers["rewards"].keys())
        new_rows = []
        for i, (prompt, completion) in enumerate(zip(buffers["prompt"], buffers["completion"], strict=True)):
            row = {
                "step": state.global_step,
                "prompt": prompt[-1]["content"] if isinstance(prompt, list) else prompt,
                "completion": completion[-1]["content"] if isinstance(completion, list) else completion,
                **{f"reward/{name}": json_safe(buffers["rewards"][name][i]) for name in reward_names},
                "advantage": json_safe(buffers["advantages"][i]),
            }
            new_rows.append(row)
            append_jsonl(self.path, row)
        self.rows.extend(new_rows)
        self.log_table()

    def log_table(self) -> None:
        import wandb

        if wandb.run is None or not self.rows:
            return
        columns = list(self.rows[0].keys())
        table = wandb.Table(columns=columns, data=[[row.get(c) for c in columns] for row in self.rows])
        wandb.log({"openrs/completions": table}, commit=False)


def init_wandb(
    logger_cfg: LoggerConfig,
    run_dir: Path,
    run_name: str,
    group: str,
    config: dict[str, Any],
    tags: list[str],
    job_type: str = "train",
) -> Any:
    """Start the W&B run in the run dir; TRL's callback then logs into it (mode disabled gives a no-op run)."""
    import wandb

    requested = str(logger_cfg.mode)
    mode = choose_wandb_mode(requested)
    if mode == "offline" and requested == "auto" and not os.environ.get("WANDB_MODE"):
        log.info("W&B is offline (no API key configured); sync later with: wandb sync %s/wandb/offline-run-*", run_dir)
    os.environ["WANDB_MODE"] = mode
    os.environ.setdefault("WANDB_SILENT", "true")
    settings = {"project": logger_cfg.project, "entity": logger_cfg.entity, "group": group, "job_type": job_type,
                "tags": tags, "name": run_name, "config": config, "dir": str(run_dir)}  # fmt: skip
    try:
        return wandb.init(**settings, mode=mode, settings=wandb.Settings(init_timeout=INIT_TIMEOUT_S))
    except Exception as err:  # a rejected key, a server that stops answering: W&B raises several types
        if mode != "online":
            raise
        log.warning("openrs: W&B could not start online (%s: %s): logging offline instead", type(err).__name__,
                    str(err).splitlines()[0][:200] if str(err) else "")  # fmt: skip
        os.environ["WANDB_MODE"] = "offline"
        return wandb.init(**settings, mode="offline")
