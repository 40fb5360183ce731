"""`mix`: draw exact counts from sources and difficulty bands, reproducibly by seed.

`draws` is a list of `{source, count, band: [lo, hi] (optional), column: pass_rate, label (optional)}`. Draws are
made in order; each takes `count` rows uniformly at random (seeded) from the rows of `source` whose `column` lies in
`band` (inclusive) and that no earlier draw took, and writes `label` (if given) into the row's `level`. Too few
candidates is an error that names the draw and the number available. Rows no draw took are removed (`not drawn`).
The output is shuffled with the same seed unless `shuffle` is false (then: draw order).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from openrs.data.curation.base import Removal, Row, StepOutput
from openrs.errors import ConfigError

__all__ = ["mix"]


def _in_band(row: Row, band: Sequence[float] | None, column: str) -> bool:
    if band is None:
        return True
    value = row.get(column)
    return isinstance(value, (int, float)) and band[0] <= value <= band[1]


def _check_draw(index: int, draw: Mapping[str, Any]) -> None:
    where = f"mix draws[{index}]"
    unknown = set(draw) - {"source", "count", "band", "column", "label"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; use source, count, band, column, label.")
    if not draw.get("source") or not isinstance(draw.get("count"), int) or draw["count"] < 0:
        raise ConfigError(f"{where}: needs `source` (a source name) and `count` (an integer >= 0), got {dict(draw)}.")
    band = draw.get("band")
    if band is not None and (len(band) != 2 or not 0 <= band[0] <= band[1] <= 1):
        raise ConfigError(f"{where}: band must be [lo, hi] with 0 <= lo <= hi <= 1, got {list(band)}.")


def mix(rows: list[Row], *, draws: Sequence[Mapping[str, Any]], seed: int = 0, shuffle: bool = True) -> StepOutput:
    """The drawn rows (see the module docstring)."""
    for index, draw in enumerate(draws):
        _check_draw(index, draw)
    rng = random.Random(seed)
    taken: set[int] = set()
    drawn: list[Row] = []
    summary = []
    for index, draw in enumerate(draws):
        column = draw.get("column", "pass_rate")
        band = draw.get("band")
        candidates = [
            i
            for i, row in enumerate(rows)
            if i not in taken and row["source"] == draw["source"] and _in_band(row, band, column)
        ]
        if len(candidates) < draw["count"]:
            within = f" with {column} in {list(band)}" if band is not None else ""
            raise ConfigError(
                f"mix draws[{index}] asks for {draw['count']} rows of source {draw['source']!r}{within}, but only "
                f"{len(candidates)} are left after the earlier steps and draws. Lower the count or widen the band."
            )
        chosen = rng.sample(candidates, draw["count"])
        taken.update(chosen)
        for i in chosen:
            row = dict(rows[i])
            if draw.get("label"):
                row["level"] = draw["label"]
            drawn.append(row)
        summary.append({**dict(draw), "available": len(candidates), "drawn": len(chosen)})
    if shuffle:
        rng.shuffle(drawn)
    removed = [Removal(row, "not drawn") for i, row in enumerate(rows) if i not in taken]
    return StepOutput(drawn, removed, {"draws": summary})
