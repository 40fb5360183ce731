"""A real model that answers every prompt with one fixed `\\boxed{...}`: for tests that need a model whose accuracy is
known and not zero (evaluation picks, comparisons, difficulty pass rates) without any training."""

from __future__ import annotations

from pathlib import Path

from openrs.tiny_model import ensure_tiny_model


def answering_model(out: Path, answer: str) -> Path:
    """A real Qwen2 model dir (the tiny model, rewired) that answers every prompt with `\\boxed{answer}` then EOS.

    Attention and MLP outputs are zeroed, so the next token depends only on the current one: every token outside the
    answer embeds to direction 0, the i-th answer token to direction i + 1, and the (untied) LM head scores the
    answer's next token at 100 on that direction: a bigram chain that any sampling temperature follows. It lets the
    tests have models that really solve some problems and really differ, with no training.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = ensure_tiny_model()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, tie_word_embeddings=False)
    chain = [*tokenizer.convert_tokens_to_ids(tokenizer.tokenize(f"\\boxed{{{answer}}}")), tokenizer.eos_token_id]
    assert len(set(chain)) == len(chain) < model.config.hidden_size
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.norm.weight.fill_(1.0)
        embed = model.model.embed_tokens.weight
        embed.zero_()
        embed[:, 0] = 1.0
        head = torch.zeros(model.config.vocab_size, model.config.hidden_size)
        for i, token in enumerate(chain[:-1]):
            embed[token].zero_()
            embed[token, i + 1] = 1.0
        for i, token in enumerate(chain):
            head[token, i] = 100.0
        model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
