"""The cheapest changes that make a run fit, each with its new estimate: a smaller micro-batch with more
accumulation, gradient checkpointing, ZeRO-3, a smaller (or, for a server that cannot hold a group, larger) vLLM
share, LoRA, a shorter completion budget. A change is offered only when the plan with it fits; when no single change
does, the changes are combined in that order until the run fits."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from openrs.config import OpenRSConfig
from openrs.errors import ConfigError
from openrs.memory.activations import kv_cache_bytes
from openrs.memory.gpus import Gpu
from openrs.memory.layout import layout_of
from openrs.memory.plan import MemoryPlan, Verdict, memory_plan
from openrs.memory.rollout_share import runtime_bytes
from openrs.memory.shape import ModelShape

Change = tuple[str, list[str], OpenRSConfig]
#: vLLM shares are offered in steps of this much of the GPU.
SHARE_STEP = 0.05


@dataclass(frozen=True)
class Fix:
    """A change to the config, as words and as overrides, and the plan with it."""

    change: str
    overrides: list[str]
    plan: MemoryPlan


def smaller_micro_batches(cfg: OpenRSConfig) -> Iterator[Change]:
    """Each smaller micro-batch that divides the per-device batch, largest first, with the accumulation that keeps
    the completions per step (and so every group whole)."""
    train = cfg.train
    per_step = train.per_device_train_batch_size * train.gradient_accumulation_steps
    for batch in range(train.per_device_train_batch_size - 1, 0, -1):
        if train.per_device_train_batch_size % batch:
            continue
        accumulation = per_step // batch
        smaller = replace(train, per_device_train_batch_size=batch, gradient_accumulation_steps=accumulation)
        yield (f"a micro-batch of {batch} with {accumulation} accumulation steps (same completions per step)",
               [f"train.per_device_train_batch_size={batch}", f"train.gradient_accumulation_steps={accumulation}"],
               replace(cfg, train=smaller))  # fmt: skip


def checkpointing(cfg: OpenRSConfig) -> Iterator[Change]:
    if not cfg.train.gradient_checkpointing:
        yield ("gradient checkpointing (about a third more compute per step)", ["train.gradient_checkpointing=true"],
               replace(cfg, train=replace(cfg.train, gradient_checkpointing=True)))  # fmt: skip


def zero3(cfg: OpenRSConfig) -> Iterator[Change]:
    if cfg.launcher.training_processes > 1 and cfg.launcher.accelerate_config != "zero3":
        yield ("DeepSpeed ZeRO-3 (weights split over the training GPUs too)", ["launcher.accelerate_config=zero3"],
               replace(cfg, launcher=replace(cfg.launcher, accelerate_config="zero3")))  # fmt: skip


def group_share(cfg: OpenRSConfig, shape: ModelShape, gpu: Gpu) -> float:
    """The smallest vLLM share (in SHARE_STEP steps) whose KV cache holds one group of full-length sequences."""
    layout = layout_of(cfg)
    server = layout.rollout == "server"
    need = shape.parameters() * layout.d + runtime_bytes(shape, layout.d, 8192 if server else 4096, layout.vllm_eager)
    need += layout.num_generations * kv_cache_bytes(shape, tokens=layout.max_model_length, d=layout.d)
    return math.ceil(need / gpu.memory / SHARE_STEP) * SHARE_STEP


def vllm_share_change(cfg: OpenRSConfig, shape: ModelShape, gpu: Gpu) -> Iterator[Change]:
    """Colocated: the smallest share that holds a group. Server: a share large enough for a group."""
    layout = layout_of(cfg)
    if layout.rollout == "hf":
        return
    share = round(group_share(cfg, shape, gpu), 2)
    current = cfg.rollout.gpu_memory_utilization
    lower = layout.rollout == "colocate" and share < current
    higher = layout.rollout == "server" and current < share <= 0.95
    if lower or higher:
        words = "a smaller" if lower else "a larger"
        yield (f"{words} vLLM share, {share:.2f} of the GPU (holds a group of {layout.num_generations})",
               [f"rollout.gpu_memory_utilization={share:.2f}"],
               replace(cfg, rollout=replace(cfg.rollout, gpu_memory_utilization=share)))  # fmt: skip


def lora(cfg: OpenRSConfig) -> Iterator[Change]:
    if not cfg.peft.enabled:
        yield ("LoRA instead of full fine-tuning (a different experiment: see exp3_lora for its learning rate)",
               ["peft=lora"], replace(cfg, peft=replace(cfg.peft, enabled=True)))  # fmt: skip


def shorter_budgets(cfg: OpenRSConfig) -> Iterator[Change]:
    """Halve the completion budget, down to 256 tokens (a different experiment: longer answers are cut)."""
    budget = cfg.length.max_completion_length // 2
    while budget >= 256:
        length = replace(cfg.length, max_completion_length=budget)
        yield (f"a completion budget of {budget} tokens (a different experiment: longer answers are cut)",
               [f"length.max_completion_length={budget}"], replace(cfg, length=length))  # fmt: skip
        budget //= 2


def candidates(cfg: OpenRSConfig, shape: ModelShape, gpu: Gpu) -> list[Callable[[], Iterator[Change]]]:
    """Each kind of change, cheapest first; each kind yields its variants mildest first."""
    return [lambda: smaller_micro_batches(cfg), lambda: checkpointing(cfg), lambda: zero3(cfg),
            lambda: vllm_share_change(cfg, shape, gpu), lambda: lora(cfg), lambda: shorter_budgets(cfg)]  # fmt: skip


def planned(change: Change, shape: ModelShape, gpu: Gpu) -> Fix | None:
    words, overrides, new = change
    try:
        return Fix(words, overrides, memory_plan(shape, layout_of(new), gpu))
    except ConfigError:  # a change the config's own rules refuse is not offered
        return None


def first_fit(kind: Callable[[], Iterator[Change]], shape: ModelShape, gpu: Gpu) -> Fix | None:
    """The mildest variant of one kind of change that fits."""
    for change in kind():
        fix = planned(change, shape, gpu)
        if fix is not None and fix.plan.verdict == Verdict.fits:
            return fix
    return None


def suggested_fixes(cfg: OpenRSConfig, shape: ModelShape, gpu: Gpu) -> list[Fix]:
    """Every single change that makes the run fit, cheapest first; else the changes combined until it fits."""
    single = [fix for kind in candidates(cfg, shape, gpu) if (fix := first_fit(kind, shape, gpu))]
    return single or combined(cfg, shape, gpu)


def combined(cfg: OpenRSConfig, shape: ModelShape, gpu: Gpu) -> list[Fix]:
    """The strongest variant of each kind, applied in order until the run fits (one Fix, or none when even all of
    them together do not)."""
    words, overrides, current = [], [], cfg
    for kind_of in (smaller_micro_batches, checkpointing, zero3, lora, shorter_budgets):
        changes = list(kind_of(current))
        if not changes:
            continue
        fix = planned(changes[-1], shape, gpu)
        if fix is None:
            continue
        words.append(changes[-1][0])
        overrides += changes[-1][1]
        current = changes[-1][2]
        if fix.plan.verdict == Verdict.fits:
            return [Fix("; ".join(words), overrides, fix.plan)]
    return []
