"""One openrs job: check the config, then print the plan (dry run), launch the layout, or train here."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from omegaconf import DictConfig

from openrs.checks import check_config, check_machine, check_resources
from openrs.errors import ConfigError
from openrs.naming import run_name
from openrs.plan import build_plan, to_plain

log = logging.getLogger(__name__)


def run(cfg: DictConfig, hydra_run_dir: Path, overrides: list[str]) -> int:
    """Run the configured job; returns the process exit code. ConfigErrors surface before any download."""
    check_config(cfg)
    name = run_name(cfg.name, overrides)
    if cfg.dry_run:
        plan = build_plan(cfg, str(hydra_run_dir))
        plan["grpo"]["run_name"] = name
        sys.stdout.write(json.dumps(plan, indent=2, sort_keys=False) + "\n")
        return 0

    import torch

    from openrs.launch import inside_distributed_launch, launch_distributed
    from openrs.resume import resume_target

    check_machine(cfg, torch.cuda.is_available(), torch.cuda.device_count())
    run_dir, checkpoint = resume_target(cfg.resume, hydra_run_dir, name)
    check_resources(cfg, run_dir)
    group = cfg.logger.group or cfg.name
    if to_plain(cfg.launcher.name) == "accelerate" and not inside_distributed_launch():
        return launch_distributed(cfg, overrides, run_dir, torch.cuda.device_count(), resuming=checkpoint is not None)

    from openrs.train import is_main_process, train

    summary = train(cfg, run_dir, name, group, checkpoint)
    if is_main_process():
        print_summary(summary, run_dir)
    return 0 if summary["status"] == "completed" else 1


def print_summary(summary: dict, run_dir: Path) -> None:
    """Tell the user where everything went."""
    final = summary.get("final_metrics", {})
    lines = [
        f"openrs: run {summary['run_name']} {summary['status']} in {summary['wall_time_s']:.0f}s "
        f"({summary['steps']}/{summary['max_steps']} steps, last reward {final.get('reward')})",
        f"  run dir     {run_dir}",
        f"  metrics     {run_dir / 'metrics.jsonl'}",
        f"  summary     {run_dir / 'summary.json'}",
        f"  provenance  {run_dir / 'provenance.json'}",
        f"  final model {summary.get('final_model')}",
    ]
    if (run_dir / "completions.jsonl").exists():
        lines.append(f"  completions {run_dir / 'completions.jsonl'}")
    wandb_info = summary.get("wandb")
    if wandb_info:
        where = wandb_info["url"] or f"{wandb_info['dir']} (offline: `wandb sync {Path(wandb_info['dir']).parent}`)"
        lines.append(f"  W&B         {where}")
    print("\n".join(lines))


def run_or_explain(cfg: DictConfig, hydra_run_dir: Path, overrides: list[str]) -> int:
    """`run`, with a ConfigError shown as one clear message (exit code 2) instead of a traceback."""
    try:
        return run(cfg, hydra_run_dir, overrides)
    except ConfigError as err:
        log.debug("config error", exc_info=True)
        sys.stderr.write(f"openrs: error: {err}\n")
        return 2
