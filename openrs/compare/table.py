"""The comparison table: one row per run, as markdown (`comparison.md`) and CSV (`comparison.csv`).

Markdown cells are for reading: reward and accuracy reward with three decimals, truncation in %, pass@1 in % as
`46.7 ± 3.1` (half-width of the confidence interval, as in `openrs.evaluation.report`), `—` when unknown. CSV cells
are for analysis: the numbers as stored (rewards, clipped ratio and pass@1 as fractions, CI bounds as fractions,
gain in points, cost in dollars), empty when unknown.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrs.compare.differs import what_differs
from openrs.compare.runs import EvalResult, Run, last_mean
from openrs.evaluation.report import DISPLAY_NAMES, MISSING, format_score

__all__ = ["Comparison", "Row", "build_comparison", "cost_per_point", "csv_text", "markdown", "md_headers"]

REWARD = "reward"
ACCURACY_REWARD = "rewards/accuracy/mean"
CLIPPED_RATIO = "completions/clipped_ratio"
MEAN_LENGTH = "completions/mean_length"


@dataclass
class Row:
    """One run's cells before formatting; `gain` (points) and `cost_per_point` only with a baseline."""

    run: Run
    differs: str
    reward: float | None
    accuracy_reward: float | None
    truncation_rate: float | None
    mean_length: float | None
    gain: float | None = None
    cost_per_point: float | None = None


@dataclass
class Comparison:
    rows: list[Row]
    benchmarks: list[str]
    last: int
    baseline: Run | None = None


def _gain(run: Run, baseline: Run | None) -> float | None:
    """Avg pass@1 of the run minus the baseline's, in points; None unless both ran the same benchmarks."""
    mine, base = run.final_eval, baseline.final_eval if baseline is not None else None
    if run is baseline or mine is None or base is None or mine.average is None or base.average is None:
        return None
    if set(mine.benchmarks) != set(base.benchmarks):
        return None
    return 100 * (mine.average - base.average)


def cost_per_point(run: Run, baseline: Run | None) -> float | None:
    """Dollars per accuracy point gained over the baseline: cost / (Avg − baseline Avg); None when gain <= 0."""
    gain = _gain(run, baseline)
    cost = run.resources.get("cost_usd")
    if gain is None or gain <= 0 or not isinstance(cost, int | float):
        return None
    return float(cost) / gain


def _benchmarks(runs: Sequence[Run]) -> list[str]:
    names = {name for run in runs if run.final_eval for name in run.final_eval.benchmarks}
    known = [name for name in DISPLAY_NAMES if name in names]
    return known + sorted(names - set(known))


def build_comparison(runs: list[Run], last: int = 10, baseline: Run | None = None) -> Comparison:
    """Rows for `runs` (metrics averaged over the last `last` logged steps), against `baseline` when given."""
    rows = []
    for run, differs in zip(runs, what_differs(runs), strict=True):
        rows.append(
            Row(
                run=run,
                differs=differs,
                reward=last_mean(run.metrics.get(REWARD), last),
                accuracy_reward=last_mean(run.metrics.get(ACCURACY_REWARD), last),
                truncation_rate=last_mean(run.metrics.get(CLIPPED_RATIO), last),
                mean_length=last_mean(run.metrics.get(MEAN_LENGTH), last),
                gain=_gain(run, baseline),
                cost_per_point=cost_per_point(run, baseline),
            )
        )
    return Comparison(rows, _benchmarks(runs), last, baseline)


# ---------------------------------------------------------------------------------------------------- markdown


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return MISSING if value is None else format(scale * value, spec)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _steps(run: Run) -> str:
    if run.steps is None:
        return MISSING
    return f"{run.steps}/{run.max_steps}" if run.max_steps is not None else str(run.steps)


def guard_text(run: Run) -> str:
    """The guardrails that fired, each once with its first step, its actions in the order taken and its count
    (`length_blowup@120 stop`, `no_signal@30 warn x3`, `no_signal@7 rollback then stop x2`); `none` when none did;
    `—` when the run recorded none (older runs, W&B)."""
    if run.guard is None:
        return MISSING
    if not run.guard:
        return "none"
    seen: dict[str, list[dict[str, Any]]] = {}
    for firing in run.guard:
        seen.setdefault(firing.get("detector", "?"), []).append(firing)
    parts = []
    for detector, firings in seen.items():
        actions = " then ".join(dict.fromkeys(str(f.get("action")) for f in firings))
        count = f" x{len(firings)}" if len(firings) > 1 else ""
        parts.append(f"{detector}@{firings[0].get('step')} {actions}{count}")
    return "; ".join(parts)


def md_headers(comparison: Comparison) -> list[str]:
    """The markdown columns in order (benchmark columns and the baseline's two depend on the comparison)."""
    headers = ["run", "what differs", "status", "steps", "guardrails", "reward", "accuracy reward", "truncated (%)",
               "mean length"]  # fmt: skip
    headers += [DISPLAY_NAMES.get(name, name) for name in comparison.benchmarks]
    headers += ["Avg", "eval from", "GPU-hours", "cost ($)"]
    if comparison.baseline is not None:
        headers += ["Δ Avg (pts)", "$ / point"]
    return headers


