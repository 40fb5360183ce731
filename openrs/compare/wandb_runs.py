"""Runs of a W&B group (`wandb:<entity>/<project>/<group>`), read through the W&B public API (`wandb.Api()`).

Online only: with `WANDB_MODE=offline` (or disabled) or without an API key the input is refused with a message
pointing to the local run dirs, which hold the same records (metrics.jsonl, summary.json).
"""

from __future__ import annotations

import os
from typing import Any

from openrs.compare.differs import lookup
from openrs.compare.runs import WANDB_PREFIX, Run, from_metrics, metric_curves, metric_series, number
from openrs.errors import ConfigError
from openrs.run_dir import KILLED

__all__ = ["HISTORY_SAMPLES", "load_wandb_group", "wandb_row"]

HISTORY_SAMPLES = 10_000  # `Run.history` is sampled: up to this many rows per run (a 500-step run logs ~520)


def _wandb_online() -> bool:
    if os.environ.get("WANDB_MODE", "").lower() in {"offline", "disabled", "dryrun"}:
        return False
    from openrs.wandb_mode import has_wandb_key

    return has_wandb_key()


def wandb_row(row: dict[str, Any]) -> dict[str, Any]:
    """A W&B history row in metrics.jsonl's keys: `train/x` -> `x`, `eval/x` -> `eval_x`, step from global_step."""
    out: dict[str, Any] = {"step": row.get("train/global_step", row.get("_step"))}
    for key, value in row.items():
        if key.startswith(("_", "system/")) or key == "train/global_step":
            continue
        if key.startswith("train/"):
            key = key.removeprefix("train/")
        elif key.startswith("eval/"):
            key = "eval_" + key.removeprefix("eval/")
        out[key] = value
    return out


#: W&B run states of a run whose process is gone: W&B marks a run `crashed` when its heartbeats stop (a SIGKILL).
GONE_STATES = ("crashed", "failed", "killed")


def wandb_status(recorded: Any, state: str) -> str:
    """openrs's recorded status, except that a run still recorded `running` whose process W&B saw die is `killed`."""
    if recorded == "running" and state in GONE_STATES:
        return KILLED
    return str(recorded or state)


def _wandb_run(run: Any, spec: str) -> Run:
    summary = {key: value for key, value in dict(run.summary.items()).items() if not key.startswith("_")}
    flat_summary = wandb_row(summary)
    config = dict(run.config or {})
    openrs_config = config.get("openrs") if isinstance(config.get("openrs"), dict) else config
    rows = [wandb_row(row) for row in run.history(samples=HISTORY_SAMPLES, pandas=False)]
    metrics = metric_series(rows)
    steps = number(summary.get("train/global_step"))
    result = Run(
        name=run.name,
        source=f"{spec}/{run.id}",
        run_name=run.name,
        status=wandb_status(summary.get("openrs/status"), run.state),
        steps=int(steps) if steps is not None else (max(metrics["reward"]) if "reward" in metrics else None),
        max_steps=lookup(openrs_config, "train.max_steps"),
        config=openrs_config,
        metrics=metrics,
        final_eval=from_metrics("wandb summary", flat_summary),
    )
    metric_curves(result)
    return result


def load_wandb_group(spec: str) -> list[Run]:
    """The training runs of a W&B group (`wandb:<entity>/<project>/<group>`), through `wandb.Api()`.

    Reads each run's summary, config and history (keys as in metrics.jsonl). W&B holds no resources block, so
    GPU-hours and cost are unknown; eval scores are the summary's last `benchmarks/<name>/pass@1` (in training).
    """
    parts = spec.removeprefix(WANDB_PREFIX).split("/")
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"{spec}: a W&B input reads wandb:<entity>/<project>/<group>.")
    if not _wandb_online():
        raise ConfigError(
            f"{spec}: W&B is offline (WANDB_MODE=offline or no API key), so the group cannot be read. "
            "Compare the local run dirs instead (each holds metrics.jsonl and summary.json): "
            "python -m openrs.compare outputs/<name>/<run> ... or a multirun dir."
        )
    import wandb

    entity, project, group = parts
    try:
        api_runs = list(wandb.Api().runs(f"{entity}/{project}", filters={"group": group}))
        runs = [_wandb_run(run, spec) for run in api_runs if getattr(run, "job_type", None) != "eval"]
    except ConfigError:
        raise
    except Exception as err:  # network, auth, missing project: say which input failed, without a traceback
        raise ConfigError(f"{spec}: reading the W&B group failed: {type(err).__name__}: {err}") from err
    if not runs:
        raise ConfigError(f"{spec}: no training runs in W&B group {group!r} of {entity}/{project}.")
    return runs
