"""A model's shape before anything is downloaded: a local dir's `config.json`, the shapes of models we know, or the
hub's `config.json` fetched alone (a few kB) when the machine is online."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrs.memory.shape import ModelShape

_QWEN2_1_5B = {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 1536, "num_hidden_layers": 28,
               "num_attention_heads": 12, "num_key_value_heads": 2, "intermediate_size": 8960}  # fmt: skip
_QWEN2_7B = {"model_type": "qwen2", "vocab_size": 152064, "hidden_size": 3584, "num_hidden_layers": 28,
             "num_attention_heads": 28, "num_key_value_heads": 4, "intermediate_size": 18944}  # fmt: skip
_QWEN3 = {"model_type": "qwen3", "vocab_size": 151936, "num_hidden_layers": 28, "num_attention_heads": 16,
          "num_key_value_heads": 8, "head_dim": 128, "tie_word_embeddings": True}  # fmt: skip

#: The hub configs (config.json) of models the recipes and the published cases use; the tiny model and SmolLM2 as
#: openrs builds them (tests/test_memory.py checks both against the built models).
KNOWN_CONFIGS: dict[str, dict[str, Any]] = {
    "openrs-tiny": {
        "model_type": "qwen2",
        "vocab_size": 674,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 128,
        "tie_word_embeddings": True,
    },  # fmt: skip
    "smollm2-135m": {
        "model_type": "llama",
        "vocab_size": 49152,
        "hidden_size": 576,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "head_dim": 64,
        "intermediate_size": 1536,
        "tie_word_embeddings": True,
    },  # fmt: skip
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": {**_QWEN2_1_5B, "tie_word_embeddings": False},
    "Qwen/Qwen2.5-Math-1.5B": {**_QWEN2_1_5B, "tie_word_embeddings": True},
    "Qwen/Qwen2.5-3B-Instruct": {
        "model_type": "qwen2",
        "vocab_size": 151936,
        "hidden_size": 2048,
        "num_hidden_layers": 36,
        "num_attention_heads": 16,
        "num_key_value_heads": 2,
        "intermediate_size": 11008,
        "tie_word_embeddings": True,
    },  # fmt: skip
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": {**_QWEN2_7B, "vocab_size": 152064, "tie_word_embeddings": False},
    "Qwen/Qwen2.5-7B": {**_QWEN2_7B, "tie_word_embeddings": False},
    "Qwen/Qwen2.5-7B-Instruct": {**_QWEN2_7B, "tie_word_embeddings": False},
    "Qwen/Qwen2.5-Math-7B": {**_QWEN2_7B, "tie_word_embeddings": False},
    "Qwen/Qwen3-0.6B": {**_QWEN3, "hidden_size": 1024, "intermediate_size": 3072},
    "Qwen/Qwen3-1.7B": {**_QWEN3, "hidden_size": 2048, "intermediate_size": 6144},
}

#: Seconds to wait for the hub's answer about a config.json.
FETCH_TIMEOUT_S = 10
#: Families whose layers ModelShape counts.
SUPPORTED_FAMILIES = ("qwen2", "qwen3", "llama", "mistral")


@dataclass(frozen=True)
class FoundShape:
    """A model's shape (None when it could not be known) and where it came from, or why not."""

    shape: ModelShape | None
    source: str


def from_config(config: dict[str, Any], source: str) -> FoundShape:
    family = config.get("model_type", "")
    if family not in SUPPORTED_FAMILIES:
        known = ", ".join(SUPPORTED_FAMILIES)
        return FoundShape(None, f"{source} is a {family or 'unknown'} model; the plan knows {known}")
    try:
        return FoundShape(ModelShape.from_config(config), source)
    except KeyError as err:
        return FoundShape(None, f"{source} has no {err}")


def fetch_hub_config(name: str, revision: str | None) -> dict[str, Any] | None:
    """The hub's `config.json` alone, or None (offline, unknown repo, no network): never more than this one file."""
    try:
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(name, "config.json", revision=revision, etag_timeout=FETCH_TIMEOUT_S)
        return json.loads(Path(path).read_text())
    except Exception:  # noqa: BLE001 - offline, gated, missing: the plan then says the shape is unknown
        return None


def find_shape(name_or_path: str, revision: str | None = None, online: bool = True) -> FoundShape:
    """The shape of `model.name_or_path`: a local dir's config.json, the known table, or the hub's config.json."""
    path = Path(name_or_path).expanduser()
    if (path / "config.json").is_file():
        return from_config(json.loads((path / "config.json").read_text()), f"{path / 'config.json'}")
    if name_or_path in KNOWN_CONFIGS:
        return from_config(KNOWN_CONFIGS[name_or_path], "openrs's table of known models")
    config = fetch_hub_config(name_or_path, revision) if online else None
    if config is None:
        return FoundShape(None, f"{name_or_path} is not in openrs's table and its config.json could not be fetched")
    return from_config(config, f"the hub's config.json of {name_or_path}")