def _md_cells(row: Row, comparison: Comparison) -> list[str]:
    run, result = row.run, row.run.final_eval
    cells = [
        _escape(run.name),
        f"`{_escape(row.differs)}`",
        _escape(run.status),
        _steps(run),
        _escape(guard_text(run)),
        _fmt(row.reward, ".3f"),
        _fmt(row.accuracy_reward, ".3f"),
        _fmt(row.truncation_rate, ".1f", 100),
        _fmt(row.mean_length, ".1f"),
    ]
    benchmarks = result.benchmarks if result else {}
    cells += [format_score(benchmarks.get(name)) for name in comparison.benchmarks]
    cells += [
        _fmt(result.average if result else None, ".1f", 100),
        _escape(result.source) if result else MISSING,
        _fmt(_resource(run, "gpu_hours"), ".2f"),
        _fmt(_resource(run, "cost_usd"), ".2f"),
    ]
    if comparison.baseline is not None:
        cells += [_fmt(row.gain, "+.1f"), _fmt(row.cost_per_point, ".2f")]
    return cells


def _resource(run: Run, key: str) -> float | None:
    value = run.resources.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _notes(comparison: Comparison) -> list[str]:
    notes = [
        "guardrails: each detector that fired during training (summary.json `guard`), at its first firing's step, "
        "with the actions it took in order (`rollback then stop`) and how often it fired; `none`: none fired "
        "(docs/GUARDRAILS.md).",
        f"reward, accuracy reward (`{ACCURACY_REWARD}`), truncated (`{CLIPPED_RATIO}`: share of completions that "
        f"hit the length limit) and mean length (tokens): mean over the last {comparison.last} logged steps.",
        "Benchmarks: pass@1 in % of the run's newest evaluation (`eval from`: `<preset>/final` after training, else "
        "the highest `<preset>/checkpoint-N`, else summary.json / the W&B summary without interval); `x ± h`: h is "
        "the half-width of the confidence interval; `—`: not evaluated.",
        "Avg: the evaluation's own average pass@1 over the benchmarks that run was evaluated on.",
        "GPU-hours and cost: summary.json `resources` (wall time x GPUs held; `—` when the price or the record "
        "is unknown, e.g. for W&B runs).",
    ]
    baseline = comparison.baseline
    if baseline is None:
        notes.append("No `--baseline`: no cost-per-point column (give `--baseline RUN` to compare against one).")
    else:
        notes.append(
            f"Δ Avg and $ / point against the baseline `{_escape(baseline.name)}`: cost / (Avg − baseline Avg) in "
            "dollars per point; `—` for the baseline itself, no gain (≤ 0), different benchmark sets or unknown cost."
        )
    return [f"- {note}" for note in notes]


def markdown(comparison: Comparison) -> str:
    """The markdown table, then notes saying what each column holds."""
    headers = md_headers(comparison)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md_cells(row, comparison)) + " |" for row in comparison.rows]
    return "\n".join([*lines, "", *_notes(comparison)]) + "\n"


# ---------------------------------------------------------------------------------------------------- csv


def _bench_cells(name: str, result: EvalResult | None) -> dict[str, Any]:
    bench = (result.benchmarks.get(name) if result else None) or {}
    ci = bench.get("ci") or [None, None]
    return {f"{name}_pass@1": bench.get("pass@1"), f"{name}_ci_low": ci[0], f"{name}_ci_high": ci[1]}


def csv_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One dict per run with the CSV's columns (see the module docstring for units)."""
    out = []
    for row in comparison.rows:
        run, result = row.run, row.run.final_eval
        cells: dict[str, Any] = {
            "run": run.name,
            "what_differs": row.differs,
            "status": run.status,
            "steps": run.steps,
            "max_steps": run.max_steps,
            "guardrails": guard_text(run) if run.guard is not None else None,
            "reward": row.reward,
            "accuracy_reward": row.accuracy_reward,
            "truncation_rate": row.truncation_rate,
            "mean_length": row.mean_length,
        }
        for name in comparison.benchmarks:
            cells |= _bench_cells(name, result)
        cells |= {
            "average_pass@1": result.average if result else None,
            "eval_from": result.source if result else None,
            "gpu_hours": _resource(run, "gpu_hours"),
            "cost_usd": _resource(run, "cost_usd"),
        }
        if comparison.baseline is not None:
            cells |= {"gain_points": row.gain, "cost_per_point_usd": row.cost_per_point}
        cells["source"] = run.source
        out.append(cells)
    return out


def csv_text(comparison: Comparison) -> str:
    rows = csv_rows(comparison)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["run"], lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: "" if v is None else v for k, v in row.items()} for row in rows])
    return buffer.getvalue()


def write_tables(comparison: Comparison, out_dir: Path) -> tuple[Path, Path]:
    """`comparison.md` and `comparison.csv` in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, csv_path = out_dir / "comparison.md", out_dir / "comparison.csv"
    md_path.write_text(markdown(comparison), encoding="utf-8")
    csv_path.write_text(csv_text(comparison), encoding="utf-8")
    return md_path, csv_path
