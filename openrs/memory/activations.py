"""Bytes of what a training step keeps for its backward pass, of the LM head's log-prob buffers and of generation's
KV cache, per GPU (TRL 1.16's GRPOTrainer over transformers 5).

The per-token, per-layer count is what a Qwen2/Llama/Qwen3 decoder layer saves for backward, tensor by tensor:
- each RMSNorm: its float32 input, its output cast back (`d` bytes) and the weight-scaled output: `4h + 2dh`;
- attention with an O(T) kernel (flash attention 2, or sdpa's flash kernel): the rotated q and k, v, the output and
  the float32 log-sum-exp per head: `d(2q + 2kv) + 4 heads`; eager attention adds the `heads x T` probabilities
  (float32 and `d`) and the repeated k/v: `heads T (4 + d) + 2(q - kv)d - 4 heads`;
- the gated MLP: gate and up outputs, the activation, and down's input: `4dI`;
- Qwen3's per-head q/k norms: `(4 + d)(q + kv) + 4(heads + kv_heads)`;
- a LoRA adapter on a layer (PEFT's float32 adapters under bf16 autocast): `4h + 2r` per adapted projection, plus a
  float32 copy of each adapted projection's input when `lora_dropout > 0`.
These were counted with `torch.autograd.graph.saved_tensors_hooks` on real forwards (tests/test_memory_activations.py
checks them on every family, dtype, attention and LoRA variant).

Gradient checkpointing (non-reentrant, per decoder layer) keeps only each layer's input (`dh` per token per layer)
and recomputes one layer at a time in the backward pass. At the backward pass's peak, a recomputed layer and its
activation gradients add two layers' worth to what is kept; without checkpointing, half a layer's. Measured with
torch's memory profiler on CPU: 1.5-1.8 and 0.2-0.4 layers (tests/test_memory_activations.py).

TRL 1.16 never builds the `tokens x vocab` logits: its fused LM head (`trl.trainer.utils.add_fused_lm_head`) scores
the completion tokens in tiles of 4096 tokens x 32768 vocabulary entries (a buffer that size whatever the
vocabulary), and its backward pass adds a float32 gradient of the hidden states and, when the head is trained (full
fine-tuning), a float32 gradient of the head's weight and its cast back. Older TRL (< 1.0) built the whole logits of
the completion tokens (`fused=False`, kept for comparing published cases): about three `tokens x vocab` tensors of
`d` bytes (the logits, their temperature-scaled copy and the log-softmax kept for backward).
"""

from __future__ import annotations

from dataclasses import dataclass

from openrs.memory.shape import ModelShape, projection_shapes

#: TRL 1.16 `trl/kernels/chunked_logprob.py`: TOKEN_CHUNK_SIZE tokens x `_CHUNKED_LOGPROB_CHUNK_SIZE` vocabulary.
LM_HEAD_TILE_TOKENS = 4096
LM_HEAD_TILE_VOCAB = 32768


@dataclass(frozen=True)
class LoraShape:
    """What the activation count needs of a LoRA adapter."""

    rank: int
    target_modules: tuple[str, ...]
    dropout: bool


def attention_bytes(shape: ModelShape, d: int, attention: str, seq_len: int) -> int:
    """Per token per layer: what attention keeps (the q/k/v projections' shared input is counted with the norm)."""
    q, kv = shape.num_heads * shape.head_dim, shape.num_kv_heads * shape.head_dim
    kept = d * (2 * q + 2 * kv) + 4 * shape.num_heads
    if attention == "eager":
        kept += shape.num_heads * seq_len * (4 + d) + 2 * (q - kv) * d - 4 * shape.num_heads
    if shape.qk_norm:
        kept += (4 + d) * (q + kv) + 4 * (shape.num_heads + shape.num_kv_heads)
    return kept


