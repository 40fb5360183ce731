"""The evaluation benchmarks: where each lives, its columns and its expected size.

Hub ids are those the Open-RS evaluation used (open-rs `src/open_r1/evaluate.py` via lighteval); AIME25 is not in
it and uses math-ai/aime25. Column names of the knoveleng copies and math-ai/aime25 follow those datasets' cards and
could not be checked offline here: `load_benchmark` fails with the columns present if one is wrong. A local file
(`<dir>/<name>.jsonl`, e.g. the team's `../shared/data/eval`, with `id`, `problem`, `answer` and/or `solution`)
replaces the hub with `local_dir`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrs.errors import ConfigError

__all__ = ["BENCHMARKS", "Benchmark", "load_benchmark"]


@dataclass(frozen=True)
class Benchmark:
    name: str
    hub_path: str
    split: str
    problem_column: str
    answer_column: str
    size: int


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("aime24", "HuggingFaceH4/aime_2024", "train", "problem", "answer", 30),
        Benchmark("aime25", "math-ai/aime25", "test", "problem", "answer", 30),
        Benchmark("amc23", "knoveleng/AMC-23", "train", "problem", "answer", 40),
        Benchmark("math500", "HuggingFaceH4/MATH-500", "test", "problem", "answer", 500),
        Benchmark("minerva", "knoveleng/Minerva-Math", "train", "problem", "solution", 272),
        Benchmark("olympiadbench", "knoveleng/OlympiadBench", "train", "question", "answer", 675),
    )
}


def _rows_from_local(name: str, local_dir: str) -> list[dict[str, Any]]:
    from openrs.data.files import read_json_lines

    path = Path(local_dir).expanduser() / f"{name}.jsonl"
    if not path.is_file():
        raise ConfigError(f"Benchmark {name!r}: {path} does not exist (benchmarks_dir={local_dir}).")
    return read_json_lines(path, f"benchmark {name!r} (benchmarks_dir={local_dir})")


def _rows_from_hub(benchmark: Benchmark) -> list[dict[str, Any]]:
    from datasets import load_dataset

    try:
        data = load_dataset(benchmark.hub_path, split=benchmark.split)
    except Exception as err:  # offline, not cached, renamed
        raise ConfigError(
            f"Cannot load benchmark {benchmark.name!r} from the hub ({benchmark.hub_path}, split {benchmark.split}): "
            f"{type(err).__name__}: {str(err)[:200]}. Offline, point benchmarks_dir at local <name>.jsonl files."
        ) from err
    if benchmark.problem_column not in data.column_names:
        raise ConfigError(
            f"Benchmark {benchmark.name!r} ({benchmark.hub_path}) has no column {benchmark.problem_column!r}; "
            f"its columns are {data.column_names}."
        )
    return [
        {"id": f"{benchmark.name}-{i}", "problem": row[benchmark.problem_column], **row} for i, row in enumerate(data)
    ]


def load_benchmark(name: str, local_dir: str | None = None, check_size: bool = True) -> list[dict[str, Any]]:
    """The benchmark's rows, each with at least `id` and `problem`; the row count is checked against the known size."""
    if name not in BENCHMARKS:
        raise ConfigError(f"Unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}.")
    benchmark = BENCHMARKS[name]
    rows = _rows_from_local(name, local_dir) if local_dir else _rows_from_hub(benchmark)
    for index, row in enumerate(rows):
        row.setdefault("id", f"{name}-{index}")
        if not isinstance(row.get("problem"), str):
            raise ConfigError(f"Benchmark {name!r}: row {index} has no text `problem` (keys: {sorted(row)}).")
    if check_size and len(rows) != benchmark.size:
        raise ConfigError(
            f"Benchmark {name!r} has {len(rows)} rows, expected {benchmark.size}: a different version or a partial "
            "file would make scores incomparable."
        )
    return rows
