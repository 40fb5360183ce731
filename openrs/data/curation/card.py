"""The dataset card (`README.md`) written next to a curated dataset: what it is, how it was made, where the numbers
came from, how to load it and how to rebuild it."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openrs import __version__
from openrs.data.curation.base import CurationResult, Row, StepReport
from openrs.data.curation.config import CurateConfig, RecipeConfig, SourceSpec
from openrs.provenance import git_state

__all__ = ["render_card"]


def _params(params: dict[str, Any]) -> str:
    shown = {key: value for key, value in params.items() if key not in ("benchmarks_dir", "workers", "verify_workers")}
    return ", ".join(f"{key}={json.dumps(value, default=str)}" for key, value in shown.items()) or "defaults"


def _source_line(name: str, spec: SourceSpec, rows: int) -> str:
    where = f"{spec.source} `{spec.path}`" + (f" ({spec.subset})" if spec.subset else "")
    limit = f", first {spec.max_rows} rows" if spec.max_rows is not None else ""
    return f"| `{name}` | {where}, split `{spec.split}`{limit} | {rows} |"


def render_card(result: CurationResult, cfg: CurateConfig, paths: dict[str, Path]) -> str:
    """The dataset card: front matter, overview, sources, steps, decontamination, notes, use, reproduce, build."""
    recipe = cfg.recipe
    lines = [
        *_front_matter(recipe.name, paths["data"].name),
        *_overview(recipe, result.rows),
        *_sources_table(recipe, result.sources),
        *_steps_table(result.steps),
        *_decontamination_section(result.steps),
        *_notes_section(recipe.notes),
        *_use_and_reproduce(paths["data"]),
        _build_line(result.seconds),
        "",
    ]
    return "\n".join(lines)


def _front_matter(name: str, data_name: str) -> list[str]:
    """The Hugging Face YAML header: pretty name, task, language and the data file, then a blank line."""
    return [
        "---",
        f"pretty_name: {name} (openrs curation)",
        "task_categories:",
        "- text-generation",
        "language:",
        "- en",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {data_name}",
        "---",
        "",
    ]


def _overview(recipe: RecipeConfig, rows: list[Row]) -> list[str]:
    """The title, the recipe's description and the row count with the column names."""
    columns = sorted({key for row in rows for key in row})
    return [
        f"# {recipe.name}",
        "",
        (recipe.description or "A math training set curated with openrs.").strip(),
        "",
        f"**{len(rows)} rows**, columns {', '.join(f'`{c}`' for c in columns)}.",
        "",
    ]


def _sources_table(recipe: RecipeConfig, rows_read: dict[str, int]) -> list[str]:
    """The "Sources" section: one table line per source with the rows read from it."""
    return [
        "## Sources",
        "",
        "| source | from | rows read |",
        "|---|---|---:|",
        *(_source_line(str(name), spec, rows_read.get(str(name), 0)) for name, spec in recipe.sources.items()),
        "",
    ]


def _steps_table(steps: list[StepReport]) -> list[str]:
    """The "Steps" section: one table line per step with its params, row counts, removals and time."""
    lines = [
        "## Steps",
        "",
        "| # | step | params | rows in | rows out | removed | seconds |",
        "|---:|---|---|---:|---:|---|---:|",
    ]
    for report in steps:
        removed = "; ".join(f"{reason}: {count}" for reason, count in sorted(report.removed.items())) or "—"
        lines.append(
            f"| {report.index} | `{report.name}` | {_params(report.params)} | {report.rows_in} | {report.rows_out} "
            f"| {removed} | {report.seconds:.1f} |"
        )
    return lines


def _decontamination_section(steps: list[StepReport]) -> list[str]:
    """The "Decontamination" section from the last ``decontaminate`` step; none without one."""
    decontamination = [report for report in steps if report.name == "decontaminate"]
    if not decontamination:
        return []
    per_benchmark = decontamination[-1].extra.get("per_benchmark", {})
    return [
        "",
        "## Decontamination",
        "",
        "Training problems overlapping an evaluation benchmark problem (word n-gram overlap at or above the "
        "threshold) were removed. Rows removed per benchmark: "
        + (", ".join(f"{name} {count}" for name, count in per_benchmark.items()) or "none")
        + ". Every hit is listed in `decontamination_hits.jsonl`.",
    ]


def _notes_section(notes: list[str]) -> list[str]:
    """The "Where the numbers come from" section listing the recipe's notes; none without notes."""
    if not notes:
        return []
    return ["", "## Where the numbers come from", ""] + [f"- {note}" for note in notes]


def _use_and_reproduce(data_path: Path) -> list[str]:
    """The "Use" command (train on the data) and the "Reproduce" command (this run's overrides), then a blank line."""
    overrides = " ".join(sys.argv[1:])
    return [
        "",
        "## Use",
        "",
        "```bash",
        f"python -m openrs dataset=jsonl dataset.path={data_path} dataset.answer_column=answer",
        "```",
        "",
        "## Reproduce",
        "",
        "```bash",
        f"python -m openrs.data {overrides}".rstrip(),
        "```",
        "",
    ]


def _build_line(seconds: float) -> str:
    """Which openrs version and git commit built the data, when, how long it took, and where the details are."""
    state = git_state()
    commit, dirty = state["commit"], state["dirty"]
    return (
        f"Built by openrs {__version__} (git {(commit or 'unknown')[:12]}{', dirty tree' if dirty else ''}) on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} in {seconds:.1f} s. Per-step details: "
        "`report.json`; removed rows and reasons: `removed.jsonl`."
    )