def lora_bytes(shape: ModelShape, lora: LoraShape | None) -> int:
    """Per token per layer: what a LoRA adapter adds."""
    if lora is None:
        return 0
    projections = projection_shapes(shape)
    targeted = [name for name in projections if name in lora.target_modules]
    extra = 4 * shape.hidden_size + 2 * lora.rank * len(targeted)
    if lora.dropout:
        extra += 4 * sum(projections[name][0] for name in targeted)
    return extra


#: Per token and hidden unit, what float32 weights under bf16 autocast keep beyond bf16 weights: the residual
#: stream stays float32, so each RMSNorm keeps its float32 product with the weight and a bf16 cast of it (measured
#: on Qwen2, Llama and Qwen3, tests/test_memory_activations.py): per layer (two norms) and for the final norm.
FP32_RESIDUAL_LAYER = 10
FP32_RESIDUAL_FINAL = 4


def layer_bytes(shape: ModelShape, d: int, attention: str, seq_len: int, lora: LoraShape | None = None,
                fp32_residual: bool = False) -> int:  # fmt: skip
    """Bytes one decoder layer keeps for backward, per token (`d`: bytes of an activation, 2 for bf16/fp16;
    `fp32_residual`: float32 weights under autocast)."""
    norms = 2 * (4 * shape.hidden_size + 2 * d * shape.hidden_size) + 8  # two RMSNorms and their rsqrt
    norms += FP32_RESIDUAL_LAYER * shape.hidden_size if fp32_residual and d < 4 else 0
    mlp = 4 * d * shape.intermediate_size
    return norms + attention_bytes(shape, d, attention, seq_len) + mlp + lora_bytes(shape, lora)


def final_norm_bytes(shape: ModelShape, d: int, fp32_residual: bool = False) -> int:
    """Per token: the final norm and the hidden state the LM head keeps."""
    extra = FP32_RESIDUAL_FINAL * shape.hidden_size if fp32_residual and d < 4 else 0
    return 4 * shape.hidden_size + 2 * d * shape.hidden_size + extra


@dataclass(frozen=True)
class ActivationBytes:
    """A micro-batch's activations on one GPU, in bytes."""

    kept: int  # what the forward keeps until the backward (layer inputs only, with checkpointing)
    working: int  # one layer recomputed (checkpointing) and its activation gradients

    @property
    def total(self) -> int:
        return self.kept + self.working


def training_activations(
    shape: ModelShape, *, tokens: int, seq_len: int, d: int, attention: str, checkpointing: bool,
    lora: LoraShape | None = None, fp32_residual: bool = False,
) -> ActivationBytes:  # fmt: skip
    """Activations of a forward and backward pass over `tokens` tokens (micro-batch x padded sequence length);
    `fp32_residual`: float32 weights under autocast, whose residual stream (the checkpointed inputs) is float32."""
    layer = layer_bytes(shape, d, attention, seq_len, lora, fp32_residual) * tokens
    head = final_norm_bytes(shape, d, fp32_residual) * tokens
    if checkpointing:
        residual = 4 if fp32_residual else d
        inputs = shape.num_layers * residual * shape.hidden_size * tokens
        return ActivationBytes(kept=inputs + head, working=2 * layer)
    return ActivationBytes(kept=shape.num_layers * layer + head, working=layer // 2)


def lm_head_bytes(shape: ModelShape, *, scored: int, d: int, head_trained: bool, fused: bool) -> int:
    """The log-prob computation's own buffers at its peak (the backward pass), for `scored` completion tokens."""
    if not fused:
        return 3 * scored * shape.vocab_size * d
    tile = min(scored, LM_HEAD_TILE_TOKENS) * LM_HEAD_TILE_VOCAB * d
    hidden_gradient = 4 * scored * shape.hidden_size
    head_gradient = (4 + d) * shape.vocab_size * shape.hidden_size if head_trained else 0
    return tile + hidden_gradient + head_gradient


def kv_cache_bytes(shape: ModelShape, *, tokens: int, d: int) -> int:
    """Keys and values of `tokens` tokens over every layer."""
    return tokens * shape.num_layers * 2 * shape.num_kv_heads * shape.head_dim * d
