"""Benchmark accuracy while training runs: at every save, a benchmark subset is evaluated with the trainer's own
generation backend and logged beside the rewards (`benchmarks/<name>/pass@1`, `benchmarks/average/pass@1`).

Every training process takes part: the problems are split over the ranks (over groups of tensor-parallel ranks with a
colocated engine, whose ranks make the same calls), each rank generates and scores its share, and rank 0 gathers the
samples, writes them and logs the results on every rank. No rank sits in a collective while another evaluates alone
(a tensor-parallel engine deadlocked that way; other ranks waited inside `ddp_timeout`), and an error on one rank is
raised on all of them once each has finished its own share.

The backend: the trainer's colocated vLLM engine when `rollout=vllm_colocate`, first loaded with the checkpoint's
weights (TRL syncs them only at the next generation, so the engine would score step N-1's), else transformers
`generate` on the policy in memory under the trainer's autocast (with `rollout=vllm_server` that is each training
process's GPU; keep the subset small). Samples and results go to `<run>/eval/during_training/checkpoint-N/` (a step
trained again after a rollback or resume starts that dir afresh), so the curves and plots of `python -m
openrs.evaluate target=<run>` pick them up. Under DeepSpeed ZeRO-3 the policy is sharded and in-training evaluation
is skipped with a warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from openrs.config import OpenRSConfig
from openrs.evaluation.ranks import from_main_process, on_every_rank, share_of
from openrs.evaluation.results import results_metrics
from openrs.evaluation.samples import SampleStore, sample_key
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


def load_checkpoint_weights(trainer: Any, step: int) -> None:
    """Give the colocated engine the policy's weights of `step` (on every rank: the sync may gather parameters), as
    TRL does before a generation whose step differs from the last one loaded."""
    if colocated_engine(trainer) is None or getattr(trainer, "_last_loaded_step", None) == step:
        return
    trainer.vllm_generation.sync_weights()
    trainer._last_loaded_step = step


class BenchmarkEvalCallback(TrainerCallback):
    """Evaluate `eval.during_training` at every checkpoint save, on every rank (see the module docstring)."""

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

    def _share(self) -> list[Any]:
        """This rank's problems: one share per rank, or per tensor-parallel group of a colocated engine."""
        accelerator = self.trainer.accelerator
        engine = colocated_engine(self.trainer)
        group = int(getattr(self.trainer.vllm_generation, "tensor_parallel_size", 1)) if engine is not None else 1
        return share_of(self.items, accelerator.process_index, accelerator.num_processes, group)

    def _generate_share(self) -> dict[str, Any]:
        """Generate and score this rank's share in memory; returns its samples and the engine's speed."""
        from openrs.evaluation.engine import generate_samples

        generator = self._generator()
        store = SampleStore(None)
        hf = colocated_engine(self.trainer) is None
        with self.trainer.accelerator.autocast() if hf else contextlib.nullcontext():
            generate_samples(self._share(), self.eval_cfg, generator, store, max_new_tokens=self.max_new_tokens)
        return {"records": store.records(), "tokens_per_s": generator.stats.tokens_per_s, "backend": generator.name}

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.trainer is None:
            return
        if zero_stage(self.trainer.accelerator) == 3:
            if state.is_world_process_zero:
                log.warning("in-training evaluation is skipped under DeepSpeed ZeRO-3 (the policy is sharded)")
            return
        step, started = state.global_step, time.time()
        load_checkpoint_weights(self.trainer, step)
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        was_training = model.training
        model.eval()
        try:
            shares = on_every_rank(self._generate_share, f"in-training evaluation of checkpoint-{step}")
        finally:
            model.train(was_training)
        metrics = self._write(step, shares, started) if state.is_world_process_zero else None
        self.trainer.log(from_main_process(metrics))

    def _write(self, step: int, shares: list[dict[str, Any]], started: float) -> dict[str, float]:
        """Rank 0: every rank's samples into a fresh `checkpoint-<step>` dir, then results and table; the metrics."""
        from openrs.evaluation.resume import claim_eval_dir, eval_settings
        from openrs.evaluation.runner import write_results

        out_dir = self.run_dir / "eval" / DURING_TRAINING / f"checkpoint-{step}"
        shutil.rmtree(out_dir, ignore_errors=True)  # samples of an earlier trajectory's step, not this one's
        label = f"checkpoint-{step}"
        claim_eval_dir(out_dir, eval_settings(self.eval_cfg, label, None))
        merged = {sample_key(r): r for share in reversed(shares) for r in share["records"]}  # TP peers: one copy
        store = SampleStore(out_dir / "samples.jsonl")
        store.append(merged[key] for key in sorted(merged))
        speeds = [share["tokens_per_s"] for share in shares if share["tokens_per_s"]]
        generation = {
            "backend": shares[0]["backend"],
            "tokens_per_s": sum(speeds) if speeds else None,  # summed over the ranks
            "samples_by_rank": {str(rank): len(share["records"]) for rank, share in enumerate(shares)},
        }
        results = write_results(out_dir, store, self.items, self.eval_cfg, label=label, started=started,
                                generation=generation)  # fmt: skip
        return results_metrics(results)
