"""The memory plan's parts that CPU can check: parameter counts from a model's config against its real tensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrs.checks import KNOWN_MODEL_PARAMS
from openrs.memory.shape import ModelShape


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
