"""The numbers of a run that its memory depends on, read once from the typed config (and its accelerate file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openrs.accelerate_files import DeepSpeedSettings, deepspeed_settings, effective_accelerate_config
from openrs.config import LauncherName, OpenRSConfig, RolloutBackend, VllmMode
from openrs.memory.activations import LoraShape
from openrs.plan import vllm_max_model_length
from openrs.precision import training_precision


@dataclass(frozen=True)
class Layout:
    """One training GPU's workload and the rollout's placement."""

    d: int  # bytes of a weight and an activation (2: bf16/fp16 on a GPU)
    master_fp32: bool  # the policy's own weights are float32 under bf16/fp16 autocast (openrs.precision)
    processes: int
    deepspeed: DeepSpeedSettings
    per_device_batch: int
    generation_sequences: int  # sequences one process generates at once with the hf backend
    prompt_length: int
    completion_length: int
    checkpointing: bool
    attention: str
    optim: str
    reference: bool
    lora: LoraShape | None
    rollout: str  # hf, colocate or server
    vllm_utilization: float
    vllm_eager: bool
    vllm_tensor_parallel: int
    vllm_server_gpus: int
    max_model_length: int
    num_generations: int

    @property
    def tokens(self) -> int:
        """Tokens of a training micro-batch when one completion uses the whole budget (the batch is padded to it)."""
        return self.per_device_batch * (self.prompt_length + self.completion_length)


def rollout_kind(cfg: OpenRSConfig) -> str:
    if cfg.rollout.backend != RolloutBackend.vllm:
        return "hf"
    return "server" if cfg.rollout.vllm_mode == VllmMode.server else "colocate"


def layout_of(cfg: OpenRSConfig) -> Layout:
    """The layout of a GPU run of `cfg` (dtype `auto` counts as bfloat16, as on a GPU)."""
    peft, train = cfg.peft, cfg.train
    lora = LoraShape(peft.r, tuple(peft.target_modules), peft.lora_dropout > 0) if peft.enabled else None
    deepspeed = DeepSpeedSettings()
    if cfg.launcher.name == LauncherName.accelerate:
        deepspeed = deepspeed_settings(Path(effective_accelerate_config(cfg)))
    return Layout(
        d=cfg.model.dtype.on("cuda").bytes_per_param,
        master_fp32=training_precision(cfg).master_weights == "policy",
        processes=cfg.launcher.training_processes,
        deepspeed=deepspeed,
        per_device_batch=train.per_device_train_batch_size,
        generation_sequences=train.per_device_train_batch_size * train.gradient_accumulation_steps,
        prompt_length=cfg.length.max_prompt_length,
        completion_length=cfg.length.max_completion_length,
        checkpointing=train.gradient_checkpointing,
        attention=cfg.model.attn_implementation.value,
        optim=cfg.optimizer.optim,
        reference=cfg.algorithm.beta > 0 and not peft.enabled,
        lora=lora,
        rollout=rollout_kind(cfg),
        vllm_utilization=cfg.rollout.gpu_memory_utilization,
        vllm_eager=cfg.rollout.enforce_eager,
        vllm_tensor_parallel=cfg.rollout.tensor_parallel_size,
        vllm_server_gpus=cfg.rollout.reserved_server_gpus,
        max_model_length=vllm_max_model_length(cfg),
        num_generations=train.num_generations,
    )
