"""Tests for openrs.tiny_model: offline build, caching and loading of the tiny Qwen2 model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

import openrs.tiny_model as tiny
from openrs.model_cache import default_cache_dir
from openrs.tiny_model import (
    BUILD_VERSION,
    TINY_MODEL_NAME,
    ensure_tiny_model,
    is_tiny_model,
)

ROUND_TRIP_TEXTS = [
    "What is 7 + 12?",
    "7 + 12 = 19. The answer is \\boxed{19}.",
    "<think>\n18 - 25 = -7\n</think>\n<answer>\n\\boxed{-7}\n</answer>",
    "  leading spaces, trailing tabs\t\t\n\nand blank lines\n",
    "Calculate (3 * 4) - 100 / 5 = -8; x^2 + y_1 >= 0 & 'quotes' \"double\" `code` #$%@!~|",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_tiny_model(tmp_path_factory.mktemp("openrs-cache"))


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path):
    return AutoTokenizer.from_pretrained(model_dir)


def test_is_tiny_model() -> None:
    assert TINY_MODEL_NAME == "openrs-tiny"
    assert is_tiny_model("openrs-tiny")
    assert not is_tiny_model("Qwen/Qwen2.5-0.5B-Instruct")
    assert not is_tiny_model("openrs-tiny-2")
    assert not is_tiny_model("")


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENRS_CACHE", str(tmp_path / "custom"))
    assert default_cache_dir() == tmp_path / "custom"
    monkeypatch.delenv("OPENRS_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "openrs"


def test_ensure_honours_openrs_cache_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENRS_CACHE", str(tmp_path / "env-cache"))
    path = ensure_tiny_model()
    assert path == tmp_path / "env-cache" / f"tiny-qwen2-v{BUILD_VERSION}"
    assert (path / "model.safetensors").is_file()


def test_directory_contents(model_dir: Path) -> None:
    assert model_dir.name == f"tiny-qwen2-v{BUILD_VERSION}"
    for name in ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "README.md"]:
        assert (model_dir / name).is_file(), name
    stamp = json.loads((model_dir / "openrs_tiny.json").read_text())
    assert stamp["name"] == TINY_MODEL_NAME
    assert stamp["build_version"] == BUILD_VERSION
    assert "random" in stamp["description"].lower()
    assert "random weights" in (model_dir / "README.md").read_text().lower()
    # No temporary build directories are left behind.
    assert [p.name for p in model_dir.parent.iterdir()] == [model_dir.name]


def test_model_loads_as_qwen2(model_dir: Path, tokenizer) -> None:
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    cfg = model.config
    assert cfg.model_type == "qwen2"
    assert cfg.architectures == ["Qwen2ForCausalLM"]
    assert (cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers) == (64, 128, 2)
    assert (cfg.num_attention_heads, cfg.num_key_value_heads) == (2, 1)  # head_dim 32: vLLM CPU attention
    assert cfg.max_position_embeddings == 2048
    assert cfg.vocab_size == len(tokenizer)
    assert cfg.tie_word_embeddings
    assert model.get_input_embeddings().weight.data_ptr() == model.get_output_embeddings().weight.data_ptr()
    assert next(model.parameters()).dtype == torch.float32
    assert cfg.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert cfg.pad_token_id == tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert sum(p.numel() for p in model.parameters()) < 1_000_000


def test_generation_config(model_dir: Path, tokenizer) -> None:
    gen = GenerationConfig.from_pretrained(model_dir)
    assert gen.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert gen.pad_token_id == tokenizer.convert_tokens_to_ids("<|endoftext|>")


def test_generates_from_chat_prompt(model_dir: Path, tokenizer) -> None:
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 3?"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt")
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=6, min_new_tokens=6, do_sample=True)
    assert out.shape == (1, inputs["input_ids"].shape[1] + 6)
    assert torch.equal(out[0, : inputs["input_ids"].shape[1]], inputs["input_ids"][0])
    assert int(out[0, -6:].max()) < len(tokenizer)
    assert isinstance(tokenizer.decode(out[0, -6:]), str)


def test_tokenizer_special_tokens(tokenizer) -> None:
    assert 512 <= len(tokenizer) <= 1024
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.model_max_length == 2048
    for token in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]:
        ids = tokenizer.encode(token, add_special_tokens=False)
        assert ids == [tokenizer.convert_tokens_to_ids(token)]
    # No BOS/EOS is silently added to plain text.
    assert tokenizer.decode(tokenizer("1 + 1")["input_ids"]) == "1 + 1"


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_tokenizer_round_trip(tokenizer, text: str) -> None:
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_digits_split_individually(tokenizer) -> None:
    tokens = tokenizer.convert_ids_to_tokens(tokenizer.encode("12345 + 6789", add_special_tokens=False))
    digit_tokens = [t for t in tokens if any(c.isdigit() for c in t)]
    assert digit_tokens == list("12345") + list("6789")


def test_tokenizer_matches_raw_tokenizers_file(model_dir: Path, tokenizer) -> None:
    """AutoTokenizer (Qwen2Tokenizer) must tokenize exactly like the trained tokenizer.json."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for text in ROUND_TRIP_TEXTS:
        assert tokenizer.encode(text, add_special_tokens=False) == raw.encode(text, add_special_tokens=False).ids


