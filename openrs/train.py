"""The GRPO recipe, top to bottom: model, data, rewards, trainer, train, save, record.

Everything configurable was resolved into the plan (openrs.plan); this file builds objects from it and runs
TRL's GRPOTrainer. Whatever happens, the run dir ends with a `summary.json` saying how the run ended.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from openrs import provenance
from openrs.config import Device, LoggerName, OpenRSConfig, plain_dict
from openrs.data.prepare import DataReport, prepare_dataset
from openrs.evaluation.callback import BenchmarkEvalCallback
from openrs.guardrails.callback import GuardCallback
from openrs.guardrails.rollback import ScaleLearningRate, rollback_learning_rate
from openrs.jsonl import read_jsonl
from openrs.models import resolve_attention
from openrs.naming import run_tags
from openrs.plan import build_plan
from openrs.resume import checkpoint_step
from openrs.rewards import get_reward
from openrs.rewards.guard import RewardError
from openrs.run_dir import KILLED, read_summary, write_json
from openrs.tracking import (
    AttemptRecorder,
    CompletionSamplerCallback,
    MetricsFileCallback,
    init_wandb,
    json_safe,
    use_compact_progress,
)

log = logging.getLogger(__name__)


def is_main_process() -> bool:
    """Rank 0 (or a single process): the one that writes run files and owns the W&B run."""
    return int(os.environ.get("RANK", "0")) == 0


def resolve_model_path(cfg: OpenRSConfig) -> str:
    """The model's local directory: the tiny model (built offline on first use), a local dir, or the hub snapshot
    of `model.revision` (so the policy, the reference and vLLM all load the same weights)."""
    from openrs.models import resolve_model_path as resolve

    return resolve(cfg.model.name_or_path, cfg.cache_dir, cfg.model.revision)


def resources_so_far(cfg: OpenRSConfig, run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """GPU-hours, tokens and cost of the run over all its attempts, killed ones included (openrs.cost): wall time
    from `summary["attempts"]`, tokens from the step records and those a resumption superseded."""
    from openrs.cost import run_resources
    from openrs.provenance import hardware

    wall_time_s = sum(attempt.get("wall_time_s") or 0.0 for attempt in summary.get("attempts", []))
    metrics = read_jsonl(run_dir / "metrics.jsonl") + read_jsonl(run_dir / "metrics.superseded.jsonl")
    return run_resources(cfg, wall_time_s, metrics, hardware()["gpus"])


def build_rewards(cfg: OpenRSConfig) -> list[Any]:
    """The reward callables, in config order (weights go to GRPOConfig.reward_weights)."""
    rewards = [get_reward(spec.name, **spec.params) for spec in cfg.reward.functions]
    for reward in rewards:
        reward.time_limit_s = cfg.reward.time_limit_s
    return rewards


def build_peft_config(cfg: OpenRSConfig) -> Any:
    """A PEFT LoraConfig when peft.enabled, else None."""
    if not cfg.peft.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.peft.r,
        lora_alpha=cfg.peft.lora_alpha,
        lora_dropout=cfg.peft.lora_dropout,
        target_modules=list(cfg.peft.target_modules),
        task_type="CAUSAL_LM",
    )


def build_trainer(cfg: OpenRSConfig, model_path: str, tokenizer: Any, data: Any, grpo_kwargs: dict, callbacks: list):
    """TRL's GRPOTrainer with openrs's additions (openrs.trainer); with `rollout=vllm_colocate`, its engine built with
    our dtype and eager mode, and on vLLM's CPU build given a weight sync that works there (openrs.vllm_colocate)."""
    from trl import GRPOConfig

    from openrs.checks import sampling_signal
    from openrs.trainer import OpenRSGRPOTrainer

    def construct() -> Any:
        return OpenRSGRPOTrainer(
            model=model_path,
            reward_funcs=build_rewards(cfg),
            args=GRPOConfig(**grpo_kwargs),
            train_dataset=data.train,
            eval_dataset=data.validation,
            processing_class=tokenizer,
            peft_config=build_peft_config(cfg),
            callbacks=callbacks,
            max_sampling_rounds=cfg.algorithm.max_sampling_rounds if cfg.algorithm.dynamic_sampling else 0,
            sampling_signal=sampling_signal(cfg) if cfg.algorithm.dynamic_sampling else ("total", None),
        )

    if grpo_kwargs.get("vllm_mode") != "colocate":
        trainer = construct()
    else:
        from openrs.vllm_colocate import colocated_engine_settings, use_cpu_weight_sync
        from openrs.vllm_support import vllm_device

        on_cpu = vllm_device() == "cpu"
        with colocated_engine_settings(cfg.model.dtype.value, cfg.rollout.enforce_eager, on_cpu):
            trainer = construct()
        if on_cpu:
            use_cpu_weight_sync(trainer)
    cast_reference(cfg, trainer)
    return trainer


