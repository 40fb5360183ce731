"""Format rewards.

``format`` (faithful to the Open-RS recipe, open-r1/open-rs ``src/open_r1/rewards.py``)::

    reward = 1.0 if completion.count("\\n</think>\\n") == 1 else 0.0

The chat template already opens ``<think>``, so the only thing checked is that the model closes its reasoning exactly
once, on its own line.

``format_strict`` (the open-r1 tag format)::

    reward = 1.0 if re.match(r"^<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$", completion, re.DOTALL) else 0.0

No params for either. Conversational completions are reduced to their assistant text first.
"""

from __future__ import annotations

import re
from typing import Any

from openrs.rewards.completions import completions_to_texts

__all__ = ["STRICT_FORMAT_PATTERN", "THINK_CLOSE", "format_reward", "format_strict_reward"]

THINK_CLOSE = "\n</think>\n"
STRICT_FORMAT_PATTERN = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL)


def format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """1.0 if the completion contains exactly one ``"\\n</think>\\n"``, else 0.0."""
    return [1.0 if text.count(THINK_CLOSE) == 1 else 0.0 for text in completions_to_texts(completions)]


def format_strict_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """1.0 if the completion is ``<think>\\n...\\n</think>\\n<answer>\\n...\\n</answer>``, else 0.0."""
    return [1.0 if STRICT_FORMAT_PATTERN.match(text) else 0.0 for text in completions_to_texts(completions)]
