"""Turn a configured source into the training set GRPOTrainer expects: conversational `prompt` + `solution`.

Rows are checked before training starts and the outcome is reported on one screen: rows read, kept, and
dropped with reasons (empty problem, empty gold, prompt over the length budget). Prompts over budget are
dropped, never truncated mid-problem. A missing column is an error listing the columns that exist.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset, load_dataset
from omegaconf import DictConfig

from openrs.data.synthetic import make_arithmetic_dataset
from openrs.errors import ConfigError
from openrs.plan import to_plain

log = logging.getLogger(__name__)

LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


@dataclass
class DataReport:
    """What data preparation read, kept and dropped (and why)."""

    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    fingerprint: str = ""
    max_prompt_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "dropped": dict(self.dropped),
            "fingerprint": self.fingerprint,
            "max_prompt_tokens": self.max_prompt_tokens,
        }

    def render(self) -> str:
        lines = [f"data: read {self.rows_read} rows, kept {self.rows_kept}"]
        lines += [f"  dropped {count}: {reason}" for reason, count in sorted(self.dropped.items())]
        lines.append(f"  longest kept prompt: {self.max_prompt_tokens} tokens; fingerprint {self.fingerprint[:16]}")
        return "\n".join(lines)


def load_raw(dataset_cfg: DictConfig) -> Dataset:
    """Read the configured source as a `datasets.Dataset` (no column handling yet)."""
    source = to_plain(dataset_cfg.source)
    if source == "synthetic":
        syn = dataset_cfg.synthetic
        rows = make_arithmetic_dataset(
            syn.num_rows, seed=syn.seed, max_operand=syn.max_operand, operations=syn.operations
        )
        return Dataset.from_list(rows)
    if not dataset_cfg.path:
        raise ConfigError(f"dataset.path is required for dataset.source={source}: a hub id or a local file/folder.")
    if source == "hub":
        return load_dataset(dataset_cfg.path, dataset_cfg.subset, split=dataset_cfg.split)
    path = Path(dataset_cfg.path).expanduser()
    if not path.exists():
        raise ConfigError(f"dataset.path={dataset_cfg.path} does not exist (dataset.source=local).")
    files = sorted(p for p in path.rglob("*") if p.suffix in LOCAL_FORMATS) if path.is_dir() else [path]
    formats = {LOCAL_FORMATS.get(p.suffix) for p in files}
    if not files or None in formats or len(formats) != 1:
        raise ConfigError(
            f"dataset.path={dataset_cfg.path}: expected .jsonl, .json, .parquet or .csv files of one format, "
            f"found {[p.name for p in files[:5]] or 'none'}."
        )
    return load_dataset(formats.pop(), data_files=[str(p) for p in files], split="train")


def require_columns(dataset: Dataset, dataset_cfg: DictConfig) -> None:
    """Fail with the list of present columns when a configured column is missing."""
    for key in ("prompt_column", "answer_column"):
        column = dataset_cfg[key]
        if column not in dataset.column_names:
            raise ConfigError(
                f"dataset.{key}={column!r} is not a column of the dataset; its columns are {dataset.column_names}. "
                f"Set dataset.{key}=<one of them>."
            )


def build_messages(problem: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The conversational prompt: optional system message, then the problem as the user's turn."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": problem}]


def prompt_token_count(tokenizer: Any, messages: list[dict[str, str]]) -> int:
    """Prompt length in tokens as the trainer will see it (chat template with the generation prompt)."""
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return len(ids)


def fingerprint_rows(rows: list[dict[str, Any]]) -> str:
    """SHA-256 of the prepared rows, so a run records exactly which data it saw."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def prepare_dataset(cfg: DictConfig, tokenizer: Any) -> tuple[Dataset, DataReport]:
    """Load, check and format the training set; raise ConfigError when nothing usable remains."""
    dataset_cfg = cfg.dataset
    raw = load_raw(dataset_cfg)
    require_columns(raw, dataset_cfg)
    if dataset_cfg.max_rows is not None:
        raw = raw.shuffle(seed=cfg.train.seed).select(range(min(dataset_cfg.max_rows, len(raw))))
    report = DataReport(rows_read=len(raw))
    budget = cfg.length.max_prompt_length
    rows = []
    for record in raw:
        problem = record[dataset_cfg.prompt_column]
        gold = record[dataset_cfg.answer_column]
        if not isinstance(problem, str) or not problem.strip():
            report.dropped["empty or missing problem"] += 1
            continue
        if gold is None or not str(gold).strip():
            report.dropped["empty or missing gold answer"] += 1
            continue
        messages = build_messages(problem, dataset_cfg.system_prompt)
        length = prompt_token_count(tokenizer, messages)
        if length > budget:
            report.dropped[f"prompt over length.max_prompt_length={budget} tokens"] += 1
            continue
        report.max_prompt_tokens = max(report.max_prompt_tokens, length)
        rows.append({"prompt": messages, "solution": str(gold)})
    report.rows_kept = len(rows)
    report.fingerprint = fingerprint_rows(rows)
    log.info(report.render())
    if not rows:
        raise ConfigError(
            f"No usable rows in the dataset ({report.rows_read} read; dropped: {dict(report.dropped)}). "
            "Check dataset.prompt_column/answer_column and length.max_prompt_length."
        )
    return Dataset.from_list(rows), report
