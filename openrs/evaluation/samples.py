"""`samples.jsonl`: one line per sampled completion, appended as generation goes, so a killed evaluation resumes.

A line: `benchmark`, `id`, `sample` (0..k-1), `seed`, `completion`, `answer` (the extracted answer's key, or null),
`verdict` (CORRECT, WRONG, NO_ANSWER, GOLD_UNPARSEABLE, TIMEOUT, ERROR), `correct` (null when the gold cannot be
parsed), `gold`, `tokens` and `truncated` (null when unknown, e.g. for completions scored from a file).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["SampleStore", "sample_key"]

log = logging.getLogger(__name__)

SampleKey = tuple[str, str, int]


def sample_key(record: dict[str, Any]) -> SampleKey:
    return record["benchmark"], str(record["id"]), int(record["sample"])


class SampleStore:
    """The samples of one evaluation on disk: what is already done, and appending more (flushed per call). With no
    path, in memory only (one rank's share of an in-training evaluation, gathered by the main process)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._records: dict[SampleKey, dict[str, Any]] = {}
        if path is not None and path.exists():
            self._load()

    def _load(self) -> None:
        good: list[str] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill: drop it, it is regenerated
                log.warning("dropping an incomplete line of %s (an interrupted write)", self.path)
                continue
            self._records[sample_key(record)] = record
            good.append(line)
        self.path.write_text("".join(line + "\n" for line in good), encoding="utf-8")

    @property
    def done(self) -> set[SampleKey]:
        return set(self._records)

    def records(self) -> list[dict[str, Any]]:
        return list(self._records.values())

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        records = list(records)
        if not records:
            return
        if self.path is None:
            self._records.update((sample_key(record), record) for record in records)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._records[sample_key(record)] = record
            handle.flush()
            os.fsync(handle.fileno())
