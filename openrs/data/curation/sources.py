"""Read a recipe's raw sources into rows with the standard columns (`id`, `problem`, `answer`, `solution`, `source`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from openrs.data.curation.base import Row
from openrs.data.curation.config import SourceSpec
from openrs.data.prepare import load_raw
from openrs.errors import ConfigError

__all__ = ["load_source", "load_sources"]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def load_source(name: str, spec: SourceSpec) -> list[Row]:
    """Rows of one source; a missing column is an error that lists the columns present."""
    raw = load_raw(spec, key=f"recipe.sources.{name}.path")
    if spec.max_rows is not None:
        raw = raw.select(range(min(spec.max_rows, len(raw))))
    wanted = {
        "prompt_column": spec.prompt_column,
        "answer_column": spec.answer_column,
        "solution_column": spec.solution_column,
        "id_column": spec.id_column,
    }
    for key, column in [*wanted.items(), *((f"keep_columns[{c}]", c) for c in spec.keep_columns)]:
        if column is not None and column not in raw.column_names:
            raise ConfigError(
                f"recipe.sources.{name}.{key}={column!r} is not a column of {spec.path or 'the source'}; its columns "
                f"are {raw.column_names}. Set it to one of them (or null for answer/solution/id)."
            )
    rows: list[Row] = []
    for index, record in enumerate(raw):
        row: Row = {
            "id": str(record[spec.id_column]) if spec.id_column else f"{name}-{index}",
            "problem": record[spec.prompt_column] if isinstance(record[spec.prompt_column], str) else None,
            "answer": _text(record[spec.answer_column]) if spec.answer_column else None,
            "solution": _text(record[spec.solution_column]) if spec.solution_column else None,
            "source": name,
        }
        row.update({column: record[column] for column in spec.keep_columns})
        rows.append(row)
    return rows


def load_sources(sources: dict[str, SourceSpec]) -> list[Row]:
    """All sources in recipe order; ids must be unique across them."""
    if not sources:
        raise ConfigError("recipe.sources is empty: a recipe needs at least one source.")
    rows: list[Row] = []
    for name, spec in sources.items():
        rows.extend(load_source(str(name), spec))
    counts = Counter(row["id"] for row in rows)
    if len(counts) != len(rows):
        duplicates = sorted(i for i, count in counts.items() if count > 1)[:5]
        raise ConfigError(f"Row ids repeat across the recipe's sources (e.g. {duplicates}); set id_column=null.")
    return rows
