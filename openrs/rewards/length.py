"""``length`` reward: the Kimi k1.5 length penalty (arXiv 2501.12599, section 2.3.3), as in open-r1's ``len_reward``.

Formula, over a set of completions with lengths ``len_i`` (``min_len``/``max_len`` = the set's shortest/longest)::

    lambda_i = 0.5 - (len_i - min_len) / (max_len - min_len)
    reward_i = lambda_i          if completion i is correct
             = min(0, lambda_i)  if it is wrong
             = 0                 for every completion when max_len == min_len
             = None              when the gold cannot be parsed (open-r1: treated as correct)

So among correct answers the shortest gets +0.5 and the longest -0.5; wrong answers are never rewarded, and the long
wrong ones are penalised down to -0.5. Correctness is judged as by the ``accuracy`` reward (same ``gold_column``,
``timeout_s``, ``workers`` params and metrics, prefixed ``length/``).

Modes:
    ``"faithful"`` (default): open-r1's implementation -- lengths in *characters*, and the set is the whole batch the
        reward is called with (all prompts together), so one long problem's completions shift everyone's reward.
    ``"fixed"``: as Kimi k1.5 defines it -- lengths in *tokens* (``completion_ids`` kwarg) and the set is the group of
        completions sampled for the same prompt (``prompts`` kwarg), so a problem's reward does not depend on which
        other problems share its batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openrs.rewards.completions import completions_to_texts, token_lengths
from openrs.rewards.correctness import score_completions, validate_correctness_params
from openrs.rewards.params import check_choice
from openrs.rewards.verify_pool import DEFAULT_TIMEOUT_S

__all__ = ["LENGTH_MODES", "kimi_length_values", "length_reward", "validate_length_params"]

REWARD_NAME = "length"
LENGTH_MODES = ("faithful", "fixed")


def validate_length_params(params: Mapping[str, Any]) -> None:
    if "mode" in params:
        check_choice(REWARD_NAME, "mode", params["mode"], LENGTH_MODES)
    validate_correctness_params(REWARD_NAME, params)


def kimi_length_values(lengths: Sequence[int], correct: Sequence[bool | None]) -> list[float | None]:
    """The Kimi length reward of one set of completions (see the module formula)."""
    shortest, longest = min(lengths, default=0), max(lengths, default=0)
    rewards: list[float | None] = []
    for length, is_correct in zip(lengths, correct, strict=True):
        if is_correct is None:
            rewards.append(None)
        elif longest == shortest:
            rewards.append(0.0)
        else:
            value = 0.5 - (length - shortest) / (longest - shortest)
            rewards.append(value if is_correct else min(0.0, value))
    return rewards


def _prompt_groups(kwargs: Mapping[str, Any], n: int) -> list[list[int]]:
    prompts = kwargs.get("prompts")
    if prompts is None or len(prompts) != n:
        raise ValueError(
            f"Reward '{REWARD_NAME}' with mode='fixed' compares completions of the same prompt and needs the `prompts` "
            f"kwarg with one prompt per completion (TRL's GRPOTrainer passes it); got "
            f"{'none' if prompts is None else len(prompts)} for {n} completions. Use mode='faithful' otherwise."
        )
    groups: dict[str, list[int]] = {}
    for index, prompt in enumerate(prompts):
        groups.setdefault(repr(prompt), []).append(index)
    return list(groups.values())


def length_reward(
    completions: list[Any],
    *,
    mode: str = "faithful",
    gold_column: str = "solution",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    scheme: str = "recipe",
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function: Kimi k1.5 length reward per completion, ``None`` where the gold is unparseable."""
    validate_length_params({"mode": mode, "gold_column": gold_column, "timeout_s": timeout_s, "workers": workers})
    texts = completions_to_texts(completions)
    if mode == "fixed":
        lengths, groups = (
            token_lengths(kwargs, len(texts), REWARD_NAME, fallback="mode='faithful' (characters)"),
            _prompt_groups(kwargs, len(texts)),
        )
    else:
        lengths, groups = [len(text) for text in texts], [list(range(len(texts)))]
    correct = score_completions(
        texts, kwargs, REWARD_NAME, gold_column=gold_column, timeout_s=timeout_s, workers=workers, scheme=scheme
    )
    rewards: list[float | None] = [None] * len(texts)
    for group in groups:
        values = kimi_length_values([lengths[i] for i in group], [correct[i] for i in group])
        for index, value in zip(group, values, strict=True):
            rewards[index] = value
    return rewards
