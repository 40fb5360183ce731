"""Format rewards.

``format`` (faithful to the Open-RS recipe, open-r1/open-rs ``src/open_r1/rewards.py``)::

    reward = 1.0 if completion.count("\\n</think>\\n") == 1 else 0.0

The chat template already opens ``<think>``, so the only thing checked is that the model closes its reasoning exactly
once, on its own line.

``format_strict`` (the open-r1 tag format)::

    reward = 1.0 if re.match(r"^<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$", completion, re.DOTALL) else 0.0

No params for either. Conversational completions are reduced to their assistant text first. ``format_strict`` is
evaluated with string operations equivalent to the regex (``tests/test_rewards.py`` checks this on random strings):
the regex backtracks quadratically, about 13 s on a 300 kB completion repeating the separator.
"""

from __future__ import annotations

import re
from typing import Any

from openrs.rewards.completions import completions_to_texts

__all__ = ["STRICT_FORMAT_PATTERN", "THINK_CLOSE", "format_reward", "format_strict_reward", "matches_strict_format"]

THINK_CLOSE = "\n</think>\n"
STRICT_FORMAT_PATTERN = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL)


def format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """1.0 if the completion contains exactly one ``"\\n</think>\\n"``, else 0.0."""
    return [1.0 if text.count(THINK_CLOSE) == 1 else 0.0 for text in completions_to_texts(completions)]


_STRICT_OPEN, _STRICT_SEPARATOR, _STRICT_CLOSE = "<think>\n", "\n</think>\n<answer>\n", "\n</answer>"


def matches_strict_format(text: str) -> bool:
    """Whether :data:`STRICT_FORMAT_PATTERN` matches ``text``, in linear time.

    The pattern is ``OPEN .*? SEPARATOR .*? CLOSE`` anchored at both ends, where ``$`` also matches before one final
    newline: so after removing OPEN and CLOSE (without overlap) the rest must contain SEPARATOR.
    """
    candidates = (text, text[:-1]) if text.endswith("\n") else (text,)
    for candidate in candidates:
        if len(candidate) < len(_STRICT_OPEN) + len(_STRICT_CLOSE):
            continue
        if candidate.startswith(_STRICT_OPEN) and candidate.endswith(_STRICT_CLOSE):
            if _STRICT_SEPARATOR in candidate[len(_STRICT_OPEN) : len(candidate) - len(_STRICT_CLOSE)]:
                return True
    return False


def format_strict_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """1.0 if the completion is ``<think>\\n...\\n</think>\\n<answer>\\n...\\n</answer>``, else 0.0."""
    return [1.0 if matches_strict_format(text) else 0.0 for text in completions_to_texts(completions)]
