"""Benchmark accuracy while training runs: at every save, a benchmark subset is evaluated with the trainer's own
generation backend and logged beside the rewards (`benchmarks/<name>/pass@1`, `benchmarks/average/pass@1`).

The backend: the trainer's colocated vLLM engine when `rollout=vllm_colocate` (its weights are the policy's after
each sync), else transformers `generate` on the policy in memory (with `rollout=vllm_server` that is the training
process's GPU; keep the subset small). Samples and results go to `<run>/eval/during_training/checkpoint-N/`, so the
curves and plots of `python -m openrs.evaluate target=<run>` pick them up. Only the main process evaluates; under
DeepSpeed ZeRO-3 the policy is sharded and in-training evaluation is skipped with a warning.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from openrs.config import OpenRSConfig
from openrs.evaluation.results import results_metrics
from openrs.evaluation.tasks import load_items

__all__ = ["DURING_TRAINING", "BenchmarkEvalCallback"]

log = logging.getLogger(__name__)

DURING_TRAINING = "during_training"


def colocated_engine(trainer: Any) -> Any:
    """TRL's colocated `vllm.LLM` (TRL 1.16 keeps it at `trainer.vllm_generation.llm`), or None (hf rollout, or a
    vLLM server, whose weights this process cannot generate with)."""
    generation = getattr(trainer, "vllm_generation", None)
    return getattr(generation, "llm", None) if getattr(generation, "mode", None) == "colocate" else None


def zero_stage(accelerator: Any) -> int | None:
    """The DeepSpeed ZeRO stage the accelerator runs (from the accelerate config or TrainingArguments), or None."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    return int(plugin.zero_stage) if plugin is not None else None


class BenchmarkEvalCallback(TrainerCallback):
    """Evaluate `eval.during_training` at every checkpoint save (see the module docstring)."""

    def __init__(self, cfg: OpenRSConfig, run_dir: Path) -> None:
        during = cfg.eval.during_training
        self.run_dir = run_dir
        self.eval_cfg = dataclasses.replace(
            cfg.eval, k=during.k, k_by_benchmark={}, data_parallel_size=1, completions_file=None
        )
        self.max_new_tokens = during.max_new_tokens or cfg.length.max_completion_length
        benchmarks = list(during.benchmarks) if during.benchmarks is not None else None
        self.items = load_items(cfg.eval, benchmarks=benchmarks, max_problems=during.max_problems)  # fail early
        self.trainer: Any = None

    def _generator(self) -> Any:
        from openrs.generation import HFGenerator, VLLMGenerator

        trainer = self.trainer
        engine = colocated_engine(trainer)
        if engine is not None:
            return VLLMGenerator.from_llm(engine, trainer.processing_class)
        model = trainer.accelerator.unwrap_model(trainer.model)
        return HFGenerator.from_model(model, trainer.processing_class, batch_size=self.eval_cfg.batch_size)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.trainer is None or not state.is_world_process_zero:
            return
        if zero_stage(self.trainer.accelerator) == 3:
            log.warning("in-training evaluation is skipped under DeepSpeed ZeRO-3 (the policy is sharded)")
            return
        from openrs.evaluation.runner import evaluate_model

        step = state.global_step
        out_dir = self.run_dir / "eval" / DURING_TRAINING / f"checkpoint-{step}"
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        was_training = model.training
        model.eval()
        try:
            results = evaluate_model(
                None,
                self.eval_cfg,
                out_dir,
                self.items,
                label=f"checkpoint-{step}",
                generator=self._generator(),
                max_new_tokens=self.max_new_tokens,
            )
        finally:
            model.train(was_training)
        self.trainer.log(results_metrics(results))