def test_tokenizer_vocab_learned_from_corpus(tokenizer) -> None:
    # Frequent corpus words become single tokens, so the system prompt is compressed well below its byte length.
    assert len(tokenizer.tokenize(" answer")) == 1
    assert len(tokenizer.encode(tiny.R1_SYSTEM_PROMPT)) < len(tiny.R1_SYSTEM_PROMPT) / 3


def test_chat_template(tokenizer) -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "What is 1 + 2?"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat is 1 + 2?<|im_end|>\n"
    )
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat is 1 + 2?<|im_end|>\n<|im_start|>assistant\n"
    )
    full = [*messages, {"role": "assistant", "content": "<think>\n1 + 2 = 3\n</think>\n<answer>\n3\n</answer>"}]
    assert tokenizer.apply_chat_template(full, tokenize=False).endswith(
        "<|im_start|>assistant\n<think>\n1 + 2 = 3\n</think>\n<answer>\n3\n</answer><|im_end|>\n"
    )


def test_second_call_uses_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = ensure_tiny_model(tmp_path)
    weights = first / "model.safetensors"
    mtime = weights.stat().st_mtime_ns

    def _fail(out_dir: Path) -> None:
        raise AssertionError("should not rebuild")

    monkeypatch.setattr(tiny, "_build", _fail)
    second = ensure_tiny_model(str(tmp_path))
    assert second == first
    assert weights.stat().st_mtime_ns == mtime


def test_build_is_reproducible(tmp_path: Path) -> None:
    a = ensure_tiny_model(tmp_path / "a")
    b = ensure_tiny_model(tmp_path / "b")
    for name in ["tokenizer.json", "model.safetensors", "config.json"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_build_does_not_touch_global_rng(tmp_path: Path) -> None:
    torch.manual_seed(42)
    expected = torch.rand(3)
    torch.manual_seed(42)
    ensure_tiny_model(tmp_path)
    assert torch.equal(torch.rand(3), expected)


def test_failed_build_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def _crash(out_dir: Path) -> None:
        (out_dir / "config.json").write_text("{}")
        raise RuntimeError("boom")

    monkeypatch.setattr(tiny, "_build", _crash)
    with pytest.raises(RuntimeError, match="boom"):
        ensure_tiny_model(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_incomplete_directory_is_rebuilt(tmp_path: Path) -> None:
    stale = tmp_path / f"tiny-qwen2-v{BUILD_VERSION}"
    stale.mkdir()
    (stale / "config.json").write_text("garbage")
    path = ensure_tiny_model(tmp_path)
    assert path == stale
    assert (path / "openrs_tiny.json").is_file()
    assert AutoTokenizer.from_pretrained(path).eos_token == "<|im_end|>"


def test_concurrent_builder_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """If another process renames its build into place first, ours is discarded and theirs returned."""
    target = tmp_path / f"tiny-qwen2-v{BUILD_VERSION}"
    real_build = tiny._build

    def _racing_build(out_dir: Path) -> None:
        real_build(out_dir)
        other = tmp_path / "other-process"
        other.mkdir()
        real_build(other)
        (other / "marker").write_text("winner")
        os.replace(other, target)

    monkeypatch.setattr(tiny, "_build", _racing_build)
    path = ensure_tiny_model(tmp_path)
    assert path == target
    assert (path / "marker").read_text() == "winner"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
