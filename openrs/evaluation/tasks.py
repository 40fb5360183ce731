"""What is evaluated: the problems of each benchmark, their golds, prompts and scoring schemes.

Benchmarks come from :mod:`openrs.benchmarks` (the hub, or `eval.benchmarks_dir` with `<name>.jsonl` files), from
`eval.files` (any jsonl with `id`, `problem` and `answer` or `solution`), or are `arithmetic` (32 synthetic problems,
for CPU runs with the tiny model). A run's held-out split (`validation.jsonl`, conversational prompts) is the
benchmark `validation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrs.benchmarks import BENCHMARKS, load_benchmark
from openrs.config import EvalConfig
from openrs.data.files import read_json_lines
from openrs.data.synthetic import make_arithmetic_dataset
from openrs.errors import ConfigError

__all__ = [
    "ARITHMETIC_SIZE",
    "Item",
    "check_benchmark_name",
    "load_items",
    "load_validation_items",
    "render_prompt",
    "scheme_for",
]

ARITHMETIC_SIZE = 32
#: How each benchmark's gold is extracted in the Open-RS evaluation (lighteval tasks in open-rs evaluate.py).
_GOLD_AS_EXPRESSION = frozenset({"aime24", "aime25", "amc23"})


@dataclass(frozen=True)
class Item:
    """One problem to evaluate."""

    benchmark: str
    id: str
    problem: str
    gold: str | None
    scheme: str  # a key of openrs.rewards.math_verify_utils.SCHEMES
    messages: Any = None  # a ready conversation (validation rows: the training prompt) instead of the template


def scheme_for(benchmark: str, scoring: str) -> str:
    """The verification scheme: gold as an expression (AIME, AMC) or as LaTeX (the rest), with or without fixes.
    openrs's own sets have no published numbers to match, so they always get the fixes (without them an echo of the
    question, `7 + 5`, counts as the number it evaluates to): `validation` (from the training data) is scored as the
    training reward is, `arithmetic` with lighteval's extraction, where a plain final answer (`5 + 7 = 12`) counts."""
    if benchmark == "validation":
        return "recipe"
    if benchmark == "arithmetic":
        return "latex_gold_fixed"
    base = "expr_gold" if benchmark in _GOLD_AS_EXPRESSION else "latex_gold"
    return f"{base}_fixed" if scoring == "fixed" else base


def _text(value: Any) -> str | None:
    return None if value is None or not str(value).strip() else str(value)


def _gold(row: dict[str, Any], benchmark: str) -> str | None:
    spec = BENCHMARKS.get(benchmark)
    preferred = [spec.answer_column] if spec else []
    for column in [*preferred, "answer", "solution"]:
        if _text(row.get(column)):
            return str(row[column])
    return None


def _benchmark_rows(name: str, eval_cfg: EvalConfig) -> list[dict[str, Any]]:
    if name in eval_cfg.files:
        rows = read_json_lines(Path(eval_cfg.files[name]).expanduser(), f"eval.files.{name}")
        for index, row in enumerate(rows):
            if not isinstance(row.get("problem"), str):
                raise ConfigError(f"eval.files.{name}: row {index + 1} has no text `problem` (keys: {sorted(row)}).")
            row.setdefault("id", f"{name}-{index}")
        return rows
    if name == "arithmetic":
        rows = make_arithmetic_dataset(ARITHMETIC_SIZE, seed=1234, max_operand=9, unique=True, split="eval")
        return [{"id": f"arithmetic-{i}", **row} for i, row in enumerate(rows)]
    check_benchmark_name(name, eval_cfg)
    return load_benchmark(name, eval_cfg.benchmarks_dir, check_size=eval_cfg.check_counts)


def check_benchmark_name(name: str, eval_cfg: EvalConfig) -> None:
    """A benchmark the evaluation can load: a registry name, `arithmetic`, or an `eval.files` entry whose file exists.
    Cheap (nothing is read), so a run checks it before training when it will evaluate afterwards."""
    if name in eval_cfg.files:
        if not Path(eval_cfg.files[name]).expanduser().is_file():
            raise ConfigError(f"eval.files.{name}={eval_cfg.files[name]}: no such file.")
        return
    if name != "arithmetic" and name not in BENCHMARKS:
        raise ConfigError(
            f"eval.benchmarks: unknown benchmark {name!r}; known: {sorted(BENCHMARKS)} and 'arithmetic', or add "
            f"eval.files.{name}=<jsonl with id, problem, answer>."
        )


def load_items(
    eval_cfg: EvalConfig, benchmarks: list[str] | None = None, max_problems: int | None = None
) -> list[Item]:
    """Every problem of the configured benchmarks (or `benchmarks`), at most `max_problems` of each."""
    names = list(benchmarks if benchmarks is not None else eval_cfg.benchmarks)
    if not names:
        raise ConfigError("eval.benchmarks is empty.")
    for name in eval_cfg.k_by_benchmark:
        if name != "arithmetic" and name not in BENCHMARKS and name not in eval_cfg.files:
            raise ConfigError(
                f"eval.k_by_benchmark.{name}: unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}, 'arithmetic' "
                "and the eval.files keys."
            )
    limit = max_problems if max_problems is not None else eval_cfg.max_problems
    scoring = eval_cfg.scoring.value
    items: list[Item] = []
    for name in names:
        rows = _benchmark_rows(name, eval_cfg)
        if limit is not None:
            rows = rows[:limit]
        ids = [str(row["id"]) for row in rows]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"Benchmark {name!r} repeats problem ids; every id must be unique.")
        scheme = scheme_for(name, scoring)
        items.extend(Item(name, str(row["id"]), row["problem"], _gold(row, name), scheme) for row in rows)
    return items


def load_validation_items(path: Path, scoring: str) -> list[Item]:
    """A training run's `validation.jsonl` (conversational `prompt` + `solution`) as the benchmark `validation`."""
    items = []
    for index, row in enumerate(read_json_lines(path, "the validation split")):
        user_turns = [m["content"] for m in row["prompt"] if m.get("role") == "user"]
        gold, scheme = _text(row.get("solution")), scheme_for("validation", scoring)
        items.append(Item("validation", f"validation-{index}", user_turns[-1], gold, scheme, row["prompt"]))
    return items


def render_prompt(item: Item, eval_cfg: EvalConfig, tokenizer: Any) -> str:
    """The model's input: the template around the problem, then the chat template (or the bare text). A validation
    item keeps the conversation it was trained with."""
    if item.messages is not None:
        return tokenizer.apply_chat_template(item.messages, tokenize=False, add_generation_prompt=True)
    user = str(eval_cfg.prompt_template).replace("{problem}", item.problem)
    if not eval_cfg.use_chat_template:
        return user
    messages = [{"role": "system", "content": eval_cfg.system_prompt}] if eval_cfg.system_prompt else []
    messages.append({"role": "user", "content": user})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