def cast_reference(cfg: OpenRSConfig, trainer: Any) -> None:
    """The frozen reference model, loaded in float32 beside a float32-master policy, in the compute dtype: it only
    ever runs under autocast, so float32 would double its memory for nothing (openrs.precision)."""
    import torch

    from openrs.precision import training_precision

    if training_precision(cfg).cast_reference and getattr(trainer, "ref_model", None) is not None:
        trainer.ref_model.to(getattr(torch, cfg.model.dtype.value))


def peak_gpu_memory_gib() -> float | None:
    """The most GPU memory torch held at once in this process (None without CUDA)."""
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None


def say_cpu_choices(cfg: OpenRSConfig) -> None:
    """On CPU, one line with the thread count and dtype the run uses, and a warning for bf16 without bf16 units."""
    import torch

    from openrs.provenance import cpu_has_bf16

    if torch.cuda.is_available() and cfg.train.device != Device.cpu:
        return
    dtype = cfg.model.dtype.on("cpu").value
    log.info("CPU run: %d torch threads per process (OMP_NUM_THREADS), computing in %s", torch.get_num_threads(),
             dtype)  # fmt: skip
    if dtype == "bfloat16" and cpu_has_bf16() is False:
        log.warning("model.dtype=bfloat16 on a CPU without bfloat16 units (no AMX or AVX512-BF16): bf16 is emulated "
                    "and slower than float32 here; model.dtype=float32 is faster on this machine.")  # fmt: skip


def train(
    cfg: OpenRSConfig,
    run_dir: Path,
    run_name: str,
    group: str,
    checkpoint: Path | None = None,
    extra_callbacks: list[Any] | None = None,
    rollbacks_done: int = 0,
) -> dict[str, Any]:
    """Run GRPO as configured, writing everything into `run_dir`. Returns the summary (also in summary.json): its
    status is `completed`, `stopped` (by a guardrail), `rolling_back` (a guardrail asks to restart from
    `guard.rollbacks[-1].to`, which openrs.launch does), `interrupted` or `failed`. `rollbacks_done`: rollbacks this
    run has had (its W&B run is then named `<run_name>-rollback<n>`: W&B steps cannot go back); after n rollbacks the
    learning rate and its schedule are the configured ones times `guard.rollback.lr_factor`**n, whichever checkpoint
    is restored (openrs.guardrails.rollback.rollback_learning_rate)."""
    from transformers import AutoTokenizer

    run_dir.mkdir(parents=True, exist_ok=True)
    main = is_main_process()
    started = time.time()
    summary = start_summary(cfg, run_dir, run_name, checkpoint, main)
    attempt = AttemptRecorder(summary, run_dir, started)
    metrics_callback = MetricsFileCallback(run_dir)
    guard = GuardCallback(cfg, run_dir, summary, main, rollbacks_done)
    trainer = wandb_run = None
    report = DataReport()
    try:
        model_path = resolve_model_path(cfg)
        summary["model_path"] = model_path  # what every part of the run loads (model.revision's snapshot)
        if main:
            say_cpu_choices(cfg)
        tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=cfg.model.trust_remote_code)
        data = prepare_dataset(cfg, tokenizer)
        report = data.report
        plan = build_plan(cfg, str(run_dir))
        tracked_name = f"{run_name}-rollback{rollbacks_done}" if rollbacks_done else run_name
        grpo_kwargs = dict(plan["grpo"], run_name=tracked_name)
        init_kwargs = grpo_kwargs["model_init_kwargs"]
        init_kwargs["attn_implementation"] = resolve_attention(init_kwargs["attn_implementation"])
        if main:
            record = write_run_records(cfg, run_dir, data)
            wandb_run = start_wandb(cfg, run_dir, tracked_name, group, plan, record)
        own = openrs_callbacks(cfg, run_dir)
        callbacks = [metrics_callback, guard, attempt, *own, *(extra_callbacks or [])]
        if rollbacks_done:
            callbacks.append(ScaleLearningRate(rollback_learning_rate(cfg, rollbacks_done)))
        trainer = build_trainer(cfg, model_path, tokenizer, data, grpo_kwargs, callbacks)
        use_compact_progress(trainer)
        for callback in own:  # they read the trainer's buffers and model
            callback.trainer = trainer
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        if guard.decision is None:
            final_model = run_dir / "final_model"
            trainer.save_model(str(final_model))
            if main:
                tokenizer.save_pretrained(str(final_model))
        require_scored_steps(metrics_callback, cfg)  # after the saves: every rank has left the collectives
        if metrics_callback.scored_steps < metrics_callback.reward_steps:
            summary["unscored_steps"] = metrics_callback.reward_steps - metrics_callback.scored_steps
            log.warning("%d of %d logged steps had no reward at all (every reward returned None or NaN): those steps "
                        "taught nothing (summary.json unscored_steps)", summary["unscored_steps"],
                        metrics_callback.reward_steps)  # fmt: skip
        summary.update(guard_outcome(guard, trainer, run_dir, lr_factor_next=cfg.guard.rollback.lr_factor
                                     ** (rollbacks_done + 1)))  # fmt: skip
    except KeyboardInterrupt:
        summary.update(status="interrupted")
        raise
    except BaseException as err:
        summary.update(status="failed", error=f"{type(err).__name__}: {err}")
        if isinstance(err, OSError) and not err.filename:
            err.filename = str(run_dir)  # a failed write names no file; the message then names where the run writes
        raise
    finally:
        end_summary(summary, cfg, run_dir, attempt, trainer, metrics_callback.last, report, checkpoint)
        finish_wandb(wandb_run, summary)
        if main:
            write_final_summary(run_dir, summary)
    return summary


