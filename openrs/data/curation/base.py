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

__all__ = ["CurationResult", "Removal", "Row", "StepOutput", "StepReport"]


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


@dataclass
class StepReport:
    index: int
    name: str
    params: dict[str, Any]
    rows_in: int
    rows_out: int
    seconds: float
    removed: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.index,
            "name": self.name,
            "params": self.params,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_per_s, 1) if self.seconds > 0 else None,
            "removed": self.removed,
            "examples": self.examples,
            "extra": self.extra,
        }

    def line(self) -> str:
        removed = ", ".join(f"{count} {reason}" for reason, count in sorted(self.removed.items())) or "none removed"
        rows = f"{self.rows_in} -> {self.rows_out} rows"
        return f"step {self.index} {self.name}: {rows} in {self.seconds:.1f}s ({removed})"


@dataclass
class CurationResult:
    rows: list[Row]
    sources: dict[str, int]
    steps: list[StepReport]
    seconds: float


def check_overlap_params(threshold: float, ngram: int, num_perm: int = 2) -> None:
    """The shingle-overlap steps' (dedupe, decontaminate) own params; a ValueError naming the bad one."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if ngram < 1:
        raise ValueError(f"ngram must be at least 1, got {ngram}")
    if num_perm < 2:
        raise ValueError(f"num_perm must be at least 2, got {num_perm}")
