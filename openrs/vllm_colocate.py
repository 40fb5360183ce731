"""TRL's colocated vLLM engine, made to run as configured, on GPUs and on vLLM's CPU build.

Two things TRL 1.16 does not do (trl/generation/vllm_generation.py):

* It builds `vllm.LLM(...)` without a dtype, and vLLM's `auto` turns a float32 checkpoint into bfloat16, so the
  engine samples from a different model than the one trained (log-prob gap 5.6e-3 on the tiny model, against
  4.8e-7 with float32). :func:`colocated_engine_settings` passes `model.dtype`, and `rollout.enforce_eager` (always
  on CPU: compiling the graph costs a minute and gains nothing there).
* Its weight sync calls `model.load_weights` one parameter at a time. vLLM's CPU build repacks every linear layer's
  weight after loading (`layer.weight` becomes an empty parameter without a loader), so that fails with
  `'Parameter' object has no attribute 'weight_loader'`. :func:`use_cpu_weight_sync` replaces it, on CPU only, with
  vLLM's own `reload_weights` (which restores checkpoint-shaped parameters, loads, and repacks) over all the
  parameters at once, then repacks the tied `lm_head`, which the reload skips.
"""

from __future__ import annotations

import functools
import os
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: KV-cache size for vLLM's CPU engines when the user has not set it: vLLM's default is
#: gpu_memory_utilization x the machine's memory, most of a laptop's RAM.
DEFAULT_CPU_KV_CACHE_GIB = "1"


def prepare_cpu_engine_env() -> None:
    """Environment vLLM's CPU build reads when an engine starts (the user's own settings win)."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", DEFAULT_CPU_KV_CACHE_GIB)


@contextmanager
def colocated_engine_settings(dtype: str, enforce_eager: bool, on_cpu: bool) -> Iterator[None]:
    """While TRL builds its colocated engine: `vllm.LLM` gets our dtype and eager mode (TRL passes neither)."""
    import trl.generation.vllm_generation as trl_vllm

    if on_cpu:
        prepare_cpu_engine_env()
    original = trl_vllm.LLM
    trl_vllm.LLM = functools.partial(original, dtype=dtype, enforce_eager=enforce_eager or on_cpu)
    try:
        yield
    finally:
        trl_vllm.LLM = original


def _repack_lm_head(worker: Any) -> None:
    """Run in vLLM's worker: redo the CPU repacking of the (tied) lm_head after a reload."""
    from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead

    for module in worker.model_runner.model.modules():
        if isinstance(module, ParallelLMHead):
            module.quant_method.process_weights_after_loading(module)


def _sync_weights_cpu(self: Any) -> None:
    """TRL's `VLLMGeneration.sync_weights` for vLLM's CPU build (colocate mode): one reload of every parameter.
    `_iter_named_params` is TRL's own walk (PEFT merge, ZeRO gathers), consumed lazily by the reload."""
    weights = self._iter_named_params()
    self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights, "is_checkpoint_format": True})
    self.llm.collective_rpc(_repack_lm_head)
    self.llm.reset_prefix_cache()


def use_cpu_weight_sync(trainer: Any) -> None:
    """Give the trainer's colocated engine the CPU weight sync (see the module docstring)."""
    generation = getattr(trainer, "vllm_generation", None)
    if generation is not None and generation.mode == "colocate":
        generation.sync_weights = types.MethodType(_sync_weights_cpu, generation)