def write_final_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    """The last summary.json; if even that cannot be written (a full disk), say so without hiding the run's error."""
    try:
        write_json(run_dir / "summary.json", summary)
    except OSError as err:
        log.error("could not write %s (%s); the run ended %s", run_dir / "summary.json", err, summary["status"])


def require_scored_steps(metrics: MetricsFileCallback, cfg: OpenRSConfig) -> None:
    """A run whose rewards never scored a completion (None or NaN from every reward at every logged step) learned
    nothing: it fails instead of reporting `completed` with a null reward."""
    if metrics.reward_steps and not metrics.scored_steps:
        names = ", ".join(spec.name for spec in cfg.reward.functions)
        raise RewardError(
            f"No reward scored any completion in {metrics.reward_steps} logged steps: every reward ({names}) returned "
            "None or NaN, so GRPO had no advantage to learn from. Check that the rewards read the gold column "
            "(dataset.answer_column becomes `solution`) and that they return floats."
        )


def guard_outcome(guard: GuardCallback, trainer: Any, run_dir: Path, lr_factor_next: float) -> dict[str, Any]:
    """How training ended as far as the guardrails go: `completed` with its final model, `stopped` with the
    checkpoint the trainer saved at the stop, or `rolling_back` (the rollback recorded in the summary's guard)."""
    firing = guard.decision
    if firing is None:
        return {"status": "completed", "final_model": str(run_dir / "final_model")}
    if firing.action == "stop":
        step = trainer.state.global_step
        return {"status": "stopped", "stopped_by": firing.message, "checkpoint": str(run_dir / f"checkpoint-{step}")}
    guard.record["rollbacks"].append({"step": firing.step, "detector": firing.detector, "onset": firing.onset,
                                      "to": str(guard.rollback_to), "lr_factor": lr_factor_next})  # fmt: skip
    return {"status": "rolling_back"}


def end_summary(
    summary: dict[str, Any], cfg: OpenRSConfig, run_dir: Path, attempt: AttemptRecorder, trainer: Any,
    last_metrics: dict[str, Any], report: DataReport, checkpoint: Path | None,
) -> None:  # fmt: skip
    """How the run ended, whatever happened: steps, time, memory, last metrics, data report and resources (over
    every attempt: `wall_time_s` is this attempt's, `resources.wall_time_s` the run's)."""
    steps = trainer.state.global_step if trainer is not None else checkpoint_step(checkpoint)
    attempt.update(step=steps, status=summary["status"])
    summary.update(
        wall_time_s=summary["attempts"][-1]["wall_time_s"],
        steps=steps,
        processes=trainer.accelerator.num_processes if trainer is not None else None,
        peak_gpu_memory_gib=peak_gpu_memory_gib(),
        max_steps=cfg.train.max_steps,
        final_metrics={k: json_safe(v) for k, v in last_metrics.items()},
        data=report.as_dict(),
        resumed_from=str(checkpoint) if checkpoint else None,
    )
    summary["resources"] = resources_so_far(cfg, run_dir, summary)


