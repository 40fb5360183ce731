"""A tiny, randomly initialised Qwen2 causal LM built fully offline, for smoke tests and CPU debugging.

Setting ``model.name_or_path=openrs-tiny`` in a config makes openrs call :func:`ensure_tiny_model`, which builds
(once) and caches a directory holding:

* a byte-level BPE tokenizer trained in-process on synthetic arithmetic text, the R1-style system prompt and a
  little plain English (Qwen2 pre-tokenizer, so digits are split individually), wrapped as a
  ``PreTrainedTokenizerFast`` with a Qwen-style chat template;
* a 2-layer ``Qwen2ForCausalLM`` with random (seeded, reproducible) weights saved as safetensors;
* a ``GenerationConfig`` whose EOS is ``<|im_end|>`` and pad is ``<|endoftext|>``;
* a README.md and an ``openrs_tiny.json`` stamp describing the build.

The directory is loadable with ``AutoModelForCausalLM.from_pretrained`` / ``AutoTokenizer.from_pretrained``.
Its outputs are meaningless: it only exists so the training pipeline can run end to end without a model hub.
"""

from __future__ import annotations

import json
from pathlib import Path

from openrs.config import R1_SYSTEM_PROMPT
from openrs.data.synthetic import make_arithmetic_dataset
from openrs.model_cache import build_once, cache_root, stamped_version

TINY_MODEL_NAME = "openrs-tiny"
# v3: 2 attention heads and 1 KV head (head_dim 32, the smallest vLLM's CPU attention takes); same weight shapes
BUILD_VERSION = 3

_STAMP_FILE = "openrs_tiny.json"
_SEED = 1234
_VOCAB_SIZE = 768
_MODEL_MAX_LENGTH = 2048

_PAD_TOKEN = "<|endoftext|>"
_IM_START = "<|im_start|>"
_IM_END = "<|im_end|>"
_SPECIAL_TOKENS = [_PAD_TOKEN, _IM_START, _IM_END]
# The recipe's format marker as ONE (non-special) token: a random policy then emits it now and then (about 1 in
# 700 tokens), so the format reward varies within groups and even the untrained tiny model gets a GRPO signal.
_FORMAT_MARKER = "\n</think>\n"

# Qwen2's pre-tokenization regex: note ``\p{N}`` matches a single digit, so numbers are split digit by digit.
_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)


_ENGLISH_TEXT = (
    "The quick brown fox jumps over the lazy dog. Let me think step by step about this problem. "
    "First, we read the question carefully. Then we add, subtract or multiply the numbers. "
    "So the final answer is the result of the calculation. We can check the result again to be sure. "
    "Therefore, the answer is correct. Wait, let me verify that once more. Yes, that is right. "
    "Reasoning is the process of drawing conclusions from facts. A number is even if it is divisible by two. "
    "The sum of two numbers does not depend on their order, and neither does the product. "
    "Subtraction, however, is not commutative: the order of the numbers matters. "
    "Hello! How can I help you today? Please solve the following math problem and explain your answer."
)


def is_tiny_model(name_or_path: str) -> bool:
    """Return True if ``name_or_path`` refers to the built-in tiny model (``"openrs-tiny"``)."""
    return isinstance(name_or_path, str) and name_or_path.strip() == TINY_MODEL_NAME


def ensure_tiny_model(cache_dir: str | Path | None = None) -> Path:
    """Build the tiny model and tokenizer under ``cache_dir`` if needed and return their directory.

    Built once (atomically, see :func:`openrs.model_cache.build_once`); later calls return the cached directory.

    Args:
        cache_dir: Parent directory for the cache; defaults to :func:`openrs.model_cache.default_cache_dir`.

    Returns:
        Path of a directory loadable by ``AutoModelForCausalLM`` and ``AutoTokenizer``.
    """
    target = cache_root(cache_dir) / f"tiny-qwen2-v{BUILD_VERSION}"
    return build_once(target, _build, _is_complete)


def _is_complete(path: Path) -> bool:
    """Return True if ``path`` holds a finished build of the current version."""
    return stamped_version(path, _STAMP_FILE) == BUILD_VERSION


def _training_corpus() -> list[str]:
    """Return the in-process text corpus used to train the BPE tokenizer."""
    corpus: list[str] = [R1_SYSTEM_PROMPT] * 20 + [_ENGLISH_TEXT] * 10
    for row in make_arithmetic_dataset(3000, seed=_SEED, max_operand=100):
        reasoning = row["solution"].split(". ")[0]
        corpus.append(row["problem"])
        corpus.append(row["solution"])
        corpus.append(f"system\n{R1_SYSTEM_PROMPT}\nuser\n{row['problem']}\nassistant\n")
        corpus.append(f"<think>\n{reasoning}.\n</think>\n<answer>\n\\boxed{{{row['answer']}}}\n</answer>")
    return corpus


def _build_tokenizer():  # -> transformers.PreTrainedTokenizerFast
    """Train a small byte-level BPE tokenizer and wrap it for transformers."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # Same normalizer / pre-tokenizer / decoder as transformers' Qwen2Tokenizer, which AutoTokenizer picks for a
    # qwen2 model and which rebuilds the pipeline from vocab + merges: both load paths then tokenize identically.
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_corpus(), trainer=trainer)

    from tokenizers import AddedToken

    tokenizer.add_tokens([AddedToken(_FORMAT_MARKER, normalized=False, special=False)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=_IM_END,
        pad_token=_PAD_TOKEN,
        additional_special_tokens=[_IM_START],
        model_max_length=_MODEL_MAX_LENGTH,
        chat_template=_CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )


def _build(out_dir: Path) -> None:
    """Write tokenizer, model weights, generation config and stamp files into ``out_dir``."""
    import torch
    import transformers
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    tokenizer = _build_tokenizer()
    pad_id = tokenizer.convert_tokens_to_ids(_PAD_TOKEN)
    eos_id = tokenizer.convert_tokens_to_ids(_IM_END)

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=_MODEL_MAX_LENGTH,
        tie_word_embeddings=True,
        bos_token_id=pad_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=pad_id, eos_token_id=eos_id, pad_token_id=pad_id)

    progress_bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer.save_pretrained(out_dir)
        model.save_pretrained(out_dir, safe_serialization=True)
    finally:
        if progress_bars:
            hf_logging.enable_progress_bar()

    stamp = {
        "name": TINY_MODEL_NAME,
        "build_version": BUILD_VERSION,
        "description": "Tiny Qwen2 causal LM with RANDOM weights, built offline by openrs for smoke tests.",
        "architecture": "Qwen2ForCausalLM",
        "vocab_size": len(tokenizer),
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "seed": _SEED,
        "transformers_version": transformers.__version__,
    }
    (out_dir / "README.md").write_text(
        f"# {TINY_MODEL_NAME} (build v{BUILD_VERSION})\n\n"
        "A tiny Qwen2-architecture causal LM with **random weights** and a byte-level BPE tokenizer trained on "
        "synthetic arithmetic text. Built automatically by `openrs.tiny_model.ensure_tiny_model` for smoke tests; "
        "its generations are meaningless. Delete this directory to force a rebuild.\n",
        encoding="utf-8",
    )
    # Written last: its presence marks a complete build.
    (out_dir / _STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
