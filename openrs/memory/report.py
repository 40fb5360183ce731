"""The memory plan as the dry run's JSON and as the pre-flight's lines, and the check that stops a run that cannot fit
before anything is downloaded."""

from __future__ import annotations

import logging
from typing import Any

from openrs.config import Device, MemoryCheck, OpenRSConfig
from openrs.errors import ConfigError
from openrs.memory.fixes import Fix, suggested_fixes
from openrs.memory.gpus import GIB, Gpu, detected_gpu, known_cards, known_gpu
from openrs.memory.known import find_shape
from openrs.memory.layout import Layout, layout_of
from openrs.memory.plan import MemoryPlan, Verdict, gib, memory_plan, plan_dict, vllm_verdict
from openrs.memory.rollout_share import VllmShare

log = logging.getLogger(__name__)


def gpu_of(cfg: OpenRSConfig) -> tuple[Gpu | None, str]:
    """The GPU type to judge against, and where it came from (or why there is none)."""
    gpu_type, override = cfg.cost.gpu_type, cfg.memory.gpu_memory_gib
    if gpu_type:
        if override is not None:
            return Gpu(gpu_type, int(override * GIB)), "cost.gpu_type with memory.gpu_memory_gib"
        found = known_gpu(gpu_type)
        if found is None:
            return None, (f"cost.gpu_type={gpu_type} is not in the table ({known_cards()}): give its memory with "
                          "memory.gpu_memory_gib=<GiB>")  # fmt: skip
        return found, "cost.gpu_type"
    if cfg.train.device == Device.cpu:
        return None, "a CPU run (train.device=cpu)"
    if override is not None:
        return Gpu(f"a {override:g} GiB GPU", int(override * GIB)), "memory.gpu_memory_gib"
    detected = detected_gpu()
    if detected is None:
        return None, "no GPU here and no cost.gpu_type: add cost.gpu_type=A40 (or another card) to judge a GPU run"
    return detected, "the GPU torch sees"


def judged(cfg: OpenRSConfig, online: bool) -> tuple[MemoryPlan | None, list[Fix], dict[str, Any]]:
    """The plan (None when it cannot be judged), its fixes when it does not fit comfortably, and its JSON."""
    gpu, gpu_source = gpu_of(cfg)  # first: without a GPU type to judge against, nothing is fetched
    found = find_shape(str(cfg.model.name_or_path), cfg.model.revision, online=online and gpu is not None)
    model = {"name": str(cfg.model.name_or_path), "shape_from": found.source}
    if found.shape is not None:
        model["parameters"] = found.shape.parameters()
    if found.shape is None or gpu is None:
        why = found.source if found.shape is None else gpu_source
        return None, [], {"verdict": "not judged", "why": why, "model": model}
    plan = memory_plan(found.shape, layout_of(cfg), gpu)
    fixes = suggested_fixes(cfg, found.shape, gpu) if plan.verdict != Verdict.fits else []
    section = {**plan_dict(plan), "model": model}
    section["gpu"]["from"] = gpu_source
    section["fixes"] = [fix_dict(fix) for fix in fixes]
    return plan, fixes, section


def fix_dict(fix: Fix) -> dict[str, Any]:
    peak = gib(fix.plan.training.peak)
    return {"change": fix.change, "overrides": fix.overrides, "training_peak_gib": peak, "verdict": fix.plan.verdict}


def memory_section(cfg: OpenRSConfig, online: bool = True) -> dict[str, Any]:
    """The dry run's `memory` entry."""
    return judged(cfg, online)[2]


def part_words(parts: dict[str, int]) -> str:
    labels = {
        "log_probs": "log-probs",
        "step_temporaries": "optimizer-step temporaries",
        "buffers": "comm buffers",
        "autocast_copies": "bf16 weight copies (autocast)",
    }
    return ", ".join(f"{labels.get(name, name)} {value / GIB:.1f}" for name, value in parts.items() if value)


def share_line(label: str, share: VllmShare, layout: Layout) -> str:
    return (
        f"  {label}: {share.total / GIB:.1f} = weights {share.weights / GIB:.1f}, runtime {share.runtime / GIB:.1f}, "
        f"KV cache {share.kv_cache / GIB:.1f} = {share.sequences:.0f} sequences of {layout.max_model_length} tokens "
        f"at once (a group is {layout.num_generations}): {vllm_verdict(share, layout.num_generations)}"
    )


def plan_lines(plan: MemoryPlan, source: str) -> list[str]:
    """The plan in a few lines (GiB per GPU)."""
    training, layout = plan.training, plan.layout
    other = "without" if layout.checkpointing else "with"
    lines = [
        f"Memory plan per GPU, {plan.gpu.name} ({plan.gpu.memory / GIB:.1f} GiB, from {source}); estimates in GiB, "
        "docs/MEMORY.md:",
        f"  training GPU x{layout.processes}: {part_words(training.parts)}; CUDA/NCCL {training.overhead / GIB:.1f}"
        + (f"; colocated vLLM {training.vllm / GIB:.1f}" if training.vllm else "")
        + f" -> peak {training.peak / GIB:.1f} ({training.peak / plan.gpu.memory:.0%}, in the "
        + f"{max(training.phases, key=training.phases.get).replace('_', '/')} phase): {plan.training_verdict}",
        f"    activations {other} gradient checkpointing would be {training.activations_other / GIB:.1f}",
    ]
    server = f"vLLM server GPU x{layout.vllm_server_gpus}"
    for label, share in (("colocated vLLM", plan.colocated), (server, plan.server)):
        if share is not None:
            lines.append(share_line(label, share, layout))
    lines.append(f"  verdict: {plan.verdict}")
    return lines


def fix_lines(fixes: list[Fix]) -> list[str]:
    if not fixes:
        return ["  No change openrs knows makes it fit: use a GPU with more memory, or more GPUs."]
    lines = ["  Changes that make it fit, cheapest first (training GPU peak with each):"]
    for fix in fixes:
        lines.append(f"  - {fix.change}: {' '.join(fix.overrides)} -> {fix.plan.training.peak / GIB:.1f} GiB, "
                     f"{fix.plan.verdict}")  # fmt: skip
    return lines


def check_memory(cfg: OpenRSConfig, cuda_available: bool) -> None:
    """Print the plan of a GPU run before launch; stop one that does not fit (memory.check=stop) before any
    download. A run that trains on the CPU has no plan."""
    if cfg.memory.check == MemoryCheck.off or not cuda_available or cfg.train.device == Device.cpu:
        return
    plan, fixes, section = judged(cfg, online=True)
    if plan is None:
        log.info("Memory plan: not judged (%s).", section["why"])
        return
    lines = plan_lines(plan, section["gpu"]["from"])
    if plan.verdict != Verdict.fits:
        lines += fix_lines(fixes)
    if plan.verdict == Verdict.does_not_fit and cfg.memory.check == MemoryCheck.stop:
        raise ConfigError(
            "This run would run out of GPU memory; nothing was downloaded.\n"
            + "\n".join(lines)
            + "\nTo launch anyway (the plan is an estimate), add memory.check=warn."
        )
    for line in lines:
        log.info(line)
