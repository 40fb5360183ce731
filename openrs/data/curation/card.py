"""The dataset card (`README.md`) written next to a curated dataset: what it is, how it was made, where the numbers
came from, how to load it and how to rebuild it."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from openrs import __version__
from openrs.plan import to_plain
from openrs.provenance import git_state

if TYPE_CHECKING:
    from openrs.data.curation.pipeline import CurationResult

__all__ = ["render_card"]


def _params(params: dict[str, Any]) -> str:
    shown = {key: value for key, value in params.items() if key not in ("benchmarks_dir", "workers", "verify_workers")}
    return ", ".join(f"{key}={json.dumps(value, default=str)}" for key, value in shown.items()) or "defaults"


def _source_line(name: str, spec: DictConfig, rows: int) -> str:
    where = f"{to_plain(spec.source)} `{spec.path}`" + (f" ({spec.subset})" if spec.subset else "")
    limit = f", first {spec.max_rows} rows" if spec.max_rows is not None else ""
    return f"| `{name}` | {where}, split `{spec.split}`{limit} | {rows} |"


def render_card(result: CurationResult, cfg: DictConfig, paths: dict[str, Path]) -> str:
    recipe = cfg.recipe
    state = git_state()
    commit, dirty = state["commit"], state["dirty"]
    columns = sorted({key for row in result.rows for key in row})
    data_name = paths["data"].name
    lines = [
        "---",
        f"pretty_name: {recipe.name} (openrs curation)",
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
        f"# {recipe.name}",
        "",
        (recipe.description or "A math training set curated with openrs.").strip(),
        "",
        f"**{len(result.rows)} rows**, columns {', '.join(f'`{c}`' for c in columns)}.",
        "",
        "## Sources",
        "",
        "| source | from | rows read |",
        "|---|---|---:|",
        *(_source_line(str(name), spec, result.sources.get(str(name), 0)) for name, spec in recipe.sources.items()),
        "",
        "## Steps",
        "",
        "| # | step | params | rows in | rows out | removed | seconds |",
        "|---:|---|---|---:|---:|---|---:|",
    ]
    for report in result.steps:
        removed = "; ".join(f"{reason}: {count}" for reason, count in sorted(report.removed.items())) or "—"
        lines.append(
            f"| {report.index} | `{report.name}` | {_params(report.params)} | {report.rows_in} | {report.rows_out} "
            f"| {removed} | {report.seconds:.1f} |"
        )
    decontamination = [report for report in result.steps if report.name == "decontaminate"]
    if decontamination:
        per_benchmark = decontamination[-1].extra.get("per_benchmark", {})
        lines += [
            "",
            "## Decontamination",
            "",
            "Training problems overlapping an evaluation benchmark problem (word n-gram overlap at or above the "
            "threshold) were removed. Rows removed per benchmark: "
            + (", ".join(f"{name} {count}" for name, count in per_benchmark.items()) or "none")
            + ". Every hit is listed in `decontamination_hits.jsonl`.",
        ]
    if recipe.notes:
        lines += ["", "## Where the numbers come from", ""] + [f"- {note}" for note in recipe.notes]
    overrides = " ".join(sys.argv[1:])
    lines += [
        "",
        "## Use",
        "",
        "```bash",
        f"python -m openrs dataset=jsonl dataset.path={paths['data']} dataset.answer_column=answer",
        "```",
        "",
        "## Reproduce",
        "",
        "```bash",
        f"python -m openrs.data {overrides}".rstrip(),
        "```",
        "",
        f"Built by openrs {__version__} (git {(commit or 'unknown')[:12]}{', dirty tree' if dirty else ''}) on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} in {result.seconds:.1f} s. Per-step details: "
        "`report.json`; removed rows and reasons: `removed.jsonl`.",
        "",
    ]
    return "\n".join(lines)
