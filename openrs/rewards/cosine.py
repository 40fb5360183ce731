"""``cosine`` reward: correctness scaled by completion length (Kimi k1.5 / "Demystifying Long CoT Reasoning" style).

Source of the faithful behaviour: open-r1/open-rs ``src/open_r1/rewards.py`` (``get_cosine_scaled_reward``).

Formula::

    progress = length / max_len
    cos      = cos(pi * progress)
    lo, hi   = (min_value_correct, max_value_correct) if correct else (max_value_wrong, min_value_wrong)
    reward   = lo + 0.5 * (hi - lo) * (1 + cos)

With the defaults a correct answer earns 1.0 at length 0 falling to 0.5 at ``max_len``; a wrong one earns 0.0 at
length 0 falling to -0.5 at ``max_len``. Correctness is decided exactly as by the ``accuracy`` reward
(same params ``gold_column``, ``timeout_s``, ``workers``; same metrics, prefixed ``cosine/``); an unparseable gold gives
``None`` (original: 1.0).

Modes:
    ``"faithful"`` (default): ``length`` is the number of *characters* of the completion text and ``progress`` is not
        clamped, so past ``max_len`` the cosine turns back up (at ``2 * max_len`` the reward is back to its length-0
        value). This reproduces the original.
    ``"fixed"``: ``length`` is the number of *tokens* (``len(completion_ids[i])``, the ``completion_ids`` kwarg TRL
        passes) and ``progress`` is clamped to ``[0, 1]``.

Params (defaults):
    max_len (int, 1000), min_value_wrong (float, 0.0), max_value_wrong (float, -0.5),
    min_value_correct (float, 0.5), max_value_correct (float, 1.0), mode ("faithful"), gold_column ("solution"),
    timeout_s (5.0), workers (None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from openrs.rewards.completions import completions_to_texts, token_lengths
from openrs.rewards.correctness import score_completions, validate_correctness_params
from openrs.rewards.params import check_choice, check_positive_int, check_real
from openrs.rewards.verify_pool import DEFAULT_TIMEOUT_S

__all__ = ["COSINE_MODES", "cosine_reward", "cosine_scaled_value", "validate_cosine_params"]

REWARD_NAME = "cosine"
COSINE_MODES = ("faithful", "fixed")
_REAL_PARAMS = ("min_value_wrong", "max_value_wrong", "min_value_correct", "max_value_correct")


def validate_cosine_params(params: Mapping[str, Any]) -> None:
    if "max_len" in params:
        check_positive_int(REWARD_NAME, "max_len", params["max_len"])
    for name in _REAL_PARAMS:
        if name in params:
            check_real(REWARD_NAME, name, params[name])
    if "mode" in params:
        check_choice(REWARD_NAME, "mode", params["mode"], COSINE_MODES)
    validate_correctness_params(REWARD_NAME, params)


def cosine_scaled_value(
    length: int,
    correct: bool,
    *,
    max_len: int = 1000,
    min_value_wrong: float = 0.0,
    max_value_wrong: float = -0.5,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    clamp: bool = False,
) -> float:
    """The cosine-scaled reward for one completion of ``length`` (chars or tokens) and given correctness."""
    progress = length / max_len
    if clamp:
        progress = min(max(progress, 0.0), 1.0)
    cosine = math.cos(math.pi * progress)
    if correct:
        lo, hi = min_value_correct, max_value_correct
    else:
        lo, hi = max_value_wrong, min_value_wrong
    return lo + 0.5 * (hi - lo) * (1.0 + cosine)


def cosine_reward(
    completions: list[Any],
    *,
    max_len: int = 1000,
    min_value_wrong: float = 0.0,
    max_value_wrong: float = -0.5,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    mode: str = "faithful",
    gold_column: str = "solution",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    scheme: str = "recipe",
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function: length-scaled correctness per completion, ``None`` where the gold is unparseable."""
    validate_cosine_params(
        {
            "max_len": max_len,
            "min_value_wrong": min_value_wrong,
            "max_value_wrong": max_value_wrong,
            "min_value_correct": min_value_correct,
            "max_value_correct": max_value_correct,
            "mode": mode,
            "gold_column": gold_column,
            "timeout_s": timeout_s,
            "workers": workers,
        }
    )
    texts = completions_to_texts(completions)
    fixed = mode == "fixed"
    lengths = (
        token_lengths(kwargs, len(texts), REWARD_NAME, fallback="mode='faithful' (length in characters)")
        if fixed
        else [len(text) for text in texts]
    )
    correctness = score_completions(
        texts, kwargs, REWARD_NAME, gold_column=gold_column, timeout_s=timeout_s, workers=workers, scheme=scheme
    )
    return [
        None
        if correct is None
        else cosine_scaled_value(
            length,
            correct,
            max_len=max_len,
            min_value_wrong=min_value_wrong,
            max_value_wrong=max_value_wrong,
            min_value_correct=min_value_correct,
            max_value_correct=max_value_correct,
            clamp=fixed,
        )
        for length, correct in zip(lengths, correctness, strict=True)
    ]
