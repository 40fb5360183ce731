"""``accuracy`` reward: 1.0 if the completion's answer is mathematically equivalent to the gold, else 0.0.

Source of the faithful behaviour: open-r1/open-rs ``src/open_r1/rewards.py`` (``accuracy_reward``).

Formula::

    reward = 1.0 if verify(parse(gold), parse(completion)) else 0.0
    reward = None  if the gold cannot be parsed   (original: 1.0)

Parsing/verification details (extraction configs, bare-answer golds, error handling) are in
:mod:`openrs.rewards.math_verify_utils`. Errors and timeouts score 0.0. Samples with an unparseable gold get ``None``
(skipped by TRL); their count is reported as metric ``accuracy/unparseable_gold`` through TRL's ``log_metric`` kwarg.

Params:
    gold_column (str, default ``"solution"``): dataset column holding the gold solution/answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openrs.rewards.completions import completions_to_texts
from openrs.rewards.math_verify_utils import get_gold_column, report_unparseable_gold, score_correctness
from openrs.rewards.params import check_column_name

__all__ = ["accuracy_reward", "validate_accuracy_params"]

REWARD_NAME = "accuracy"


def validate_accuracy_params(params: Mapping[str, Any]) -> None:
    if "gold_column" in params:
        check_column_name(REWARD_NAME, "gold_column", params["gold_column"])


def accuracy_reward(completions: list[Any], *, gold_column: str = "solution", **kwargs: Any) -> list[float | None]:
    """TRL reward function: 1.0 / 0.0 per completion, ``None`` where the gold is unparseable."""
    validate_accuracy_params({"gold_column": gold_column})
    golds = get_gold_column(kwargs, gold_column, REWARD_NAME)
    correctness = score_correctness(completions_to_texts(completions), golds, REWARD_NAME)
    report_unparseable_gold(kwargs, correctness, REWARD_NAME)
    return [None if correct is None else float(correct) for correct in correctness]
