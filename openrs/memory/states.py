"""Bytes per GPU of the training state: the policy's weights, its gradients, AdamW's states, and the reference
model's weights (when `algorithm.beta > 0`), by weights dtype and DeepSpeed ZeRO stage.

Without DeepSpeed (one process, or DDP), torch's AdamW keeps its two moments in the parameters' own dtype
(`torch.optim.AdamW` allocates them with `zeros_like(param)`) and there is no master copy: per trainable parameter,
a gradient and two moments of the weights' bytes (float32: 4 + 4 + 8 = 16 bytes with the weight; bfloat16: 8).
With DeepSpeed, mixed-precision Adam keeps 2 bytes of weights and 2 of gradients per parameter, plus K = 12 bytes of
float32 master weights, momentum and variance; stage 1 partitions the K bytes over the data-parallel processes,
stage 2 also the gradients, stage 3 also the weights (ZeRO, Rajbhandari et al. 2020, arXiv 1910.02054, section
3.1 and figure 1). An optimizer offloaded to the CPU holds the K bytes there, off the GPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: DeepSpeed's float32 master weights, momentum and variance per trainable parameter (ZeRO's K).
DEEPSPEED_OPTIMIZER_BYTES = 12


@dataclass(frozen=True)
class StateBytes:
    """The training state on one GPU, in bytes."""

    weights: int
    gradients: int
    optimizer: int
    reference: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.reference

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def training_state(
    params: int, trainable: int, weight_bytes: int, *, zero_stage: int | None, processes: int = 1,
    offload_optimizer: bool = False, reference: bool = False, moment_bytes: int | None = None,
) -> StateBytes:  # fmt: skip
    """The state of a model of `params` parameters, `trainable` of them trained (all, or a LoRA adapter's), with
    weights of `weight_bytes` each. `zero_stage` None: no DeepSpeed. `reference`: TRL holds a frozen copy of the
    weights for the KL term (beta > 0 without LoRA; with LoRA the adapter is switched off instead), partitioned like
    the weights. `moment_bytes`: the two moments' bytes per trained parameter without DeepSpeed (None: two of the
    weights' bytes; 8-bit optimizers: 2)."""
    if zero_stage is None:
        moments = 2 * weight_bytes if moment_bytes is None else moment_bytes
        optimizer, gradients, weights = trainable * moments, trainable * weight_bytes, params * weight_bytes
    else:
        split = max(processes, 1)
        optimizer = trainable * DEEPSPEED_OPTIMIZER_BYTES // (split if zero_stage >= 1 else 1)
        optimizer = 0 if offload_optimizer else optimizer
        gradients = trainable * weight_bytes // (split if zero_stage >= 2 else 1)
        weights = params * weight_bytes // (split if zero_stage >= 3 else 1)
    return StateBytes(weights=weights, gradients=gradients, optimizer=optimizer, reference=weights if reference else 0)
