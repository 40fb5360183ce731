"""JSON-lines files written as a run goes: append one record at a time, read back what survived a kill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["append_jsonl", "read_jsonl"]


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and flush, so a crash loses at most the line being written."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a file :func:`append_jsonl` wrote; a line cut by a kill (or any corrupt line) is skipped.
    A missing file reads as no rows."""
    if not Path(path).is_file():
        return []
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows
