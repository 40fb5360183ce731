"""The memory plan's parts that CPU can check: parameter counts from a model's config against its real tensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrs.memory.shape import ModelShape

#: Counts from outside the shape code: the tiny model's built tensors (openrs.tiny_model v3) and the paper's two
#: models' published safetensors indexes.
KNOWN_MODEL_PARAMS = {
    "openrs-tiny": 117_440,
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": 1_777_088_000,
    "Qwen/Qwen2.5-Math-1.5B": 1_543_714_304,
}


def real_count(model_dir: Path) -> int:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    return sum(p.numel() for p in model.parameters())  # tied weights are counted once


def test_the_tiny_models_count_matches_its_tensors() -> None:
    from openrs.tiny_model import ensure_tiny_model

    path = Path(ensure_tiny_model())
    shape = ModelShape.from_config(json.loads((path / "config.json").read_text()))
    assert shape.model_type == "qwen2" and shape.qkv_bias
    assert shape.parameters() == real_count(path) == KNOWN_MODEL_PARAMS["openrs-tiny"]


@pytest.mark.slow
def test_smollm2s_count_matches_its_tensors(smollm2_dir: Path) -> None:
    shape = ModelShape.from_config(json.loads((smollm2_dir / "config.json").read_text()))
    assert shape.model_type == "llama" and not shape.qkv_bias and shape.tie_embeddings
    assert shape.parameters() == real_count(smollm2_dir) == 134_515_008


def test_the_papers_models_from_their_published_configs() -> None:
    """The hub configs' shapes (DeepSeek-R1-Distill-Qwen-1.5B: untied head; Qwen2.5-Math-1.5B: tied), against the
    counts of their published safetensors indexes (KNOWN_MODEL_PARAMS)."""
    common = {"model_type": "qwen2", "hidden_size": 1536, "num_hidden_layers": 28, "num_attention_heads": 12,
              "num_key_value_heads": 2, "intermediate_size": 8960}  # fmt: skip
    r1 = ModelShape.from_config({**common, "vocab_size": 151936, "tie_word_embeddings": False})
    math = ModelShape.from_config({**common, "vocab_size": 151936, "tie_word_embeddings": True})
    assert r1.parameters() == KNOWN_MODEL_PARAMS["deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"]
    assert math.parameters() == KNOWN_MODEL_PARAMS["Qwen/Qwen2.5-Math-1.5B"]


def state_of_a_real_step(model) -> dict[str, int]:
    """Bytes of the weights, gradients and AdamW moments after one real optimizer step (AdamW's per-tensor `step`
    counters, 4 bytes per tensor, are left out)."""
    import torch

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    ids = torch.randint(0, model.config.vocab_size, (2, 8))
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    size = lambda t: t.numel() * t.element_size()  # noqa: E731
    moments = [v for state in optimizer.state.values() for k, v in state.items() if k in ("exp_avg", "exp_avg_sq")]
    return {
        "weights": sum(size(p) for p in model.parameters()),
        "gradients": sum(size(p.grad) for p in model.parameters() if p.grad is not None),
        "optimizer": sum(size(m) for m in moments),
    }


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_state_bytes_match_a_real_adamw_step(dtype: str) -> None:
    """No DeepSpeed: the moments take the weights' dtype (16 bytes a parameter in float32, 8 in bfloat16)."""
    import torch
    from transformers import AutoModelForCausalLM

    from openrs.memory.states import training_state
    from openrs.tiny_model import ensure_tiny_model

    model = AutoModelForCausalLM.from_pretrained(ensure_tiny_model(), dtype=getattr(torch, dtype))
    params = sum(p.numel() for p in model.parameters())
    estimate = training_state(params, params, 4 if dtype == "float32" else 2, zero_stage=None)
    real = state_of_a_real_step(model)
    assert (estimate.weights, estimate.gradients, estimate.optimizer) == (real["weights"], real["gradients"],
                                                                          real["optimizer"])  # fmt: skip


def test_a_lora_adapters_state_matches_peft() -> None:
    """LoRA on every projection: the adapter's parameter count from the shape equals PEFT's, and only the adapter
    has gradients and moments."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from openrs.memory.shape import lora_parameters
    from openrs.memory.states import training_state
    from openrs.tiny_model import ensure_tiny_model

    path = Path(ensure_tiny_model())
    shape = ModelShape.from_config(json.loads((path / "config.json").read_text()))
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(path),
                           LoraConfig(r=8, lora_alpha=16, target_modules=targets, task_type="CAUSAL_LM"))  # fmt: skip
    adapter = lora_parameters(shape, 8, targets)
    assert adapter == sum(p.numel() for p in model.parameters() if p.requires_grad)
    real = state_of_a_real_step(model)
    estimate = training_state(shape.parameters() + adapter, adapter, 4, zero_stage=None)
    assert (estimate.weights, estimate.gradients, estimate.optimizer) == (real["weights"], real["gradients"],
                                                                          real["optimizer"])  # fmt: skip
    with pytest.raises(ValueError, match="peft.target_modules"):
        lora_parameters(shape, 8, ["qkv_proj"])


def test_zero_stages_partition_what_the_zero_paper_says() -> None:
    """Figure 1 of the ZeRO paper: 7.5B parameters, 64 GPUs: 120 GB per GPU without partitioning (16 bytes a
    parameter), 31.4 GB with stage 1, 16.6 GB with stage 2, 1.9 GB with stage 3."""
    from openrs.memory.states import training_state

    psi, gpus = 7_500_000_000, 64
    per_gpu = [training_state(psi, psi, 2, zero_stage=stage, processes=gpus).total / 1e9 for stage in (0, 1, 2, 3)]
    assert [round(gb, 1) for gb in per_gpu] == [120.0, 31.4, 16.6, 1.9]
    offloaded = training_state(psi, psi, 2, zero_stage=2, processes=gpus, offload_optimizer=True)
    assert offloaded.optimizer == 0 and offloaded.weights == 2 * psi
    with_reference = training_state(psi, psi, 2, zero_stage=3, processes=gpus, reference=True)
    assert with_reference.reference == with_reference.weights == 2 * psi // gpus
