"""The memory plan against published GRPO layouts that ran or ran out of GPU memory (issue 15).

Each case is written as the openrs overrides of its settings; a setting the thread does not state takes the TRL
default of its time and is listed under `assumed`. Cases on TRL < 1.0 are estimated with the whole completion
logits (`fused_lm_head=False`), as that TRL computed them. Run: `python benchmarks/memory_cases.py` (CPU, seconds);
tests/test_memory_cases.py checks every verdict against what happened. Threads read through the search tool's
excerpts (2026-11-30); the recorded comparison is in benchmarks/RESULTS.md ("Memory plan against published cases").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    overrides: list[str]
    gpu_type: str
    ran: bool  # True: trained to the end on these GPUs; False: ran out of GPU memory
    what_happened: str
    fused_lm_head: bool = False  # TRL >= 1.0 (openrs's pinned TRL) computes log-probs in tiles
    assumed: list[str] = field(default_factory=list)
    published_gib: float | None = None  # a published memory figure for one training GPU
    published_is: str = ""  # what that figure is
    # the policy's weights were float32 under autocast (openrs.precision); every recorded case loaded them in the
    # compute dtype with no master copy, as TRL's scripts do and openrs did before issue 23
    master_fp32: bool = False


QWEN7B_DDP = ["model.name_or_path=Qwen/Qwen2.5-7B", "model.dtype=bfloat16", "launcher=accelerate",
              "launcher.accelerate_config=ddp", "rollout=hf", "peft=none", "algorithm=grpo_2025"]  # fmt: skip


def qwen3_alone_on_a_gpu(size: str) -> list[str]:
    """trl #3456's settings for Qwen3 of `size`: one GPU, batch 4, 2048 + 1024 tokens."""
    return [
        f"model.name_or_path=Qwen/Qwen3-{size}", "model.dtype=bfloat16", "launcher=local", "rollout=hf", "peft=none",
        "algorithm=grpo_2025", "train.per_device_train_batch_size=4", "train.gradient_accumulation_steps=1",
        "train.num_generations=4", "length.max_prompt_length=2048", "length.max_completion_length=1024",
        "train.gradient_checkpointing=false",
    ]  # fmt: skip


