"""``cosine`` reward: correctness scaled by completion length (Kimi k1.5 / "Demystifying Long CoT Reasoning" style).

Source of the faithful behaviour: open-r1/open-rs ``src/open_r1/rewards.py`` (``get_cosine_scaled_reward``).

Formula::

    progress = length / max_len
    cos      = cos(pi * progress)
    lo, hi   = (min_value_correct, max_value_correct) if correct else (max_value_wrong, min_value_wrong)
    reward   = lo + 0.5 * (hi - lo) * (1 + cos)

With the defaults a correct answer earns 1.0 at length 0 falling to 0.5 at ``max_len``; a wrong one earns 0.0 at
length 0 falling to -0.5 at ``max_len``. Correctness is decided exactly as by the ``accuracy`` reward
(:mod:`openrs.rewards.math_verify_utils`); an unparseable gold gives ``None`` (original: 1.0) and is reported as metric
``cosine/unparseable_gold`` through TRL's ``log_metric`` kwarg.

Modes:
    ``"faithful"`` (default): ``length`` is the number of *characters* of the completion text and ``progress`` is not
        clamped, so past ``max_len`` the cosine turns back up (at ``2 * max_len`` the reward is back to its length-0
        value). This reproduces the original.
    ``"fixed"``: ``length`` is the number of *tokens* (``len(completion_ids[i])``, the ``completion_ids`` kwarg TRL
        passes) and ``progress`` is clamped to ``[0, 1]``.

Params (defaults):
    max_len (int, 1000), min_value_wrong (float, 0.0), max_value_wrong (float, -0.5),
    min_value_correct (float, 0.5), max_value_correct (float, 1.0), mode ("faithful"), gold_column ("solution").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from openrs.rewards.completions import completions_to_texts
from openrs.rewards.math_verify_utils import get_gold_column, report_unparseable_gold, score_correctness
from openrs.rewards.params import check_choice, check_column_name, check_positive_int, check_real

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
    if "gold_column" in params:
        check_column_name(REWARD_NAME, "gold_column", params["gold_column"])


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


def _token_lengths(kwargs: Mapping[str, Any], n: int) -> list[int]:
    completion_ids: Sequence[Sequence[int]] | None = kwargs.get("completion_ids")
    if completion_ids is None:
        raise ValueError(
            f"Reward '{REWARD_NAME}' with mode='fixed' measures length in tokens and needs the `completion_ids` "
            "kwarg (a list of token-id lists, passed by TRL's GRPOTrainer); it was not provided. "
            "Use mode='faithful' to measure length in characters."
        )
    if len(completion_ids) != n:
        raise ValueError(f"Reward '{REWARD_NAME}': got {n} completions but {len(completion_ids)} completion_ids")
    return [len(ids) for ids in completion_ids]


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
        }
    )
    texts = completions_to_texts(completions)
    fixed = mode == "fixed"
    lengths = _token_lengths(kwargs, len(texts)) if fixed else [len(text) for text in texts]
    golds = get_gold_column(kwargs, gold_column, REWARD_NAME)
    correctness = score_correctness(texts, golds, REWARD_NAME)
    report_unparseable_gold(kwargs, correctness, REWARD_NAME)
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
