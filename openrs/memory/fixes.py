"""The cheapest changes that make a run fit, each with its new estimate: a smaller micro-batch with more
accumulation, gradient checkpointing, ZeRO-3, a smaller (or, for a server that cannot hold a group, larger) vLLM
share, LoRA, a shorter completion budget. A change is offered only when the plan with it fits; when no single change
does, the first pair of kinds (then three, ...) in that order whose variants together make it fit."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import combinations

from openrs.config import OpenRSConfig
from openrs.errors import ConfigError
from openrs.memory.gpus import Gpu
from openrs.memory.layout import layout_of
from openrs.memory.plan import MemoryPlan, Verdict, memory_plan
from openrs.memory.rollout_share import share_for
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
    plan = memory_plan(shape, layout_of(cfg), gpu)
    share = plan.server or plan.colocated
    return math.ceil(share_for(share, plan.layout.num_generations, gpu.memory) / SHARE_STEP) * SHARE_STEP


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


Kind = Callable[[OpenRSConfig], Iterator[Change]]


def kinds(shape: ModelShape, gpu: Gpu) -> list[Kind]:
    """Each kind of change, cheapest first; each yields its variants of a config, mildest first."""
    return [smaller_micro_batches, checkpointing, zero3, lambda cfg: vllm_share_change(cfg, shape, gpu), lora,
            shorter_budgets]  # fmt: skip


def planned(change: Change, shape: ModelShape, gpu: Gpu) -> Fix | None:
    words, overrides, new = change
    try:
        return Fix(words, overrides, memory_plan(shape, layout_of(new), gpu))
    except ConfigError:  # a change the config's own rules refuse is not offered
        return None


def first_fit(cfg: OpenRSConfig, chain: tuple[Kind, ...], shape: ModelShape, gpu: Gpu) -> Fix | None:
    """The first fitting combination of one variant of each kind in `chain`, applied in order, mildest first."""

    def search(change: Change, rest: tuple[Kind, ...]) -> Fix | None:
        words, overrides, current = change
        if not rest:
            fix = planned(change, shape, gpu) if words else None
            return fix if fix is not None and fix.plan.verdict == Verdict.fits else None
        for more_words, more, changed in rest[0](current):
            found = search((f"{words}; {more_words}" if words else more_words, overrides + more, changed), rest[1:])
            if found is not None:
                return found
        return None

    return search(("", [], cfg), chain)


def suggested_fixes(cfg: OpenRSConfig, shape: ModelShape, gpu: Gpu) -> list[Fix]:
    """Every single kind of change that makes the run fit (its mildest variant), cheapest first; when none does alone,
    the first pair of kinds that does, then the first three, and so on."""
    every = kinds(shape, gpu)
    for size in range(1, len(every) + 1):
        fixes = [fix for chain in combinations(every, size) if (fix := first_fit(cfg, chain, shape, gpu))]
        if fixes:
            return fixes if size == 1 else fixes[:1]
    return []