def start_summary(cfg: OpenRSConfig, run_dir: Path, run_name: str, checkpoint: Path | None, main: bool) -> dict:
    """The summary as the run starts, on disk at once (rank 0): a killed run is recognisable (status running) and
    resumed by resume=auto. `attempts` lists every session of the run, earlier (killed) ones included, each with the
    wall time it had used when last recorded, so a resumed run's cost counts them all."""
    earlier = (read_summary(run_dir) or {}) if main else {}
    # this process's launcher holds the run dir now: an earlier attempt still `running` was killed
    attempts = [{**a, "status": KILLED} if a.get("status") == "running" else a for a in earlier.get("attempts") or []]
    if not attempts and (earlier.get("resources") or {}).get("wall_time_s"):
        attempts = [{"wall_time_s": earlier["resources"]["wall_time_s"], "status": earlier.get("status")}]
    step = checkpoint_step(checkpoint)
    attempts.append({"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "from_step": step, "steps": step,
                     "wall_time_s": 0.0, "status": "running", "pid": os.getpid()})  # fmt: skip
    summary: dict[str, Any] = {"name": cfg.name, "run_name": run_name, "run_dir": str(run_dir), "status": "running",
                               "attempts": attempts}  # fmt: skip
    guard = earlier.get("guard") or {}  # the firings and rollbacks of earlier attempts stay
    summary["guard"] = {"firings": guard.get("firings", []), "rollbacks": guard.get("rollbacks", []),
                        "stopped_by": None}  # fmt: skip
    if main:
        write_json(run_dir / "summary.json", summary)
    return summary


def write_run_records(cfg: OpenRSConfig, run_dir: Path, data: Any) -> dict[str, Any]:
    """provenance.json, data_report.json, validation.jsonl and config.yaml; returns the provenance record."""
    record = provenance.collect(data.report.fingerprint)
    write_json(run_dir / "provenance.json", record)
    write_json(run_dir / "data_report.json", data.report.as_dict())
    if data.validation is not None:
        data.validation.to_json(run_dir / "validation.jsonl", lines=True, force_ascii=False)
    OmegaConf.save(plain_dict(cfg), run_dir / "config.yaml")
    return record


def start_wandb(
    cfg: OpenRSConfig, run_dir: Path, run_name: str, group: str, plan: dict[str, Any], record: dict[str, Any]
) -> Any:
    """The run's W&B run (logger=wandb), with the config, the plan and the provenance; None otherwise."""
    if cfg.logger.name != LoggerName.wandb:
        return None
    config = {"openrs": plain_dict(cfg), "plan": plan, "provenance": record}
    tags = run_tags(cfg.name, cfg.model.name_or_path, cfg.algorithm.name, list(cfg.logger.tags))
    return init_wandb(cfg.logger, run_dir, run_name, group, config, tags)


def openrs_callbacks(cfg: OpenRSConfig, run_dir: Path) -> list[Any]:
    """The callbacks that need the trainer once it exists: completion samples, in-training evaluation (enabled)."""
    sampler = CompletionSamplerCallback(run_dir, cfg.logger.sample_completions_every)
    during = BenchmarkEvalCallback(cfg, run_dir) if cfg.eval.during_training.enabled else None
    return [sampler, *([during] if during else [])]


def finish_wandb(wandb_run: Any, summary: dict[str, Any]) -> None:
    """Record the W&B run in the summary and close it with the run's status."""
    if wandb_run is None:
        return
    summary["wandb"] = {
        "mode": wandb_run.settings.mode,
        "dir": str(wandb_run.dir),
        "url": wandb_run.url,
        "group": wandb_run.group,
    }
    wandb_run.summary.update({"openrs/status": summary["status"], "openrs/wall_time_s": summary["wall_time_s"]})
    wandb_run.finish(exit_code=0 if summary["status"] == "completed" else 1)
