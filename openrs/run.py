"""One openrs job: check the config, then print the plan (dry run), launch the layout, or train here.

The process the user starts is the launcher: it alone checks the machine, picks the run dir and resume point,
fetches the model and starts the layout (openrs.launch). A training process started by it (a rank) takes the run dir
and resume point from its command line and trains.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from openrs.checks import check_config, check_machine, check_resources, disk_need
from openrs.config import EvalConfig, LauncherName, ModelConfig, OpenRSConfig, typed_config
from openrs.dir_search import DirSearch
from openrs.errors import run_explained
from openrs.memory.report import check_memory, memory_section
from openrs.naming import run_name
from openrs.plan import build_plan

log = logging.getLogger(__name__)


def run(cfg: OpenRSConfig, hydra_run_dir: Path, overrides: list[str], search: DirSearch | None = None) -> int:
    """Run the configured job; returns the process exit code. ConfigErrors surface before any download.
    `search`: where resume=auto looks for an unfinished run of the same command (openrs.dir_search: the dirs the
    run dir's pattern gave on other launches; a fixed dir alone); None: beside the run dir."""
    check_config(cfg)
    name = run_name(cfg.name, overrides)
    if cfg.dry_run:
        plan = build_plan(cfg, str(hydra_run_dir))
        plan["grpo"]["run_name"] = name
        plan["memory"] = memory_section(cfg)
        sys.stdout.write(json.dumps(plan, indent=2, sort_keys=False) + "\n")
        return 0

    from openrs.launch import inside_launch

    if inside_launch():
        return run_rank(cfg, hydra_run_dir, name)
    return run_launcher(cfg, hydra_run_dir, overrides, name, search)


def needs_launch(cfg: OpenRSConfig) -> bool:
    """True when training runs in processes started by this one: accelerate, beside a vLLM server, or when a
    guardrail may roll the run back (a rollback ends the training processes and the launcher starts them again
    from the checkpoint: a process cannot free a colocated vLLM engine or a DeepSpeed engine and build another)."""
    return cfg.launcher.name == LauncherName.accelerate or cfg.rollout.reserved_server_gpus > 0 or can_roll_back(cfg)


def can_roll_back(cfg: OpenRSConfig) -> bool:
    """True when some detector's action is `rollback`."""
    from openrs.config import GuardAction

    return any(detector.action == GuardAction.rollback for detector in cfg.guard.detectors().values())


def run_launcher(
    cfg: OpenRSConfig, hydra_run_dir: Path, overrides: list[str], name: str, search: DirSearch | None
) -> int:
    """The process the user started: machine checks, run dir, model, then the layout (or training here)."""
    import torch

    from openrs.launch import check_ports, machine_layout
    from openrs.resume import resume_target

    machine = machine_layout(cfg)
    gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    check_machine(cfg, torch.cuda.is_available(), gpu_count, first_machine=machine.rank == 0)
    check_memory(cfg, torch.cuda.is_available())
    if needs_launch(cfg):
        check_ports(cfg, machine)
    run_dir, checkpoint = resume_target(cfg.resume, hydra_run_dir, name, search)
    check_resources(cfg, run_dir)  # before the run dir is touched: a refused run changes nothing there
    lock = take_run_dir(cfg, run_dir, checkpoint) if machine.rank == 0 else None
    try:
        if lock is not None and cfg.eval.before_train and not evaluate_before_training(cfg, run_dir):
            return 1
        if not needs_launch(cfg):
            return finish(cfg, run_dir, train_here(cfg, run_dir, name, checkpoint))
        return launch_layout(cfg, overrides, run_dir, checkpoint, machine, gpu_count)
    finally:
        if lock is not None:
            lock.release()


def take_run_dir(cfg: OpenRSConfig, run_dir: Path, checkpoint: Path | None) -> Any:
    """Lock the run dir, check it holds no other run, say loudly what is resumed, and rewind its step records to the
    checkpoint (or to nothing, for a same-settings run killed before its first checkpoint). Returns the lock."""
    from openrs.config import plain_dict
    from openrs.resume import checkpoint_step
    from openrs.run_dir import RunDirLock, claim_run_dir, record_settings, rewind_records

    lock = RunDirLock(run_dir)
    try:
        config = plain_dict(cfg)
        restart = claim_run_dir(run_dir, config, resuming=checkpoint is not None)
        if checkpoint is not None or restart:
            step = checkpoint_step(checkpoint)
            before = previous_attempt(run_dir)
            cut = rewind_records(run_dir, step)
            where = f"from {checkpoint.name}" if checkpoint else "from the start (it saved no checkpoint)"
            moved = f"; {cut} record lines after step {step} moved to *.superseded.jsonl" if cut else ""
            log.warning("openrs: resuming the run in %s %s%s%s (a new run instead: resume=false and a new "
                        "hydra.run.dir)", run_dir, where, before, moved)  # fmt: skip
        record_settings(run_dir, config)
    except BaseException:
        lock.release()
        raise
    return lock


def previous_attempt(run_dir: Path) -> str:
    """`; it was killed at step 7`: how the run's last attempt ended (this process owns the dir now, so one still
    recorded as running was killed), for the resume message."""
    from openrs.run_dir import KILLED, read_summary

    summary = read_summary(run_dir) or {}
    status = KILLED if summary.get("status") == "running" else summary.get("status")
    attempts = summary.get("attempts") or [{}]
    steps = attempts[-1].get("steps", summary.get("steps", 0))
    return f"; it was {status} at step {steps}" if status else ""


def launch_layout(cfg: OpenRSConfig, overrides: list[str], run_dir: Path, checkpoint: Path | None, machine: Any,
                  gpu_count: int) -> int:  # fmt: skip
    """Fetch the model once, start the layout's processes (again at each rollback), and finish (rank 0) when they
    end."""
    from openrs.launch import launch
    from openrs.train import resolve_model_path

    model_path = resolve_model_path(cfg)  # downloaded once, here, before the server's timeout or any rank starts
    code = launch(cfg, overrides, run_dir, model_path=model_path, checkpoint=checkpoint, machine=machine,
                  gpu_count=gpu_count)  # fmt: skip
    summary_path = run_dir / "summary.json"
    if machine.rank != 0 or not summary_path.exists():
        return code
    summary = json.loads(summary_path.read_text())
    return finish(cfg, run_dir, summary) if code == 0 else code


def run_rank(cfg: OpenRSConfig, run_dir: Path, name: str) -> int:
    """A training process started by the launcher: its run dir and resume point are fixed on its command line. A
    guardrail's stop or rollback ends every rank cleanly (exit code 0); the launcher reads summary.json."""
    from openrs.launch import watch_launcher
    from openrs.resume import resume_target
    from openrs.run_dir import ENDED
    from openrs.train import is_main_process

    watch_launcher()
    if not is_main_process():
        logging.getLogger().setLevel(logging.WARNING)  # one copy of each progress line: rank 0's
    checkpoint = resume_target(cfg.resume, run_dir, name)[1] if cfg.resume not in (False, "auto") else None
    summary = train_here(cfg, run_dir, name, checkpoint)
    wait_for_every_rank()  # rank 0 has written summary.json: every machine's launcher reads the same ending
    return 0 if summary["status"] in (*ENDED, ROLLING_BACK) else 1


#: The status of a run a guardrail rolls back: its training processes end and the launcher restarts them.
ROLLING_BACK = "rolling_back"


def wait_for_every_rank() -> None:
    """A barrier over the training processes, when there are several."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def train_here(cfg: OpenRSConfig, run_dir: Path, name: str, checkpoint: Path | None) -> dict[str, Any]:
    """Train once. When a guardrail asks for a rollback, rank 0 sets the later records and checkpoints aside and the
    summary says `rolling_back`: the launcher then starts the training processes again from the checkpoint before
    the trouble (openrs.launch), with the learning rate of that many rollbacks (`guard.rollback.lr_factor`)."""
    from openrs.guardrails.rollback import set_aside
    from openrs.run_dir import read_summary
    from openrs.train import is_main_process, train

    rollbacks = len(((read_summary(run_dir) or {}).get("guard") or {}).get("rollbacks") or [])
    summary = train(cfg, run_dir, name, cfg.logger.group or cfg.name, checkpoint, rollbacks_done=rollbacks)
    if summary["status"] == ROLLING_BACK and is_main_process():
        set_aside(run_dir, Path(summary["guard"]["rollbacks"][-1]["to"]), rollbacks + 1)
    return summary


def finish(cfg: OpenRSConfig, run_dir: Path, summary: dict[str, Any]) -> int:
    """After training, in the launcher: `eval.after_train` (compared with `eval.before_train`'s evaluation when there
    is one), then tell the user where everything went."""
    if summary["status"] == "completed" and cfg.eval.after_train:
        summary["eval"] = evaluate_after_training(cfg, run_dir, Path(summary["final_model"]))
        base = eval_dir(cfg, run_dir, "base")
        if cfg.eval.before_train and "error" not in summary["eval"] and (base / "results.json").exists():
            summary["eval"]["comparison"] = compare_evaluations(cfg, base, Path(summary["eval"]["dir"]))
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print_summary(summary, run_dir)
    if summary["status"] == "stopped":
        from openrs.guardrails.callback import EXIT_STOPPED

        return EXIT_STOPPED
    return 0 if summary["status"] == "completed" else 1


def eval_dir(cfg: OpenRSConfig, run_dir: Path, label: str) -> Path:
    """Where the run's evaluation of `label` (`base`, `final`) with the eval preset goes."""
    return run_dir / "eval" / cfg.eval.name / label


def evaluate_before_training(cfg: OpenRSConfig, run_dir: Path) -> bool:
    """`eval.before_train`: the starting model on the eval preset, once per run dir (a resumed run keeps it; an
    interrupted one continues it). False, with the reason logged, when it fails: training does not start."""
    from openrs.train import resolve_model_path

    out_dir = eval_dir(cfg, run_dir, "base")
    if (out_dir / "results.json").exists():
        from openrs.evaluation.resume import claim_eval_dir, eval_settings

        claim_eval_dir(out_dir, eval_settings(cfg.eval, "base", None))  # refused when the eval options changed
        log.info("eval.before_train: kept the evaluation in %s", out_dir)
        return True
    log.info("eval.before_train: evaluating %s with eval=%s before training", cfg.model.name_or_path, cfg.eval.name)
    code = evaluate_in_fresh_process(cfg, resolve_model_path(cfg), out_dir, "base")
    if code != 0:
        log.error("eval.before_train failed (exit code %s; its log is above), so training did not start. Fix it, or "
                  "set eval.before_train=false.", code)  # fmt: skip
    return code == 0


def evaluate_after_training(cfg: OpenRSConfig, run_dir: Path, final_model: Path) -> dict[str, Any]:
    """`eval.after_train`: the final model on the eval preset."""
    out_dir = eval_dir(cfg, run_dir, "final")
    code = evaluate_in_fresh_process(cfg, str(final_model), out_dir, "final")
    if code != 0:
        log.error("eval.after_train failed (exit code %s); evaluate later with: python -m openrs.evaluate "
                  "target=%s", code, final_model)  # fmt: skip
        return {"dir": str(out_dir), "error": f"exit code {code}"}
    from openrs.evaluation.results import results_metrics

    results = json.loads((out_dir / "results.json").read_text())
    return {"dir": str(out_dir), **results_metrics(results)}


def compare_evaluations(cfg: OpenRSConfig, base: Path, final: Path) -> dict[str, Any]:
    """The final model against the base, paired by problem; written beside both as comparison.json."""
    from openrs.evaluation.runner import per_problem
    from openrs.evaluation.stats import paired_comparison

    try:
        comparison = paired_comparison(
            per_problem(base), per_problem(final), n_boot=cfg.eval.n_boot, confidence=cfg.eval.confidence,
            names=("the base model", "the final model"),
        )  # fmt: skip
    except ValueError as err:  # e.g. a resumed run's eval.max_problems changed since the base evaluation
        log.warning("no comparison with the base model: %s", err)
        return {"error": str(err), "verdict": f"not compared ({err})"}
    comparison = {"a": str(base), "b": str(final), **comparison}
    (base.parent / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
    log.info("%s", comparison["verdict"])
    return comparison


def evaluate_in_fresh_process(cfg: OpenRSConfig, model_path: str, out_dir: Path, label: str) -> int | None:
    """Evaluate in a fresh process (training's memory released: a vLLM engine takes `eval.gpu_memory_utilization` of
    the GPU; no RANK/WORLD_SIZE of the ranks); its exit code."""
    import multiprocessing

    from openrs.generation import release_memory

    release_memory()
    process = multiprocessing.get_context("spawn").Process(
        target=_evaluate, args=(model_path, cfg.eval, cfg.model, str(out_dir), cfg.cache_dir, label)
    )
    process.start()
    process.join()
    return process.exitcode


def _evaluate(model_path: str, eval_cfg: EvalConfig, model_cfg: ModelConfig, out_dir: str, cache_dir: str | None,
              label: str) -> None:  # fmt: skip
    from openrs.launch import DISTRIBUTED_ENV

    for variable in DISTRIBUTED_ENV:
        os.environ.pop(variable, None)
    if cache_dir:
        os.environ.setdefault("OPENRS_CACHE", cache_dir)
    from openrs.errors import run_explained
    from openrs.evaluation.runner import evaluate_model

    # a bad benchmark file or a full disk is one line, as in `python -m openrs.evaluate`, not a child's traceback
    sys.exit(run_explained("openrs", lambda: evaluate_model(model_path, eval_cfg, Path(out_dir), label=label,
                                                             model_cfg=model_cfg)))  # fmt: skip


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
    ]
    if summary.get("final_model"):
        lines.append(f"  final model {summary['final_model']}")
    if (run_dir / "completions.jsonl").exists():
        lines.append(f"  completions {run_dir / 'completions.jsonl'}")
    lines += guard_lines(summary, run_dir)
    if summary.get("eval", {}).get("dir"):
        lines.append(f"  evaluation  {summary['eval']['dir']}")
    if summary.get("eval", {}).get("comparison"):
        lines.append(f"  vs base     {summary['eval']['comparison']['verdict']}")
    wandb_info = summary.get("wandb")
    if wandb_info:
        where = wandb_info["url"] or f"{wandb_info['dir']} (offline: `wandb sync {Path(wandb_info['dir']).parent}`)"
        lines.append(f"  W&B         {where}")
    print("\n".join(lines))


def guard_lines(summary: dict, run_dir: Path) -> list[str]:
    """The summary's lines about the guardrails: what fired, the rollbacks, and the stop with what to do next."""
    guard = summary.get("guard") or {}
    firings = guard.get("firings") or []
    lines = []
    if firings:
        fired = ", ".join(f"{f['detector']}@{f['step']} {f['action']}" for f in firings[:6])
        lines.append(f"  guard       {len(firings)} firing(s): {fired}{' ...' if len(firings) > 6 else ''}")
    for rollback in guard.get("rollbacks") or []:
        to = Path(rollback["to"]).name
        lines.append(f"  rolled back at step {rollback['step']} ({rollback['detector']}) to {to}, "
                     f"lr x{rollback['lr_factor']:g}")  # fmt: skip
    if summary.get("status") == "stopped":
        lines.append(f"  stopped by  {summary.get('stopped_by')}")
        lines.append(f"  checkpoint  {summary.get('checkpoint')} (the checkpoints before it: python -m "
                     f"openrs.evaluate target={run_dir})")  # fmt: skip
    return lines


def run_or_explain(cfg: DictConfig, hydra_run_dir: Path, overrides: list[str], search: DirSearch | None = None) -> int:
    """The entry: the composed config becomes typed (and checked) here, once; then `run`. A ConfigError or a fixable
    file-system error is one clear line (openrs.errors.run_explained) instead of a traceback."""
    typed: list[OpenRSConfig] = []

    def job() -> int:
        typed.append(typed_config(cfg, OpenRSConfig))
        return run(typed[0], hydra_run_dir, overrides, search)

    return run_explained("openrs", job, disk_need=lambda: disk_need(typed[0]) if typed else None)
