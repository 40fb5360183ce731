"""One training GPU's memory by part and by phase of a GRPO step, from a model's shape and a run's layout.

A step has three phases that do not overlap: generation (the hf backend's KV cache; vLLM's share is held all along),
the forward and backward passes of each micro-batch (activations, the log-prob buffers, gradients), and the optimizer
step. The peak is the largest phase, plus what the CUDA context and NCCL take outside torch's allocator, plus a
colocated vLLM's share.
"""

from __future__ import annotations

from dataclasses import dataclass

from openrs.memory.activations import kv_cache_bytes, lm_head_bytes, training_activations
from openrs.memory.gpus import GIB
from openrs.memory.layout import Layout
from openrs.memory.shape import ModelShape, lora_parameters
from openrs.memory.states import training_state

#: DeepSpeed's default reduce_bucket_size (elements): ZeRO-1/2 keep one contiguous gradient bucket this big.
DEEPSPEED_BUCKET_ELEMENTS = 500_000_000
#: PEFT keeps LoRA adapters in float32: weight, gradient and AdamW's two moments.
LORA_BYTES_PER_PARAMETER = 16
#: Outside torch's allocator: the CUDA context and cuBLAS workspaces; NCCL's buffers when processes talk.
CUDA_CONTEXT_BYTES = GIB // 2
NCCL_BYTES = GIB // 2


@dataclass(frozen=True)
class TrainingGpu:
    """Bytes on one training GPU: each part, and the peak."""

    parts: dict[str, int]
    phases: dict[str, int]
    overhead: int
    vllm: int
    activations_other: int  # the activations with gradient checkpointing switched the other way

    @property
    def peak(self) -> int:
        return max(self.phases.values()) + self.overhead + self.vllm


def moment_bytes(optim: str, weight_bytes: int) -> int:
    """Bytes of AdamW's two moments per trained parameter without DeepSpeed (8-bit optimizers: one byte each)."""
    return 2 if "8bit" in optim else 2 * weight_bytes


def step_temporaries(layout: Layout, trained_here: int, moment_size: int) -> int:
    """torch's multi-tensor AdamW (`adamw_torch`) allocates a square root of every second moment during the step
    (`torch._foreach_sqrt`); the fused kernels and 8-bit optimizers do not."""
    if "fused" in layout.optim or "8bit" in layout.optim:
        return 0
    return trained_here * moment_size


def weight_bytes(layout: Layout) -> int:
    """Bytes of one of the policy's own weights (and of its gradient): float32 master weights, else `d`."""
    return 4 if layout.master_fp32 else layout.d


def state_parts(shape: ModelShape, layout: Layout) -> tuple[dict[str, int], int]:
    """Weights, reference, gradients and optimizer on this GPU, and the step's temporaries. With float32 master
    weights under autocast, the reference is cast to the compute dtype and the forward keeps a bf16 copy of every
    decoder layer's weights for the backward (autocast's casts; the embedding is not cast, and the fused LM head casts
    in tiles: measured, tests/test_memory_activations.py)."""
    params, ds, d, w = shape.parameters(), layout.deepspeed, layout.d, weight_bytes(layout)
    trainable = 0 if layout.lora else params
    moments = moment_bytes(layout.optim, w)
    state = training_state(params, trainable, w, zero_stage=ds.zero_stage, processes=layout.processes,
                           offload_optimizer=ds.offload_optimizer, reference=layout.reference,
                           moment_bytes=moments)  # fmt: skip
    reference = params * d if layout.master_fp32 and layout.reference else state.reference
    copies = shape.num_layers * shape.layer_parameters() * d if layout.master_fp32 else 0
    parts = {"weights": state.weights, "reference": reference, "gradients": state.gradients,
             "optimizer": state.optimizer, "autocast_copies": copies}  # fmt: skip
    if ds.zero_stage is None:
        trained_here, moment_size = trainable, moments // 2
    else:
        split = layout.processes if ds.zero_stage >= 1 else 1
        trained_here, moment_size = (0 if ds.offload_optimizer else trainable // split), 4
    if layout.lora:
        adapter = lora_parameters(shape, layout.lora.rank, list(layout.lora.target_modules))
        parts["adapter"] = adapter * LORA_BYTES_PER_PARAMETER
        trained_here, moment_size = adapter, 4
    return parts, step_temporaries(layout, trained_here, moment_size)


def communication_buffers(shape: ModelShape, layout: Layout) -> int:
    """DeepSpeed ZeRO-1/2's contiguous gradient bucket (any process count), or, for several DDP processes, DDP's
    gradient buckets: a second copy of every trained gradient (LoRA: the adapter's, counted with it)."""
    if layout.lora:
        return 0
    stage = layout.deepspeed.zero_stage
    if stage is None:
        return shape.parameters() * weight_bytes(layout) if layout.processes > 1 else 0
    return min(DEEPSPEED_BUCKET_ELEMENTS, shape.parameters()) * layout.d if stage < 3 else 0


def generation_bytes(shape: ModelShape, layout: Layout) -> int:
    """The hf backend's KV cache and sampling logits for its generation batch (ZeRO-3 also gathers the weights)."""
    if layout.rollout != "hf":
        return 0
    sequences = layout.generation_sequences
    cache = kv_cache_bytes(shape, tokens=sequences * (layout.prompt_length + layout.completion_length), d=layout.d)
    logits = 2 * sequences * shape.vocab_size * 4
    gathered = shape.parameters() * layout.d if layout.deepspeed.zero_stage == 3 else 0
    return cache + logits + gathered


def activation_parts(shape: ModelShape, layout: Layout, checkpointing: bool) -> int:
    seq_len = layout.prompt_length + layout.completion_length
    return training_activations(shape, tokens=layout.tokens, seq_len=seq_len, d=layout.d, attention=layout.attention,
                                checkpointing=checkpointing, lora=layout.lora,
                                fp32_residual=layout.master_fp32).total  # fmt: skip


def training_gpu(shape: ModelShape, layout: Layout, vllm_bytes: int = 0, fused_lm_head: bool = True) -> TrainingGpu:
    """Every part on one training GPU (`vllm_bytes`: a colocated vLLM's share; `fused_lm_head=False`: TRL < 1.0,
    for published cases)."""
    parts, temporaries = state_parts(shape, layout)
    parts["buffers"] = communication_buffers(shape, layout)
    parts["activations"] = activation_parts(shape, layout, layout.checkpointing)
    scored = layout.per_device_batch * layout.completion_length
    parts["log_probs"] = lm_head_bytes(shape, scored=scored, d=layout.d, head_trained=layout.lora is None,
                                       fused=fused_lm_head)  # fmt: skip
    parts["step_temporaries"] = temporaries
    parts["generation"] = generation_bytes(shape, layout)
    held = parts["weights"] + parts["reference"] + parts["optimizer"] + parts.get("adapter", 0)
    with_gradients = held + parts["gradients"] + parts["buffers"]
    phases = {
        "generation": held + parts["generation"],
        "forward_backward": with_gradients + parts["activations"] + parts["log_probs"] + parts["autocast_copies"],
        "optimizer_step": with_gradients + temporaries,
    }
    overhead = CUDA_CONTEXT_BYTES + (NCCL_BYTES if layout.processes > 1 or layout.rollout == "server" else 0)
    return TrainingGpu(parts=parts, phases=phases, overhead=overhead, vllm=vllm_bytes,
                       activations_other=activation_parts(shape, layout, not layout.checkpointing))  # fmt: skip