CASES = [
    Case(
        name="openrs GPU check, grpo_hf, 1x H200 (our own, 2026-11-29)",
        source="benchmarks/RESULTS.md, GPU check: torch.cuda.max_memory_allocated of 4 real steps (summary.json)",
        overrides=[
            "model.name_or_path=deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
            "model.dtype=bfloat16",
            "train.device=cuda",
            "train.per_device_train_batch_size=8",
            "train.num_generations=8",
            "length.max_completion_length=512",
            "length.max_prompt_length=192",
            "train.gradient_checkpointing=true",
        ],  # fmt: skip
        gpu_type="H200",
        ran=True,
        what_happened="ran 4 steps; peak 19.95 GiB allocated (torch)",
        fused_lm_head=True,
        assumed=["random weights of the same shape (so every completion ran to its 512 tokens)"],
        published_gib=19.95,
        published_is="torch.cuda.max_memory_allocated (no CUDA context)",
    ),
    Case(
        name="Open-RS recipe (exp3), 4x A40",
        source="knoveleng/open-rs recipes/grpo.yaml + accelerate_configs/zero2.yaml; README: trained in 24 h",
        overrides=["+experiment=exp3"],
        gpu_type="A40",
        ran=True,
        what_happened="ran 500 steps (3 training GPUs, ZeRO-2, 1 vLLM GPU)",
        assumed=["TRL 0.16's full logits on 6 x 3584 completion tokens"],
    ),
    Case(
        name="Qwen2.5-7B, 4x H20 (trl #2972, PR #2776)",
        source="https://github.com/huggingface/trl/issues/2972 and PR #2776 (same reporter)",
        overrides=[
            *QWEN7B_DDP,
            "launcher.num_processes=4",
            "train.per_device_train_batch_size=1",
            "train.gradient_accumulation_steps=1",
            "train.num_generations=2",
            "length.max_prompt_length=256",
            "length.max_completion_length=512",
            "train.gradient_checkpointing=false",
            "memory.gpu_memory_gib=94.99",
        ],  # fmt: skip
        gpu_type="H20",
        ran=False,
        what_happened="out of memory in AdamW's step (`_foreach_sqrt`) with 92.43 GiB allocated of 94.99",
        assumed=[
            "4 training processes under plain DDP (no DeepSpeed stated)",
            "weights in bf16",
            "no gradient checkpointing (not set)",
            "beta 0.04 (TRL's default then): a reference model",
        ],
        published_gib=92.43 + 0.13,
        published_is="allocated at the crash plus the 130 MiB asked for: a lower bound of the step's need",
    ),
    Case(
        name="Qwen3-0.6B, 1x A100 80GB (trl #3456)",
        source="https://github.com/huggingface/trl/issues/3456",
        overrides=qwen3_alone_on_a_gpu("0.6B"),  # fmt: skip
        gpu_type="A100-80GB",
        ran=True,
        what_happened="ran; nvidia-smi showed 49,273 MiB",
        assumed=[
            "one GPU, no vLLM",
            "num_generations 4 (the batch of 4 must hold whole groups)",
            "no gradient checkpointing (not set)",
            "beta 0.04 (TRL 0.17's default)",
        ],
        published_gib=49273 / 1024,
        published_is="nvidia-smi (the allocator's cache and the CUDA context included)",
    ),
    Case(
        name="Qwen3-1.7B, 1x A100 80GB (trl #3456)",
        source="https://github.com/huggingface/trl/issues/3456",
        overrides=qwen3_alone_on_a_gpu("1.7B"),  # fmt: skip
        gpu_type="A100-80GB",
        ran=True,
        what_happened="ran at the edge; nvidia-smi showed 78,147 MiB of 81,920 (later TRL versions ran out)",
        assumed=["one GPU, no vLLM", "num_generations 4", "no gradient checkpointing", "beta 0.04"],
        published_gib=78147 / 1024,
        published_is="nvidia-smi (the allocator's cache and the CUDA context included)",
    ),
    Case(
        name="Qwen2.5-Math-7B, 6+1x A100 80GB (open-r1 #496)",
        source="https://github.com/huggingface/open-r1/issues/496",
        overrides=[
            "model.name_or_path=Qwen/Qwen2.5-Math-7B",
            "model.dtype=bfloat16",
            "launcher=accelerate",
            "launcher.num_processes=6",
            "launcher.accelerate_config=zero3",
            "rollout=vllm_server",
            "rollout.gpu_memory_utilization=0.6",
            "peft=none",
            "algorithm=grpo_2025",
            "train.per_device_train_batch_size=4",
            "train.gradient_accumulation_steps=4",
            "train.num_generations=8",
            "length.max_prompt_length=1024",
            "length.max_completion_length=2048",
            "train.gradient_checkpointing=true",
        ],  # fmt: skip
        gpu_type="A100-80GB",
        ran=True,
        what_happened="trained until the host's RAM (not a GPU) overflowed at one step",
        assumed=["ZeRO-3 (open-r1's 7B GRPO recipes; the thread's config is cut off)", "beta 0.04"],
    ),
    Case(
        name="DeepSeek-R1-Distill-Qwen-7B, 8x A100 40GB (open-r1 #100)",
        source="https://github.com/huggingface/open-r1/issues/100 (the README's command then)",
        overrides=[
            "model.name_or_path=deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
            "model.dtype=bfloat16",
            "launcher=accelerate",
            "launcher.num_processes=8",
            "launcher.accelerate_config=zero3",
            "rollout=hf",
            "peft=none",
            "algorithm=grpo_2025",
            "train.per_device_train_batch_size=8",
            "train.gradient_accumulation_steps=16",
            "train.num_generations=8",
            "length.max_prompt_length=256",
            "length.max_completion_length=256",
            "train.gradient_checkpointing=false",
        ],  # fmt: skip
        gpu_type="A100",
        ran=False,
        what_happened="out of memory on A100 40GB",
        assumed=[
            "8 GPUs",
            "TRL 0.14: a batch of 1 prompt x 8 generations per GPU",
            "completion 256 (TRL's default)",
            "no gradient checkpointing (not in the command)",
            "beta 0.04",
        ],
    ),
]


def compose_config(*overrides: str):
    """The typed config `python -m openrs <overrides>` would run with."""
    from hydra import compose, initialize_config_dir

    from openrs.__main__ import CONF_DIR
    from openrs.config import OpenRSConfig, typed_config

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return typed_config(compose("config", overrides=list(overrides)), OpenRSConfig)


def estimate(case: Case):
    """The case's plan on its GPU type."""
    from openrs.memory.known import find_shape
    from openrs.memory.layout import layout_of
    from openrs.memory.plan import memory_plan
    from openrs.memory.report import gpu_of

    cfg = compose_config(*case.overrides, f"cost.gpu_type={case.gpu_type}")
    gpu, _ = gpu_of(cfg)
    shape = find_shape(str(cfg.model.name_or_path), online=False).shape
    layout = dataclasses.replace(layout_of(cfg), master_fp32=case.master_fp32)
    return memory_plan(shape, layout, gpu, fused_lm_head=case.fused_lm_head)


def comparable_gib(case: Case, plan) -> float:
    """The estimate as the published figure counts: torch's own peak leaves out the CUDA context and NCCL."""
    from openrs.memory.gpus import GIB

    leave_out = plan.training.overhead if "max_memory_allocated" in case.published_is else 0
    return (plan.training.peak - leave_out) / GIB


def main() -> int:
    from openrs.memory.gpus import GIB

    print("| case | what happened | estimate per training GPU | verdict | published figure | error |")
    print("|---|---|---|---|---|---|")
    for case in CASES:
        plan = estimate(case)
        peak = comparable_gib(case, plan)
        figure, error = "", ""
        if case.published_gib is not None:
            figure = f"{case.published_gib:.1f} GiB ({case.published_is})"
            error = f"{(peak - case.published_gib) / case.published_gib:+.1%}"
        print(f"| {case.name} | {case.what_happened} | {peak:.1f} of {plan.gpu.memory / GIB:.1f} GiB "
              f"({plan.training.peak / plan.gpu.memory:.0%}) | {plan.verdict} | {figure} | {error} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
