"""The activation count of openrs.memory.activations against what real forward passes keep for backward.

Each model is a small random one of a real family (transformers' own Qwen2, Llama and Qwen3 classes) with TRL's fused
LM head patched in, run as the trainer runs it (bf16 weights under bf16 autocast, or float32); the bytes the
autograd graph saves are summed with `torch.autograd.graph.saved_tensors_hooks`, once per storage. Layers are told
apart by the difference between a 4-layer and a 2-layer model, so the count per layer is exact.
"""

from __future__ import annotations

import importlib.util

import pytest

from openrs.memory.activations import LoraShape, final_norm_bytes, layer_bytes
from openrs.memory.shape import ModelShape
from tests.conftest import REPO

torch = pytest.importorskip("torch")
spec = importlib.util.spec_from_file_location("memory_peak", REPO / "benchmarks" / "memory_peak.py")
memory_peak = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory_peak)

BASE = {"vocab_size": 1000, "hidden_size": 256, "num_attention_heads": 8, "num_key_value_heads": 2,
        "intermediate_size": 704, "tie_word_embeddings": False}  # fmt: skip
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BATCH, SEQ = 2, 64


def saved_bytes(config: dict, layers: int, dtype, attention: str, lora: LoraShape | None,
                autocast: bool | None = None) -> int:  # fmt: skip
    """Bytes a forward pass saves for backward (the weights themselves left out). `autocast`: bf16 autocast on
    (None: when the weights are bf16; True with float32 weights: float32 master weights, openrs.precision)."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    hf_config = AutoConfig.for_model(**config, num_hidden_layers=layers)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(hf_config, dtype=dtype, attn_implementation=attention)
    add_fused_lm_head(model, temperature=0.7, outputs=("log_probs", "entropy"))
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=lora.rank, lora_alpha=2 * lora.rank, target_modules=list(
            lora.target_modules), lora_dropout=0.05 if lora.dropout else 0.0))  # fmt: skip
    model.train()
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def keep(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            seen[storage.data_ptr()] = max(seen.get(storage.data_ptr(), 0), storage.nbytes())
        return tensor

    ids = torch.randint(0, config["vocab_size"], (BATCH, SEQ))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16 if autocast is None
                              else autocast)  # fmt: skip
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor), autocast:
        model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids, fused_lm_head=True)
    return sum(seen.values())


def measured_per_layer(config: dict, dtype, attention: str = "sdpa", lora: LoraShape | None = None) -> float:
    four, two = (saved_bytes(config, layers, dtype, attention, lora) for layers in (4, 2))
    return (four - two) / 2 / (BATCH * SEQ)


@pytest.mark.parametrize("family", ["qwen2", "llama", "qwen3"])
@pytest.mark.parametrize("dtype_name", ["bfloat16", "float32"])
def test_a_layers_saved_bytes_match_the_count(family: str, dtype_name: str) -> None:
    config = {**BASE, "model_type": family, **({"head_dim": 32} if family == "qwen3" else {})}
    shape = ModelShape.from_config({**config, "num_hidden_layers": 2})
    dtype = getattr(torch, dtype_name)
    expected = layer_bytes(shape, dtype.itemsize, "sdpa", SEQ)
    assert measured_per_layer(config, dtype) == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("family", ["qwen2", "llama", "qwen3"])
def test_float32_weights_under_bf16_autocast_keep_a_float32_residual_and_bf16_weight_copies(family: str) -> None:
    """The float32-master layout (openrs.precision): each layer keeps the bf16 count, the float32 residual's extra
    (FP32_RESIDUAL_LAYER) and a bf16 cast of its weights; the rest of the model, the final norm's float32 count (the
    embedding is not cast, and the fused LM head casts in tiles)."""
    config = {**BASE, "model_type": family, **({"head_dim": 32} if family == "qwen3" else {})}
    shape = ModelShape.from_config({**config, "num_hidden_layers": 2})
    two, four = (saved_bytes(config, layers, torch.float32, "sdpa", None, autocast=True) for layers in (2, 4))
    per_layer = (four - two) / 2
    expected = layer_bytes(shape, 2, "sdpa", SEQ, fp32_residual=True) * BATCH * SEQ + shape.layer_parameters() * 2
    assert per_layer == pytest.approx(expected, rel=0.01)
    rest = (two - 2 * per_layer) / (BATCH * SEQ)
    assert rest == pytest.approx(final_norm_bytes(shape, 2, fp32_residual=True), rel=0.05)


def test_eager_attention_keeps_the_probabilities() -> None:
    config = {**BASE, "model_type": "qwen2"}
    shape = ModelShape.from_config({**config, "num_hidden_layers": 2})
    measured = measured_per_layer(config, torch.bfloat16, "eager")
    assert measured == pytest.approx(layer_bytes(shape, 2, "eager", SEQ), rel=0.02)
    assert measured > 1.25 * layer_bytes(shape, 2, "sdpa", SEQ)  # the T x T probabilities are most of the difference


@pytest.mark.parametrize("dropout", [False, True])
def test_a_lora_adapters_saved_bytes_match_the_count(dropout: bool) -> None:
    config = {**BASE, "model_type": "qwen2"}
    shape = ModelShape.from_config({**config, "num_hidden_layers": 2})
    lora = LoraShape(rank=8, target_modules=PROJECTIONS, dropout=dropout)
    per_layer_weights = 8 * sum(a + b for a, b in [(256, 256), (256, 64), (256, 64), (256, 256), (256, 704),
                                                   (256, 704), (704, 256)]) * 2 / (BATCH * SEQ)  # fmt: skip
    expected = layer_bytes(shape, 2, "sdpa", SEQ, lora) + per_layer_weights  # bf16 casts of the adapters, per layer
    assert measured_per_layer(config, torch.bfloat16, lora=lora) == pytest.approx(expected, rel=0.01)


def test_the_rest_of_the_model_is_the_final_norm() -> None:
    """What is not a layer (the final norm and the LM head's inputs) is the final norm's count, within rotary tables
    and the head's per-token statistics."""
    config = {**BASE, "model_type": "qwen2"}
    shape = ModelShape.from_config({**config, "num_hidden_layers": 2})
    two = saved_bytes(config, 2, torch.bfloat16, "sdpa", None)
    rest = two - 2 * layer_bytes(shape, 2, "sdpa", SEQ) * BATCH * SEQ
    assert rest / (BATCH * SEQ) == pytest.approx(final_norm_bytes(shape, 2), rel=0.05)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_the_backward_passs_peak_is_covered(checkpointing: bool) -> None:
    """A later micro-batch of an accumulation through the decoder layers (benchmarks/memory_peak.py): the peak torch's
    memory profiler measures above the held state is covered by the estimate, within +15% (the estimate may be
    above, never below)."""
    measured, estimate, _ = memory_peak.measure(8, 512, 1408, checkpointing)
    assert measured <= estimate <= 1.15 * measured
