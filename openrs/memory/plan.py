"""The memory plan of a run: each GPU's estimate, the verdict against the GPU type, and the cheapest changes that
make a run fit (docs/MEMORY.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from openrs.memory.estimate import TrainingGpu, training_gpu
from openrs.memory.gpus import GIB, Gpu
from openrs.memory.layout import Layout
from openrs.memory.rollout_share import VllmShare, vllm_share
from openrs.memory.shape import ModelShape

#: Above this fraction of a GPU the estimate is "tight": the caching allocator's fragmentation and the estimate's own
#: error (docs/MEMORY.md) can take the rest.
TIGHT_FRACTION = 0.9


class Verdict(StrEnum):
    fits = "fits"
    tight = "tight"
    does_not_fit = "does not fit"


def verdict_of(used: int, memory: int) -> Verdict:
    if used <= TIGHT_FRACTION * memory:
        return Verdict.fits
    return Verdict.tight if used <= memory else Verdict.does_not_fit


def worst(*verdicts: Verdict) -> Verdict:
    order = [Verdict.fits, Verdict.tight, Verdict.does_not_fit]
    return max(verdicts, key=order.index)


def vllm_verdict(share: VllmShare, num_generations: int) -> Verdict:
    """vLLM cannot start without room for one full-length sequence; fewer than a group at once is slower, not fatal."""
    if share.sequences < 1:
        return Verdict.does_not_fit
    return Verdict.fits if share.sequences >= num_generations else Verdict.tight


@dataclass(frozen=True)
class MemoryPlan:
    """Every GPU's estimate for one layout on one GPU type."""

    gpu: Gpu
    training: TrainingGpu
    server: VllmShare | None  # vLLM server GPU (server mode)
    colocated: VllmShare | None  # vLLM share of the training GPU (colocate mode)
    layout: Layout

    @property
    def training_verdict(self) -> Verdict:
        verdict = verdict_of(self.training.peak, self.gpu.memory)
        if self.colocated is not None:
            verdict = worst(verdict, vllm_verdict(self.colocated, self.layout.num_generations))
        return verdict

    @property
    def server_verdict(self) -> Verdict | None:
        return None if self.server is None else vllm_verdict(self.server, self.layout.num_generations)

    @property
    def verdict(self) -> Verdict:
        return worst(self.training_verdict, *([self.server_verdict] if self.server_verdict else []))


def memory_plan(shape: ModelShape, layout: Layout, gpu: Gpu, fused_lm_head: bool = True) -> MemoryPlan:
    """The plan of `layout` on GPUs of type `gpu`."""

    def share(server: bool) -> VllmShare:
        return vllm_share(shape, gpu_memory=gpu.memory, utilization=layout.vllm_utilization, d=layout.d,
                          max_model_length=layout.max_model_length, server=server, eager=layout.vllm_eager,
                          tensor_parallel=layout.vllm_tensor_parallel if server else 1)  # fmt: skip

    colocated = share(server=False) if layout.rollout == "colocate" else None
    server = share(server=True) if layout.rollout == "server" else None
    training = training_gpu(shape, layout, colocated.total if colocated else 0, fused_lm_head)
    return MemoryPlan(gpu=gpu, training=training, server=server, colocated=colocated, layout=layout)


def gib(value: int) -> float:
    return round(value / GIB, 2)


def plan_dict(plan: MemoryPlan) -> dict[str, Any]:
    """The plan as JSON-ready data (GiB), for the dry run."""
    training = plan.training
    result: dict[str, Any] = {
        "verdict": plan.verdict.value,
        "gpu": {"type": plan.gpu.name, "memory_gib": gib(plan.gpu.memory)},
        "training_gpu": {
            "count": plan.layout.processes,
            "peak_gib": gib(training.peak),
            "fraction_of_gpu": round(training.peak / plan.gpu.memory, 3),
            "verdict": plan.training_verdict.value,
            "parts_gib": {name: gib(value) for name, value in training.parts.items()},
            "phases_gib": {name: gib(value) for name, value in training.phases.items()},
            "overhead_gib": gib(training.overhead),
            "colocated_vllm_gib": gib(training.vllm),
            "activations_with_checkpointing_gib": gib(
                training.parts["activations"] if plan.layout.checkpointing else training.activations_other
            ),  # fmt: skip
            "activations_without_checkpointing_gib": gib(
                training.activations_other if plan.layout.checkpointing else training.parts["activations"]
            ),  # fmt: skip
        },
    }
    for label, share in (("colocated_vllm", plan.colocated), ("vllm_server_gpu", plan.server)):
        if share is not None:
            result[label] = {name: (gib(value) if name != "sequences_at_once" else value)
                             for name, value in share.as_dict().items()}  # fmt: skip
            result[label]["group_size"] = plan.layout.num_generations
    if plan.server is not None:
        result["vllm_server_gpu"]["count"] = plan.layout.vllm_server_gpus
        result["vllm_server_gpu"]["verdict"] = plan.server_verdict.value
    return result
