"""``accuracy`` reward: 1.0 if the completion's answer is mathematically equivalent to the gold, else 0.0.

Source of the faithful behaviour: open-r1/open-rs ``src/open_r1/rewards.py`` (``accuracy_reward``).

Formula::

    reward = 1.0 if verify(parse(gold), parse(completion)) else 0.0
    reward = None  if the gold cannot be parsed   (original: 1.0, a free reward)

Parsing details (extraction configs, bare-answer golds) are in :mod:`openrs.rewards.math_verify_utils`; the time limit
and worker processes in :mod:`openrs.rewards.verify_pool`; metrics (``accuracy/unparseable_gold``,
``accuracy/no_answer``, ``accuracy/verify_timeouts``, ``accuracy/verify_errors``) in
:mod:`openrs.rewards.correctness`. Timeouts and errors score 0.0 and never raise.

Params:
    gold_column (str, ``"solution"``): dataset column holding the gold solution/answer.
    timeout_s (float, 5.0): time limit per gold parse and per completion.
    workers (int | None, None): verification processes; None = one per core (max 8), 0 = in-process.
    scheme (str, ``"recipe"``): how answers are found (:mod:`openrs.rewards.correctness`); ``latex_gold_fixed`` also
        takes a final plain answer (``5 + 7 = 12``) where ``recipe`` needs ``\\boxed{}`` or ``$...$``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openrs.rewards.completions import completions_to_texts
from openrs.rewards.correctness import score_completions, validate_correctness_params
from openrs.rewards.verify_pool import DEFAULT_TIMEOUT_S

__all__ = ["accuracy_reward", "validate_accuracy_params"]

REWARD_NAME = "accuracy"


def validate_accuracy_params(params: Mapping[str, Any]) -> None:
    validate_correctness_params(REWARD_NAME, params)


def accuracy_reward(
    completions: list[Any],
    *,
    gold_column: str = "solution",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    scheme: str = "recipe",
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function: 1.0 / 0.0 per completion, ``None`` where the gold is unparseable."""
    correct = score_completions(
        completions_to_texts(completions),
        kwargs,
        REWARD_NAME,
        gold_column=gold_column,
        timeout_s=timeout_s,
        workers=workers,
        scheme=scheme,
    )
    return [None if c is None else float(c) for c in correct]
