"""A decoder model's shape, read from its `config.json` (Qwen2, Qwen3 and Llama families), and its parameter count.

The count is exact for these families: embeddings (and an untied output head), per layer the attention projections
(q, k, v with their bias where the family has one, o), the gated MLP (gate, up, down), two RMSNorm weights (and
Qwen3's per-head q/k norms), then the final norm. Tested against the real tensors of the tiny model and SmolLM2
(tests/test_memory.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Families whose attention has q/k/v biases whatever the config says (Qwen2 hard-codes them).
QKV_BIAS_FAMILIES = ("qwen2",)
#: Families with an RMSNorm over each head's queries and keys (Qwen3).
QK_NORM_FAMILIES = ("qwen3",)


@dataclass(frozen=True)
class ModelShape:
    """What the memory plan needs to know about a model."""

    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    tie_embeddings: bool
    qkv_bias: bool
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """From a `config.json` as a dict; a key a supported family always has is required (KeyError names it)."""
        heads = config["num_attention_heads"]
        model_type = config.get("model_type", "")
        attention_bias = bool(config.get("attention_bias", False))
        return cls(
            model_type=model_type,
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            num_layers=config["num_hidden_layers"],
            num_heads=heads,
            num_kv_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            intermediate_size=config["intermediate_size"],
            tie_embeddings=bool(config.get("tie_word_embeddings", False)),
            qkv_bias=model_type in QKV_BIAS_FAMILIES or attention_bias,
            o_bias=attention_bias and model_type not in QKV_BIAS_FAMILIES,
            mlp_bias=bool(config.get("mlp_bias", False)),
            qk_norm=model_type in QK_NORM_FAMILIES,
        )

    def layer_parameters(self) -> int:
        """One decoder layer's parameters."""
        hidden, q_width, kv_width = self.hidden_size, self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        attention = hidden * q_width + 2 * hidden * kv_width + q_width * hidden
        attention += (q_width + 2 * kv_width) * self.qkv_bias + hidden * self.o_bias
        mlp = 3 * hidden * self.intermediate_size + (2 * self.intermediate_size + hidden) * self.mlp_bias
        return attention + mlp + 2 * hidden + 2 * self.head_dim * self.qk_norm  # RMSNorm weights

    def parameters(self) -> int:
        """Every parameter of the model (a tied output head shares the embedding's)."""
        embeddings = self.vocab_size * self.hidden_size * (1 if self.tie_embeddings else 2)
        return embeddings + self.num_layers * self.layer_parameters() + self.hidden_size


def projection_shapes(shape: ModelShape) -> dict[str, tuple[int, int]]:
    """(in, out) features of each linear projection of a decoder layer, by its module name."""
    hidden, q_width, kv_width = shape.hidden_size, shape.num_heads * shape.head_dim, shape.num_kv_heads * shape.head_dim
    return {
        "q_proj": (hidden, q_width), "k_proj": (hidden, kv_width), "v_proj": (hidden, kv_width),
        "o_proj": (q_width, hidden), "gate_proj": (hidden, shape.intermediate_size),
        "up_proj": (hidden, shape.intermediate_size), "down_proj": (shape.intermediate_size, hidden),
    }  # fmt: skip


def lora_parameters(shape: ModelShape, rank: int, target_modules: list[str]) -> int:
    """A LoRA adapter's parameters: A (rank x in) and B (out x rank) on each targeted projection of every layer."""
    projections = projection_shapes(shape)
    unknown = sorted(set(target_modules) - set(projections))
    if unknown:
        raise ValueError(f"peft.target_modules {unknown}: not a projection of a {shape.model_type} layer "
                         f"({', '.join(projections)})")  # fmt: skip
    per_layer = sum(rank * (projections[name][0] + projections[name][1]) for name in set(target_modules))
    return shape.num_layers * per_layer
