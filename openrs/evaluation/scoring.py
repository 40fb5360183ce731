"""Scoring completions against golds with math-verify (in the verification pool, under its time limit), and reading
completions made elsewhere (`eval.completions_file`)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openrs.errors import ConfigError
from openrs.evaluation.tasks import Item
from openrs.rewards.math_verify_utils import Verdict
from openrs.rewards.verify_pool import judge_outcomes

__all__ = ["read_completions_file", "score_records"]


def score_records(
    records: list[dict[str, Any]], items: dict[tuple[str, str], Item], *, timeout_s: float, workers: int | None
) -> list[dict[str, Any]]:
    """Add `answer`, `verdict`, `correct` and `gold` to each record (records of one scheme are judged together)."""
    by_scheme: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_scheme[items[(record["benchmark"], str(record["id"]))].scheme].append(index)
    for scheme, indices in by_scheme.items():
        chosen = [records[i] for i in indices]
        golds = [items[(r["benchmark"], str(r["id"]))].gold for r in chosen]
        outcomes = judge_outcomes(
            golds, [r["completion"] for r in chosen], timeout_s=timeout_s, workers=workers, scheme=scheme
        )
        for record, gold, (verdict, answer) in zip(chosen, golds, outcomes, strict=True):
            record.update(
                answer=answer,
                verdict=verdict.name,
                correct=None if verdict is Verdict.GOLD_UNPARSEABLE else verdict is Verdict.CORRECT,
                gold=gold,
            )
    return records


def read_completions_file(path: Path, items: Sequence[Item]) -> list[dict[str, Any]]:
    """Completions made elsewhere: jsonl lines with `id` and `completion` (and `benchmark` when ids repeat across
    benchmarks); several lines per id are several samples, numbered in file order."""
    if not path.is_file():
        raise ConfigError(f"eval.completions_file={path} does not exist.")
    by_id: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_id[item.id].append(item)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    records, unknown = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}:{number}: not a JSON object ({err.msg}).") from err
        if "id" not in row or not isinstance(row.get("completion"), str):
            raise ConfigError(f"{path}:{number}: needs `id` and a text `completion` (keys: {sorted(row)}).")
        candidates = [i for i in by_id.get(str(row["id"]), []) if row.get("benchmark") in (None, i.benchmark)]
        if not candidates:
            unknown.append(str(row["id"]))
            continue
        if len(candidates) > 1:
            raise ConfigError(
                f"{path}:{number}: id {row['id']!r} is in several benchmarks "
                f"({[i.benchmark for i in candidates]}); add a `benchmark` field."
            )
        item = candidates[0]
        key = (item.benchmark, item.id)
        records.append({"benchmark": item.benchmark, "id": item.id, "sample": counts[key], "seed": None,
                        "completion": row["completion"], "tokens": row.get("tokens"),
                        "truncated": row.get("truncated")})  # fmt: skip
        counts[key] += 1
    if unknown:
        raise ConfigError(
            f"{path}: {len(unknown)} line(s) name ids that are not in the evaluated benchmarks "
            f"{sorted({i.benchmark for i in items})}, e.g. {unknown[:5]}. Check eval.benchmarks and the ids."
        )
    return records
