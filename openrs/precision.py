"""How training holds and computes its weights, decided once from the model group and the layout.

`model.dtype` is the compute dtype. In bfloat16 (or float16) the optimizer must still update float32 weights: at the
paper's learning rate (1e-6) most AdamW updates of a bf16 weight are smaller than half its spacing and round away
(benchmarks/RESULTS.md, "fp32 master weights"). Who keeps that float32 copy depends on the layout:

* DeepSpeed (ZeRO 0-3): its optimizer keeps float32 master weights of the bf16 model, so the policy loads in bf16;
* LoRA: only the adapters train, and PEFT keeps them in float32 (`autocast_adapter_dtype`; TRL turns it off only
  under ZeRO-3, where DeepSpeed keeps the master copy); the frozen base loads in bf16;
* otherwise (one process, DDP, beside a vLLM server): the policy loads in float32 and trains under bf16 autocast;
  the frozen reference model is cast to the compute dtype (it is only ever run under autocast).

The trainer's mixed-precision flag and accelerate's `--mixed_precision` both follow `model.dtype`, whatever the
accelerate config file says (a DeepSpeed config with bf16 and a float32 model made transformers refuse the start).
"""

from __future__ import annotations

from dataclasses import dataclass

from openrs.accelerate_files import uses_deepspeed
from openrs.config import OpenRSConfig


@dataclass(frozen=True)
class Precision:
    """The dtype TRL loads the policy in, accelerate's mixed precision, and who keeps the float32 weights."""

    load_dtype: str  # model_init_kwargs["dtype"]: the policy (and TRL's reference model) as loaded
    mixed_precision: str  # accelerate's and the trainer's: "no", "bf16" or "fp16"
    master_weights: str  # policy (float32 training weights), deepspeed, lora_adapters, or float32 (no mixed precision)

    @property
    def cast_reference(self) -> bool:
        """Whether the reference model, loaded in float32 with the policy, is cast down to the compute dtype."""
        return self.master_weights == "policy"

    def as_dict(self) -> dict[str, str]:
        return {"load_dtype": self.load_dtype, "mixed_precision": self.mixed_precision,
                "master_weights": self.master_weights}  # fmt: skip


def training_precision(cfg: OpenRSConfig) -> Precision:
    """The precision of a training run of `cfg` (see the module docstring)."""
    dtype = cfg.model.dtype
    mixed = dtype.mixed_precision
    if mixed is None:
        return Precision(load_dtype=dtype.value, mixed_precision="no", master_weights="float32")
    if uses_deepspeed(cfg):
        return Precision(load_dtype=dtype.value, mixed_precision=mixed, master_weights="deepspeed")
    if cfg.peft.enabled:
        return Precision(load_dtype=dtype.value, mixed_precision=mixed, master_weights="lora_adapters")
    return Precision(load_dtype="float32", mixed_precision=mixed, master_weights="policy")
