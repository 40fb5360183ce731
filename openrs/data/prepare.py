"""Turn a configured source into the training set GRPOTrainer expects: conversational `prompt` + `solution`.

Rows are checked before training starts and the outcome is reported on one screen: rows read, kept, and dropped
with reasons -- empty problem, empty gold, exact duplicate, prompt over the length budget (in tokens of the real
tokenizer and chat template), gold that math-verify cannot parse -- with the first offending rows of each. Prompts
over budget are dropped, never truncated mid-problem. A missing column is an error listing the columns that exist;
dropping more than `dataset.drop_limits` allows is an error that shows the report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from datasets import Dataset, load_dataset

from openrs.config import DatasetConfig, DropLimits, OpenRSConfig
from openrs.data.files import load_data_files, local_data_files
from openrs.data.synthetic import make_arithmetic_dataset
from openrs.errors import ConfigError

log = logging.getLogger(__name__)

#: Why a row is dropped: key (as in `dataset.drop_limits` and `data_report.json`) -> what the report says.
DROP_REASONS = {
    "missing_problem": "empty or missing problem",
    "missing_gold": "empty or missing gold answer",
    "duplicate": "exact duplicate of an earlier problem",
    "over_length": "prompt over length.max_prompt_length",
    "unparseable_gold": "gold answer math-verify cannot parse",
}
_EXAMPLES_PER_REASON = 3
_PROMPT_COLUMN_GUESSES = ("problem", "question", "prompt", "query", "input")
_ANSWER_COLUMN_GUESSES = ("solution", "answer", "final_answer", "gold", "target", "output")


@dataclass
class DataReport:
    """What data preparation read, kept and dropped (and why, with the first offending rows)."""

    rows_read: int = 0
    rows_kept: int = 0
    validation_rows: int = 0
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fingerprint: str = ""
    max_prompt_tokens: int = 0
    prompt_budget: int = 0

    def drop(self, reason: str, index: int, problem: Any, gold: Any, **detail: Any) -> None:
        self.dropped[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < _EXAMPLES_PER_REASON:
            examples.append({"row": index, "problem": _snippet(problem), "gold": _snippet(gold), **detail})

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "train_rows": self.rows_kept - self.validation_rows,
            "validation_rows": self.validation_rows,
            "dropped": dict(self.dropped),
            "examples": self.examples,
            "fingerprint": self.fingerprint,
            "max_prompt_tokens": self.max_prompt_tokens,
            "prompt_budget": self.prompt_budget,
        }

    def render(self) -> str:
        kept = f"kept {self.rows_kept}"
        if self.validation_rows:
            kept += f" (train {self.rows_kept - self.validation_rows}, validation {self.validation_rows})"
        lines = [f"data: read {self.rows_read} rows, {kept}"]
        for reason, count in self.dropped.most_common():
            rows = ", ".join(str(example["row"]) for example in self.examples.get(reason, []))
            text = DROP_REASONS.get(reason, reason)
            first = self.examples.get(reason, [{}])[0]
            sample = f" -- row {first['row']}: {first.get('problem')!r}" if first else ""
            if reason in ("unparseable_gold", "missing_gold") and first:
                sample = f" -- row {first['row']}: gold {first.get('gold')!r}"
            lines.append(f"  dropped {count:>6}  {text} ({reason}); first rows {rows}{sample}")
        lines.append(
            f"  longest kept prompt: {self.max_prompt_tokens} tokens (budget {self.prompt_budget}); "
            f"fingerprint {self.fingerprint[:16]}"
        )
        return "\n".join(lines)


@dataclass
class PreparedData:
    """The training rows, the held-out validation rows (if `dataset.validation_size` > 0) and the report."""

    train: Dataset
    validation: Dataset | None
    report: DataReport


def _snippet(value: Any, limit: int = 120) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _offline() -> bool:
    flags = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes") for name in flags)


def load_hub(dataset_cfg: DatasetConfig) -> Dataset:
    """A hub dataset (or its copy in the local `datasets` cache), with an actionable error when it is unreachable."""
    try:
        return load_dataset(dataset_cfg.path, dataset_cfg.subset, split=dataset_cfg.split)
    except Exception as err:  # datasets raises many types here (connection, not found, offline cache miss)
        mode = "offline mode (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE set)" if _offline() else "the hub"
        raise ConfigError(
            f"Cannot load dataset.path={dataset_cfg.path!r} (split {dataset_cfg.split!r}) from {mode}: "
            f"{type(err).__name__}: {str(err)[:300]}\n"
            "Offline, a hub dataset loads only from the local datasets cache (HF_HOME) after one online load. "
            "Or download it once and train from the copy: dataset=jsonl dataset.path=<file or folder> "
            "(see docs/DATA.md)."
        ) from err


def load_raw(dataset_cfg: DatasetConfig, key: str = "dataset.path") -> Dataset:
    """Read the configured source as a `datasets.Dataset` (no column handling yet); `key` names its path in errors."""
    source = dataset_cfg.source
    if source == "synthetic":
        syn = dataset_cfg.synthetic
        rows = make_arithmetic_dataset(
            syn.num_rows,
            seed=syn.seed,
            max_operand=syn.max_operand,
            operations=syn.operations,
            unique=syn.unique,
            split="train",  # never an expression of the `arithmetic` benchmark
        )
        return Dataset.from_list(rows)
    if not dataset_cfg.path:
        group = key.rsplit(".", 1)[0]
        raise ConfigError(f"{key} is required for {group}.source={source}: a hub id or a local file/folder.")
    if source == "hub":
        return load_hub(dataset_cfg)
    return load_data_files(*local_data_files(dataset_cfg.path, key), key)


def require_columns(dataset: Dataset, dataset_cfg: DatasetConfig) -> None:
    """Fail with the list of present columns (and a likely fix) when a configured column is missing."""
    for key, guesses in (("prompt_column", _PROMPT_COLUMN_GUESSES), ("answer_column", _ANSWER_COLUMN_GUESSES)):
        column = getattr(dataset_cfg, key)
        if column not in dataset.column_names:
            likely = next((name for name in guesses if name in dataset.column_names), None)
            fix = f"dataset.{key}={likely}" if likely else f"dataset.{key}=<one of them>"
            raise ConfigError(
                f"dataset.{key}={column!r} is not a column of the dataset; its columns are {dataset.column_names}. "
                f"Set {fix}."
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


def duplicate_key(problem: str) -> str:
    """What makes two problems the same for the exact-duplicate check: the text with whitespace collapsed."""
    return " ".join(problem.split())


def check_drop_limits(report: DataReport, limits: DropLimits) -> None:
    """Raise when more rows were dropped than `dataset.drop_limits` allows (fractions of the rows read)."""
    if report.rows_read == 0:
        return
    over = []
    total = sum(report.dropped.values()) / report.rows_read
    if total > limits.total:
        over.append(f"{total:.1%} of all rows (dataset.drop_limits.total={limits.total})")
    for reason, count in report.dropped.items():
        fraction = count / report.rows_read
        if fraction > getattr(limits, reason):
            over.append(f"{fraction:.1%} for {reason} (dataset.drop_limits.{reason}={getattr(limits, reason)})")
    if over:
        raise ConfigError(
            "The data checks dropped more rows than allowed: " + "; ".join(over) + ".\n" + report.render() + "\n"
            "Fix the data or column mapping, or accept the drops by raising the limit, "
            "e.g. dataset.drop_limits.total=0.5 (1.0: no limit)."
        )


def _validation_count(size: float, rows: int) -> int:
    if size <= 0:
        return 0
    count = round(size * rows) if size < 1 else int(size)
    if count >= rows:
        raise ConfigError(
            f"dataset.validation_size={size} leaves no training rows ({rows} usable); use a fraction below 1 or "
            "fewer rows."
        )
    return count


def _check_rows(cfg: OpenRSConfig, raw: Dataset, tokenizer: Any, report: DataReport) -> list[dict[str, Any]]:
    dataset_cfg = cfg.dataset
    budget = cfg.length.max_prompt_length
    seen: set[str] = set()
    candidates: list[tuple[int, str, str, list[dict[str, str]], int]] = []
    for index, record in enumerate(raw):
        problem, gold = record[dataset_cfg.prompt_column], record[dataset_cfg.answer_column]
        if not isinstance(problem, str) or not problem.strip():
            report.drop("missing_problem", index, problem, gold)
            continue
        if gold is None or not str(gold).strip():
            report.drop("missing_gold", index, problem, gold)
            continue
        if dataset_cfg.dedupe:
            key = duplicate_key(problem)
            if key in seen:
                report.drop("duplicate", index, problem, gold)
                continue
            seen.add(key)
        messages = build_messages(problem, dataset_cfg.system_prompt)
        length = prompt_token_count(tokenizer, messages)
        if length > budget:
            report.drop("over_length", index, problem, gold, tokens=length)
            continue
        candidates.append((index, problem, str(gold), messages, length))
    parses = _gold_parses([candidate[2] for candidate in candidates]) if dataset_cfg.check_gold else None
    rows = []
    for position, (index, problem, gold, messages, length) in enumerate(candidates):
        if parses is not None and not parses[position]:
            report.drop("unparseable_gold", index, problem, gold)
            continue
        report.max_prompt_tokens = max(report.max_prompt_tokens, length)
        rows.append({"prompt": messages, "solution": gold})
    return rows


def _gold_parses(golds: list[str]) -> list[bool]:
    from openrs.rewards.verify_pool import check_golds  # the verification pool starts only when needed

    return check_golds(golds)


def prepare_dataset(cfg: OpenRSConfig, tokenizer: Any) -> PreparedData:
    """Load, check and format the training (and validation) set; raise ConfigError on unusable data."""
    dataset_cfg = cfg.dataset
    raw = load_raw(dataset_cfg)
    require_columns(raw, dataset_cfg)
    if dataset_cfg.max_rows is not None:
        raw = raw.shuffle(seed=cfg.train.seed).select(range(min(dataset_cfg.max_rows, len(raw))))
    report = DataReport(rows_read=len(raw), prompt_budget=cfg.length.max_prompt_length)
    rows = _check_rows(cfg, raw, tokenizer, report)
    report.rows_kept = len(rows)
    report.fingerprint = fingerprint_rows(rows)
    if not rows:
        raise ConfigError(
            f"No usable rows in the dataset ({report.rows_read} read).\n{report.render()}\n"
            "Check dataset.prompt_column/answer_column and length.max_prompt_length."
        )
    check_drop_limits(report, dataset_cfg.drop_limits)
    held_out = _validation_count(dataset_cfg.validation_size, len(rows))
    validation = None
    if held_out:
        order = list(range(len(rows)))
        random.Random(cfg.train.seed).shuffle(order)
        chosen = set(order[:held_out])
        validation = Dataset.from_list([row for i, row in enumerate(rows) if i in chosen])
        rows = [row for i, row in enumerate(rows) if i not in chosen]
        report.validation_rows = held_out
    log.info(report.render())
    return PreparedData(Dataset.from_list(rows), validation, report)
