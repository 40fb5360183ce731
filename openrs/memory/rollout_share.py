"""vLLM's memory: colocated, a fraction of the training GPU; as a server, its own GPU. Either way vLLM takes
`gpu_memory_utilization` of the GPU's total and, after its weights and a profiled forward pass, fills the rest with
KV cache. It refuses to start when that cache cannot hold one sequence of `max_model_length` tokens; fewer
sequences than a GRPO group at once only makes generation slower (vLLM queues the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

from openrs.memory.activations import kv_cache_bytes
from openrs.memory.gpus import GIB
from openrs.memory.shape import ModelShape

#: Tokens per forward pass that vLLM profiles: TRL 1.16's colocated engine sets 4096
#: (trl/generation/vllm_generation.py); `vllm serve` (the server) defaults to 8192 for large GPUs.
COLOCATE_BATCHED_TOKENS = 4096
SERVER_BATCHED_TOKENS = 8192
#: vLLM's default max_num_seqs: the sampler's profiled logits are this many rows of the vocabulary, in float32.
MAX_NUM_SEQS = 256
#: CUDA graphs (enforce_eager=false) and vLLM's non-torch memory: an allowance, not a measurement.
CUDA_GRAPHS_BYTES = GIB // 2
NON_TORCH_BYTES = GIB // 2


@dataclass(frozen=True)
class VllmShare:
    """vLLM's part of one GPU, in bytes, and how many full-length sequences its KV cache holds."""

    total: int
    weights: int
    runtime: int
    kv_cache: int
    per_sequence: int  # KV cache bytes of one max-length sequence

    @property
    def sequences(self) -> float:
        """Max-length sequences the KV cache holds at once."""
        return self.kv_cache / self.per_sequence

    def as_dict(self) -> dict[str, float]:
        return {"total": self.total, "weights": self.weights, "runtime": self.runtime, "kv_cache": self.kv_cache,
                "sequences_at_once": round(self.sequences, 1)}  # fmt: skip


def runtime_bytes(shape: ModelShape, d: int, batched_tokens: int, eager: bool) -> int:
    """The profiled forward pass (its largest MLP intermediates), the sampler's logits, and the allowances."""
    forward = batched_tokens * (3 * shape.intermediate_size + 4 * shape.hidden_size) * d
    sampler = 2 * MAX_NUM_SEQS * shape.vocab_size * 4
    return forward + sampler + NON_TORCH_BYTES + (0 if eager else CUDA_GRAPHS_BYTES)


def vllm_share(
    shape: ModelShape, *, gpu_memory: int, utilization: float, max_model_length: int, d: int, server: bool,
    eager: bool, tensor_parallel: int = 1,
) -> VllmShare:  # fmt: skip
    """vLLM's share of each of its GPUs (the weights and KV cache split over `tensor_parallel` GPUs)."""
    total = int(utilization * gpu_memory)
    weights = shape.parameters() * d // tensor_parallel
    runtime = runtime_bytes(shape, d, SERVER_BATCHED_TOKENS if server else COLOCATE_BATCHED_TOKENS, eager)
    kv_cache = max(0, total - weights - runtime)
    per_sequence = kv_cache_bytes(shape, tokens=max_model_length, d=d) // tensor_parallel
    return VllmShare(total=total, weights=weights, runtime=runtime, kv_cache=kv_cache,
                     per_sequence=per_sequence)  # fmt: skip


def share_for(share: VllmShare, sequences: int, gpu_memory: int) -> float:
    """The fraction of the GPU (`gpu_memory_utilization`) whose KV cache would hold `sequences` full-length sequences
    beside `share`'s weights and runtime."""
    return (share.weights + share.runtime + sequences * share.per_sequence) / gpu_memory
