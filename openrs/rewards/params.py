"""Validation helpers for reward parameters; errors name both the parameter and the reward."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = [
    "check_choice",
    "check_column_name",
    "check_non_positive_real",
    "check_positive_int",
    "check_positive_real",
    "check_real",
]


def check_column_name(reward: str, param: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"Reward '{reward}': parameter '{param}' must be a non-empty string, got {value!r}")


def check_positive_int(reward: str, param: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Reward '{reward}': parameter '{param}' must be a positive integer, got {value!r}")


def check_real(reward: str, param: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"Reward '{reward}': parameter '{param}' must be a finite number, got {value!r}")


def check_positive_real(reward: str, param: str, value: Any) -> None:
    check_real(reward, param, value)
    if value <= 0:
        raise ValueError(f"Reward '{reward}': parameter '{param}' must be positive, got {value!r}")


def check_non_positive_real(reward: str, param: str, value: Any) -> None:
    check_real(reward, param, value)
    if value > 0:
        raise ValueError(f"Reward '{reward}': parameter '{param}' must be <= 0, got {value!r}")


def check_choice(reward: str, param: str, value: Any, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"Reward '{reward}': parameter '{param}' must be one of {list(choices)}, got {value!r}")
