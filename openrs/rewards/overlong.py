"""``overlong`` reward: DAPO's soft overlong punishment.

Reference: Eq. (13) of DAPO (Yu et al. 2025, arXiv 2503.14476). The formula is TRL's
``trl.rewards.get_soft_overlong_punishment(max_completion_len, soft_punish_cache)``, which this module wraps.

Formula (``L = len(completion_ids[i])``, the completion's length in tokens from the ``completion_ids`` kwarg TRL
passes; ``L_max = max_length``, ``L_cache = buffer_length``)::

    reward = 0.0                                   if L <= L_max - L_cache
    reward = ((L_max - L_cache) - L) / L_cache     if L_max - L_cache < L <= L_max     (linear from 0 to -1)
    reward = -1.0                                  if L > L_max

Only over-long completions are punished; shorter ones are never rewarded. ``buffer_length=0`` gives a hard
punishment (-1.0 only past ``max_length``). TRL truncates generation at ``max_completion_length``, so with
``max_length`` set to it a truncated completion (``L == L_max``) gets -1.0.

Params (defaults):
    max_length (int, required): L_max, a positive integer -- set it to the length budget's ``max_completion_length``,
        e.g. ``max_length: ${length.max_completion_length}`` in the reward config.
    buffer_length (int or None, None): L_cache, with ``0 <= buffer_length < max_length``; None means
        ``max_length // 5`` (DAPO uses a 4096-token cache for a 20480-token maximum, i.e. 20%).

Completions may be plain or conversational; only their number is used (the length comes from ``completion_ids``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trl.rewards import get_soft_overlong_punishment

from openrs.rewards.completions import completion_ids_of, completions_to_texts
from openrs.rewards.params import check_positive_int

__all__ = ["default_buffer_length", "overlong_reward", "validate_overlong_params"]

REWARD_NAME = "overlong"
#: ``buffer_length=None`` means ``max_length // DEFAULT_BUFFER_DIVISOR`` (DAPO: 4096 of 20480).
DEFAULT_BUFFER_DIVISOR = 5


def default_buffer_length(max_length: int) -> int:
    """DAPO's proportion: a soft-punishment buffer of 20% of ``max_length`` (rounded down)."""
    return max_length // DEFAULT_BUFFER_DIVISOR


def validate_overlong_params(params: Mapping[str, Any]) -> None:
    if "max_length" not in params:
        raise ValueError(
            f"Reward '{REWARD_NAME}': parameter 'max_length' is required (no default). Set it to the length "
            "budget's max_completion_length, e.g. `max_length: ${length.max_completion_length}` in the reward's "
            "params."
        )
    max_length = params["max_length"]
    check_positive_int(REWARD_NAME, "max_length", max_length)
    buffer_length = params.get("buffer_length")
    if buffer_length is None:
        return
    if isinstance(buffer_length, bool) or not isinstance(buffer_length, int) or not 0 <= buffer_length < max_length:
        raise ValueError(
            f"Reward '{REWARD_NAME}': parameter 'buffer_length' must be null or an integer with "
            f"0 <= buffer_length < max_length ({max_length}), got {buffer_length!r}"
        )


def overlong_reward(
    completions: list[Any],
    *,
    max_length: int,
    buffer_length: int | None = None,
    **kwargs: Any,
) -> list[float]:
    """TRL reward function: 0.0 up to ``max_length - buffer_length`` tokens, then linearly down to -1.0."""
    validate_overlong_params({"max_length": max_length, "buffer_length": buffer_length})
    if buffer_length is None:
        buffer_length = default_buffer_length(max_length)
    completion_ids = completion_ids_of(kwargs, len(completions_to_texts(completions)), REWARD_NAME)
    punishment = get_soft_overlong_punishment(max_completion_len=max_length, soft_punish_cache=buffer_length)
    return [float(value) for value in punishment(completion_ids=completion_ids)]
