"""``repetition_penalty`` reward: penalty proportional to the fraction of repeated n-grams.

Reference: Appendix C.2 of "Demystifying Long Chain-of-Thought Reasoning in LLMs" (Yeo et al. 2025,
arXiv 2502.03373). Source of the faithful behaviour: open-r1 ``src/open_r1/rewards.py``
(``get_repetition_penalty_reward``, with open-r1's defaults ``repetition_n_grams=3``,
``repetition_max_penalty=-1.0``). The n-gram arithmetic is TRL's ``trl.rewards.get_repetition_penalty_reward``, which
this module wraps rather than reimplements.

Formula (``items`` are the completion's words or tokens, see ``unit``)::

    ngrams  = all contiguous n-grams of items, n = ngram_size     (len(items) - n + 1 of them)
    reward  = (1 - len(set(ngrams)) / len(ngrams)) * max_penalty
    reward  = 0.0 if len(items) < ngram_size                      (this includes the empty completion)

A completion without a repeated n-gram gets 0.0; a fully repetitive one approaches ``max_penalty``.

Params (defaults):
    ngram_size (int, 3): n, a positive integer.
    max_penalty (float, -1.0): the penalty's bound; finite and <= 0.
    unit (str, ``"words"``):
        ``"words"`` -- open-r1's original: ``items = text.lower().split()`` (whitespace-separated, lower-cased words).
        ``"tokens"`` -- TRL's: ``items = completion_ids[i]``, the token ids TRL passes as the ``completion_ids`` kwarg
        (tokenizer-defined and language-agnostic).

Conversational completions are reduced to their assistant text first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trl.rewards import get_repetition_penalty_reward

from openrs.rewards.completions import completion_ids_of, completions_to_texts
from openrs.rewards.params import check_choice, check_non_positive_real, check_positive_int

__all__ = ["REPETITION_UNITS", "repetition_penalty_reward", "validate_repetition_penalty_params"]

REWARD_NAME = "repetition_penalty"
REPETITION_UNITS = ("words", "tokens")


def validate_repetition_penalty_params(params: Mapping[str, Any]) -> None:
    if "ngram_size" in params:
        check_positive_int(REWARD_NAME, "ngram_size", params["ngram_size"])
    if "max_penalty" in params:
        check_non_positive_real(REWARD_NAME, "max_penalty", params["max_penalty"])
    if "unit" in params:
        check_choice(REWARD_NAME, "unit", params["unit"], REPETITION_UNITS)


def repetition_penalty_reward(
    completions: list[Any],
    *,
    ngram_size: int = 3,
    max_penalty: float = -1.0,
    unit: str = "words",
    **kwargs: Any,
) -> list[float]:
    """TRL reward function: ``(1 - unique n-grams / n-grams) * max_penalty`` per completion, in words or tokens."""
    validate_repetition_penalty_params({"ngram_size": ngram_size, "max_penalty": max_penalty, "unit": unit})
    texts = completions_to_texts(completions)
    if unit == "tokens":
        sequences: Sequence[Sequence[Any]] = completion_ids_of(kwargs, len(texts), REWARD_NAME, fallback="unit='words'")
    else:
        sequences = [text.lower().split() for text in texts]
    penalty = get_repetition_penalty_reward(ngram_size=ngram_size, max_penalty=max_penalty)
    return [float(value) for value in penalty(completion_ids=sequences)]
