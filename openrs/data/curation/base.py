"""What every curation step takes and returns.

A *row* is a plain dict with at least ``id`` (str, unique in the run), ``problem`` (str) and ``source`` (str, the
name of the raw source it came from), and usually ``answer`` (the bare gold answer) and ``solution`` (a worked
solution, often ending in ``\\boxed{}``). Steps may add columns (``pass_rate``, ...).

A step is a function ``step(rows, **params) -> StepOutput``: the rows it keeps, in order, and one :class:`Removal`
per row it drops, with a short reason (a few fixed strings per step, so they can be counted) and optional detail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]

__all__ = ["Removal", "Row", "StepOutput"]


@dataclass
class Removal:
    """One dropped row and why (``reason`` is a short fixed string; ``detail`` says more about this row)."""

    row: Row
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepOutput:
    """A step's kept rows, its removals, and anything else worth reporting (``extra``: JSON-serialisable)."""

    rows: list[Row]
    removed: list[Removal] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
