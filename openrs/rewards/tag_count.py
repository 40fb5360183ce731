"""``tag_count`` reward: partial credit for each reasoning/answer tag that appears exactly once.

Source of the faithful behaviour: open-r1 ``src/open_r1/rewards.py`` (``tag_count_reward``).

Formula::

    reward = 0.25 * [completion.count("<think>\\n")    == 1]
           + 0.25 * [completion.count("\\n</think>\\n") == 1]
           + 0.25 * [completion.count("\\n<answer>\\n") == 1]
           + 0.25 * [completion.count("\\n</answer>")   == 1]

so the reward is one of 0.0, 0.25, 0.5, 0.75, 1.0. A duplicated tag earns nothing for that tag.

Params (defaults):
    think_opened_by_template (bool, ``False``): ``False`` is the original. DeepSeek-R1-distill chat templates end the
        prompt with ``"<think>\\n"``, so the completion never contains it and the original can give at most 0.75. With
        ``True`` the first quarter is earned when ``"<think>\\n"`` occurs *zero* times in the completion; an extra
        opening tag (count >= 1) is a format error and earns 0.0 for that quarter.

Conversational completions are reduced to their assistant text first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openrs.rewards.completions import completions_to_texts

__all__ = ["TAGS", "tag_count_reward", "tag_count_value", "validate_tag_count_params"]

REWARD_NAME = "tag_count"
THINK_OPEN = "<think>\n"
#: The tags checked, in order; each is worth 0.25.
TAGS = (THINK_OPEN, "\n</think>\n", "\n<answer>\n", "\n</answer>")


def validate_tag_count_params(params: Mapping[str, Any]) -> None:
    if "think_opened_by_template" in params and not isinstance(params["think_opened_by_template"], bool):
        raise ValueError(
            f"Reward '{REWARD_NAME}': parameter 'think_opened_by_template' must be a boolean, "
            f"got {params['think_opened_by_template']!r}"
        )


def tag_count_value(text: str, *, think_opened_by_template: bool = False) -> float:
    """The tag-count reward of one completion text."""
    reward = 0.0
    for tag in TAGS:
        expected = 0 if think_opened_by_template and tag == THINK_OPEN else 1
        if text.count(tag) == expected:
            reward += 0.25
    return reward


def tag_count_reward(completions: list[Any], *, think_opened_by_template: bool = False, **kwargs: Any) -> list[float]:
    """TRL reward function: 0.25 per tag present exactly once (``<think>\\n`` absent, if the template opens it)."""
    validate_tag_count_params({"think_opened_by_template": think_opened_by_template})
    return [
        tag_count_value(text, think_opened_by_template=think_opened_by_template)
        for text in completions_to_texts(completions)
    ]
