"""Reports over `results.json` files: a Table-2 style markdown table, per-checkpoint curves, plots, best checkpoint.

Table cells are pass@1 in % with one decimal. When a result has a confidence interval the cell reads
`46.7 ± 3.1`, where 3.1 is the half-width of that interval, (hi - lo) / 2, in points (when it has only a
standard error and k > 1: z * se at its confidence level). `—` marks a benchmark that was not evaluated.
Matplotlib is imported only inside `plot_run`, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

from openrs.errors import ConfigError
from openrs.jsonl import read_jsonl
from openrs.resume import checkpoint_dirs

PAPER_SOURCE = "Open-RS, arXiv 2503.16219, Table 2"
PAPER_PROTOCOL = "lighteval, temperature 0.6, top_p 0.95, up to 32768 new tokens, 1 sample per problem, one run"

# Table 2 columns in the paper's order: (our benchmark name, the paper's column header).
TABLE2_COLUMNS: tuple[tuple[str, str], ...] = (
    ("aime24", "AIME24"),
    ("math500", "MATH-500"),
    ("amc23", "AMC23"),
    ("minerva", "Minerva"),
    ("olympiadbench", "OlympiadBench"),
)
# Benchmarks we evaluate that Table 2 lacks: extra columns after Avg, only when some row has them.
EXTRA_COLUMNS: tuple[tuple[str, str], ...] = (("aime25", "AIME25"),)
DISPLAY_NAMES = dict(TABLE2_COLUMNS + EXTRA_COLUMNS)

# Zero-shot pass@1 in %, copied from Open-RS, arXiv 2503.16219, Table 2; "avg" is the paper's own Avg column.
PAPER_TABLE2: dict[str, dict[str, float]] = {
    "DeepSeek-R1-Distill-Qwen-1.5B": {
        "aime24": 28.8,
        "math500": 82.8,
        "amc23": 62.9,
        "minerva": 26.5,
        "olympiadbench": 43.3,
        "avg": 48.9,
    },
    "Still-3-1.5B-Preview": {
        "aime24": 32.5,
        "math500": 84.4,
        "amc23": 66.7,
        "minerva": 29.0,
        "olympiadbench": 45.4,
        "avg": 51.6,
    },
    "DeepScaleR-1.5B-Preview": {
        "aime24": 43.1,
        "math500": 87.8,
        "amc23": 73.6,
        "minerva": 30.2,
        "olympiadbench": 50.0,
        "avg": 57.0,
    },
    "Open-RS1 (100 steps)": {
        "aime24": 30.0,
        "math500": 83.8,
        "amc23": 70.0,
        "minerva": 29.0,
        "olympiadbench": 52.4,
        "avg": 53.0,
    },
    "Open-RS2 (50 steps)": {
        "aime24": 30.0,
        "math500": 85.4,
        "amc23": 80.0,
        "minerva": 30.5,
        "olympiadbench": 52.4,
        "avg": 55.7,
    },
    "Open-RS3 (50 steps)": {
        "aime24": 46.7,
        "math500": 84.4,
        "amc23": 72.5,
        "minerva": 26.8,
        "olympiadbench": 51.3,
        "avg": 56.3,
    },
}

SOBER_SOURCE = "A Sober Look at LM Reasoning, arXiv 2504.07086 (bethgelab/sober-reasoning data.json at 8fceffd)"
SOBER_PROTOCOL = (
    "lighteval, temperature 0.8, top_p 0.9, 32768 tokens (prompt + completion), one sample per seed, 10 seeds for "
    "AIME24/AIME25/AMC23 and 3 for MATH-500/Minerva/OlympiadBench"
)
# The leaderboard's column order.
SOBER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("aime24", "AIME24"),
    ("aime25", "AIME25"),
    ("amc23", "AMC23"),
    ("math500", "MATH-500"),
    ("minerva", "Minerva"),
    ("olympiadbench", "OlympiadBench"),
)
# pass@1 in %, mean ± std over seeds, copied from SOBER_SOURCE.
SOBER_PUBLISHED: dict[str, dict[str, tuple[float, float]]] = {
    "DeepSeek-R1-Distill-Qwen-1.5B": {
        "aime24": (28.7, 4.8),
        "aime25": (22.3, 5.2),
        "amc23": (71.5, 3.9),
        "math500": (84.9, 0.3),
        "minerva": (30.5, 1.0),
        "olympiadbench": (52.4, 0.4),
    },
    "Open-RS1": {
        "aime24": (28.9, 6.0),
        "aime25": (21.3, 4.2),
        "amc23": (75.0, 3.3),
        "math500": (85.1, 0.8),
        "minerva": (30.4, 0.2),
        "olympiadbench": (53.2, 1.9),
    },
    "Open-RS2": {
        "aime24": (31.3, 7.7),
        "aime25": (22.7, 5.6),
        "amc23": (73.0, 5.7),
        "math500": (84.1, 0.2),
        "minerva": (29.2, 1.1),
        "olympiadbench": (53.7, 0.6),
    },
    "Open-RS3": {
        "aime24": (29.7, 4.6),
        "aime25": (24.7, 6.5),
        "amc23": (69.2, 5.5),
        "math500": (84.2, 1.1),
        "minerva": (28.6, 2.3),
        "olympiadbench": (51.8, 0.8),
    },
}

MISSING = "—"
VALIDATION = "validation"
TRAINING_KEYS: tuple[str, ...] = ("completions/mean_length", "completions/clipped_ratio")


# ---------------------------------------------------------------------------------------------------- table


def load_results(path: Path) -> dict[str, Any]:
    """One `results.json` (or a directory holding one) as a dict."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    return json.loads(path.read_text(encoding="utf-8"))


def half_width(bench: dict[str, Any]) -> float | None:
    """The ± of a benchmark result as a fraction: CI half-width, else z * se when k > 1, else None."""
    ci = bench.get("ci")
    if ci is not None and len(ci) == 2 and None not in ci:
        return (float(ci[1]) - float(ci[0])) / 2
    se = bench.get("se")
    if se is not None and int(bench.get("k", 1)) > 1:
        z = NormalDist().inv_cdf(0.5 + float(bench.get("confidence", 0.95)) / 2)
        return z * float(se)
    return None


def format_score(bench: dict[str, Any] | None) -> str:
    """`46.7 ± 3.1` (pass@1 and half-width in %), `46.7` without an interval, `—` when not evaluated."""
    if bench is None or bench.get("pass@1") is None:
        return MISSING
    cell = f"{100 * float(bench['pass@1']):.1f}"
    width = half_width(bench)
    return cell if width is None else f"{cell} ± {100 * width:.1f}"


def table2_average(results: dict[str, Any]) -> float | None:
    """Mean pass@1 (fraction) over the five Table 2 benchmarks; None unless all five were evaluated."""
    scores = [(results.get("benchmarks", {}).get(name) or {}).get("pass@1") for name, _ in TABLE2_COLUMNS]
    if any(score is None for score in scores):
        return None
    return sum(float(score) for score in scores) / len(scores)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _escape(label: str) -> str:
    return label.replace("|", "\\|")


def _extra_columns(rows: Sequence[tuple[str, dict]]) -> list[tuple[str, str]]:
    """AIME25 and any other benchmark some row has beyond Table 2's five (custom files, `arithmetic`), in order."""
    table2 = {name for name, _ in TABLE2_COLUMNS}
    present = [name for _, results in rows for name in results.get("benchmarks", {}) if name not in table2]
    known = [col for col in EXTRA_COLUMNS if col[0] in present]
    others = [(name, name) for name in dict.fromkeys(present) if name not in DISPLAY_NAMES]
    return known + others


def _our_row(label: str, results: dict[str, Any], extras: Sequence[tuple[str, str]]) -> str:
    benchmarks = results.get("benchmarks", {})
    cells = [format_score(benchmarks.get(name)) for name, _ in TABLE2_COLUMNS]
    average = table2_average(results)
    cells.append(MISSING if average is None else f"{100 * average:.1f}")
    cells += [format_score(benchmarks.get(name)) for name, _ in extras]
    return _row([_escape(label), *cells])


def _paper_rows(n_extra: int) -> list[str]:
    width = len(TABLE2_COLUMNS) + 1 + n_extra
    lines = [_row([f"*published: {PAPER_SOURCE}*", *([""] * width)])]
    for model, scores in PAPER_TABLE2.items():
        cells = [f"{scores[name]:.1f}" for name, _ in TABLE2_COLUMNS] + [f"{scores['avg']:.1f}"]
        lines.append(_row([model, *cells, *([MISSING] * n_extra)]))
    return lines


def _k_summary(results: dict[str, Any], names: Sequence[str]) -> str:
    """`k=8`, or `k=8 (AIME24, AMC23), k=1 (MATH-500)` when the benchmarks differ."""
    by_k: dict[int, list[str]] = {}
    for name in names:
        bench = results.get("benchmarks", {}).get(name)
        if bench is not None:
            by_k.setdefault(int(bench.get("k", 1)), []).append(DISPLAY_NAMES.get(name, name))
    if len(by_k) == 1:
        return f"k={next(iter(by_k))}"
    return ", ".join(f"k={k} ({', '.join(group)})" for k, group in sorted(by_k.items(), reverse=True))


def _confidences(rows: Sequence[tuple[str, dict]], names: Sequence[str]) -> list[float]:
    levels = {
        float(bench.get("confidence", 0.95))
        for _, results in rows
        for name in names
        if (bench := results.get("benchmarks", {}).get(name)) is not None and half_width(bench) is not None
    }
    return sorted(levels)


def _footnotes(rows: Sequence[tuple[str, dict]], names: Sequence[str], include_paper: bool) -> list[str]:
    notes = ["Scores: pass@1 in %, one decimal; `—`: not evaluated."]
    levels = _confidences(rows, names)
    if levels:
        pct = "/".join(f"{100 * level:g}%" for level in levels)
        notes.append(
            f"`x ± h`: h is the half-width of the {pct} confidence interval of pass@1 (z·se without an interval)."
        )
    notes.append("Avg: unweighted mean of pass@1 over the five Table 2 benchmarks (AIME25 excluded, as in the paper).")
    for label, results in rows:
        missing = [header for name, header in TABLE2_COLUMNS if name not in results.get("benchmarks", {})]
        if missing:
            notes.append(
                f"{_escape(label)}: Avg `—` because {', '.join(missing)} not evaluated; "
                "a mean over fewer benchmarks is not comparable with the paper's Avg."
            )
    if rows:
        ours = "; ".join(f"{_escape(label)}: {_k_summary(results, names)}" for label, results in rows)
        notes.append(f"Our protocol: pass@1 is the mean over k samples per problem ({ours}).")
    if include_paper:
        notes.append(
            f"Published rows ({PAPER_SOURCE}): {PAPER_PROTOCOL}, no interval. One-sample scores on small benchmarks "
            "such as AIME24 (30 problems) move by several points between seeds (arXiv 2504.07086): a gap smaller "
            "than our ± is not evidence of a difference."
        )
    return [f"- {note}" for note in notes]


def table2_markdown(rows: Sequence[tuple[str, dict]], include_paper: bool = True) -> str:
    """A markdown table in the layout of the paper's Table 2: our rows, then the published rows, then notes.

    `rows` are (label, results.json dict) pairs. Columns: AIME24, MATH-500, AMC23, Minerva, OlympiadBench, Avg,
    then AIME25 when some row has it (Table 2 does not). Cells: see the module docstring.
    """
    extras = _extra_columns(rows)
    headers = [header for _, header in TABLE2_COLUMNS] + ["Avg"] + [header for _, header in extras]
    lines = [_row(["Model", *headers]), "|---" + "|---:" * len(headers) + "|"]
    lines += [_our_row(label, results, extras) for label, results in rows]
    if include_paper:
        lines += _paper_rows(len(extras))
    names = [name for name, _ in TABLE2_COLUMNS] + [name for name, _ in extras]
    return "\n".join([*lines, "", *_footnotes(rows, names, include_paper)]) + "\n"


def has_seed_spread(rows: Sequence[tuple[str, dict]]) -> bool:
    """Whether some row has pass@1 per seed (two or more seeds) on some benchmark."""
    return any("seeds" in bench for _, results in rows for bench in results.get("benchmarks", {}).values())


def format_seed_score(bench: dict[str, Any] | None) -> str:
    """`28.7 ± 4.8 (± 3.1)`: mean ± std of pass@1 over seeds, then the interval's half-width over problems."""
    if bench is None or "seeds" not in bench:
        return MISSING
    seeds = bench["seeds"]
    cell = f"{100 * seeds['mean']:.1f} ± {100 * seeds['std']:.1f}"
    width = half_width(bench)
    return cell if width is None else f"{cell} (± {100 * width:.1f})"


def _sober_protocol_gaps(results: dict[str, Any]) -> list[str]:
    """The settings of one row that differ from the sober protocol's (its published rows are not comparable then)."""
    settings = results.get("eval") or {}
    wanted = {"temperature": 0.8, "top_p": 0.9, "max_new_tokens": 32768}
    return [f"{key}={settings.get(key)}" for key, value in wanted.items() if settings.get(key) != value]


def seed_table_markdown(rows: Sequence[tuple[str, dict]], include_published: bool = True) -> str:
    """Mean ± std of pass@1 over seeds per benchmark (the sober leaderboard's columns), our interval beside it, then
    that leaderboard's published rows."""
    headers = [header for _, header in SOBER_COLUMNS]
    lines = [_row(["Model", *headers]), "|---" + "|---:" * len(headers) + "|"]
    for label, results in rows:
        benchmarks = results.get("benchmarks", {})
        lines.append(_row([_escape(label), *(format_seed_score(benchmarks.get(name)) for name, _ in SOBER_COLUMNS)]))
    if include_published:
        lines.append(_row([f"*published: {SOBER_SOURCE}*", *([""] * len(headers))]))
        for model, scores in SOBER_PUBLISHED.items():
            cells = [f"{scores[name][0]:.1f} ± {scores[name][1]:.1f}" for name, _ in SOBER_COLUMNS]
            lines.append(_row([model, *cells]))
    notes = [
        "Cells: mean ± sample std (ddof=1) over seeds of each seed's pass@1 in %; in parentheses our interval's "
        "half-width over problems (the footnotes above). A std over 3 to 10 seeds is itself uncertain.",
    ]
    if include_published:
        notes.append(f"Published rows ({SOBER_SOURCE}): {SOBER_PROTOCOL}.")
        for label, results in rows:
            gaps = _sober_protocol_gaps(results)
            if gaps:
                notes.append(f"{_escape(label)}: not the sober protocol ({', '.join(gaps)}); compare with care.")
    return "\n".join(["### Over seeds", "", *lines, "", *[f"- {note}" for note in notes]]) + "\n"


def report_markdown(rows: Sequence[tuple[str, dict]], include_paper: bool = True) -> str:
    """`table.md`: the Table 2 layout, then, when some row was drawn with several seeds, the over-seeds table."""
    text = table2_markdown(rows, include_paper)
    if has_seed_spread(rows):
        text += "\n" + seed_table_markdown(rows, include_paper)
    return text


# ---------------------------------------------------------------------------------------------------- curves


def _checkpoint_results(eval_dir: Path) -> list[tuple[int, Path]]:
    """(step, results.json) for every `checkpoint-<step>/results.json` under eval_dir, sorted by step."""
    return [(step, path / "results.json") for step, path in checkpoint_dirs(eval_dir, containing="results.json")]


def _average(results: dict[str, Any]) -> float | None:
    """The results' own average pass@1, else the mean over its benchmarks."""
    average = (results.get("average") or {}).get("pass@1")
    if average is not None:
        return float(average)
    scores = [b["pass@1"] for b in results.get("benchmarks", {}).values() if b.get("pass@1") is not None]
    return sum(scores) / len(scores) if scores else None


def run_curves(run_dir: Path, eval_name: str) -> list[dict[str, Any]]:
    """Per evaluated checkpoint, sorted by step: `{"step", <benchmark>: pass@1, "average", "ci", "results"}`.

    `ci` maps benchmark -> [lo, hi] (fractions) where the results have one; `results` is the file read.
    """
    curves = []
    for step, path in _checkpoint_results(Path(run_dir) / "eval" / eval_name):
        results = load_results(path)
        point: dict[str, Any] = {"step": step}
        cis: dict[str, list[float]] = {}
        for name, bench in results.get("benchmarks", {}).items():
            point[name] = bench.get("pass@1")
            if bench.get("ci") is not None:
                cis[name] = list(bench["ci"])
        point.update(average=_average(results), ci=cis, results=str(path))
        curves.append(point)
    return curves


def training_curves(run_dir: Path) -> list[dict[str, Any]]:
    """From `metrics.jsonl`: `{"step", "completions/mean_length"[, "completions/clipped_ratio"]}` by step.

    Lines without a mean length (the final train summary) and a half-written last line are skipped; a step
    logged twice (a resumed run) keeps its last record.
    """
    by_step: dict[int, dict[str, Any]] = {}
    for record in read_jsonl(Path(run_dir) / "metrics.jsonl"):
        if record.get(TRAINING_KEYS[0]) is None or "step" not in record:
            continue
        by_step[int(record["step"])] = {"step": int(record["step"])} | {
            key: record[key] for key in TRAINING_KEYS if record.get(key) is not None
        }
    return [by_step[step] for step in sorted(by_step)]


# ---------------------------------------------------------------------------------------------------- plots


def _new_figure():
    """A Figure on an Agg canvas (no pyplot, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _benchmark_order(curves: Sequence[dict[str, Any]]) -> list[str]:
    reserved = {"step", "average", "ci", "results"}
    names = {key for point in curves for key in point if key not in reserved}
    known = [name for name in DISPLAY_NAMES if name in names]
    return known + sorted(names - set(known))


def _plot_accuracy(curves: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """(a) pass@1 (%) vs step, one line per benchmark with its CI band, and the average."""
    figure = _new_figure()
    ax = figure.add_subplot()
    nan = float("nan")
    steps = [point["step"] for point in curves]
    for index, name in enumerate(_benchmark_order(curves)):
        color = f"C{index % 10}"
        values = [100 * point[name] if point.get(name) is not None else nan for point in curves]
        ax.plot(steps, values, marker="o", color=color, label=DISPLAY_NAMES.get(name, name))
        bands = [point["ci"].get(name) for point in curves]
        if any(band is not None for band in bands):
            lo = [100 * band[0] if band is not None else nan for band in bands]
            hi = [100 * band[1] if band is not None else nan for band in bands]
            ax.fill_between(steps, lo, hi, color=color, alpha=0.15, linewidth=0)
    averages = [100 * point["average"] if point.get("average") is not None else nan for point in curves]
    ax.plot(steps, averages, color="black", linestyle="--", linewidth=2, marker="s", label="average")
    ax.set(xlabel="training step", ylabel="pass@1 (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    figure.savefig(path, dpi=120)
    return path


def _plot_length(curves: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """(b) mean completion length vs step; clipped ratio on a second axis when logged."""
    figure = _new_figure()
    ax = figure.add_subplot()
    steps = [point["step"] for point in curves]
    handles = ax.plot(steps, [point[TRAINING_KEYS[0]] for point in curves], color="C0", label="mean length")
    ax.set(xlabel="training step", ylabel="mean completion length (tokens)", title=title)
    ax.grid(alpha=0.3)
    clipped = [(point["step"], point[TRAINING_KEYS[1]]) for point in curves if TRAINING_KEYS[1] in point]
    if clipped:
        right = ax.twinx()
        handles += right.plot(*zip(*clipped, strict=True), color="C3", linestyle=":", label="clipped ratio")
        right.set(ylabel="clipped ratio (hit max length)", ylim=(0, 1.05))
    ax.legend(handles=handles, loc="best", fontsize="small")
    figure.savefig(path, dpi=120)
    return path


def plot_run(run_dir: Path, eval_name: str, out_dir: Path) -> list[Path]:
    """PNG figures like the paper's: `accuracy_<eval_name>.png` and `completion_length.png`.

    Each is drawn only when its data exists (eval results; metrics.jsonl lengths); returns the files written.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    curves = run_curves(run_dir, eval_name)
    if curves:
        title = f"{run_dir.parent.name}/{run_dir.name}: {eval_name}"
        written.append(_plot_accuracy(curves, title, out_dir / f"accuracy_{eval_name}.png"))
    lengths = training_curves(run_dir)
    if lengths:
        title = f"{run_dir.parent.name}/{run_dir.name}: completion length"
        written.append(_plot_length(lengths, title, out_dir / "completion_length.png"))
    return written


# ---------------------------------------------------------------------------------------------------- best


def metric_value(bench: dict[str, Any], metric: str) -> float | None:
    """`pass@1`, `maj@k`, any numeric key of a benchmark result, or `pass@<n>` from its `pass@k` table."""
    value = bench.get(metric)
    if value is None and metric.startswith("pass@"):
        value = (bench.get("pass@k") or {}).get(metric.removeprefix("pass@"))
    return None if value is None or isinstance(value, dict) else float(value)


def best_checkpoint(run_dir: Path, metric: str = "pass@1") -> dict[str, Any]:
    """The checkpoint with the highest validation score (benchmark `validation`); ties go to the earliest step.

    Reads only `<run_dir>/eval/validation/checkpoint-*/results.json`: choosing on the test benchmarks would
    make their scores optimistic, so there is no fallback. Returns `{"step", "path", "score", "ci",
    "candidates"}`; `ci` is the interval of pass@1 (None for other metrics).
    """
    run_dir = Path(run_dir)
    candidates = []
    for step, path in _checkpoint_results(run_dir / "eval" / VALIDATION):
        bench = load_results(path).get("benchmarks", {}).get(VALIDATION)
        score = None if bench is None else metric_value(bench, metric)
        if score is None:
            raise ConfigError(f"{path}: no `{metric}` for benchmark `{VALIDATION}`; pick a metric it has (pass@1).")
        ci = bench.get("ci") if metric == "pass@1" else None
        candidates.append({"step": step, "path": str(run_dir / f"checkpoint-{step}"), "score": score, "ci": ci})
    if not candidates:
        others = sorted(p.name for p in (run_dir / "eval").glob("*") if p.is_dir() and p.name != VALIDATION)
        seen = f" (found eval/{', eval/'.join(others)}: test benchmarks are never used to choose)" if others else ""
        raise ConfigError(
            f"no validation results under {run_dir / 'eval' / VALIDATION}{seen}. Evaluate the run's checkpoints "
            "on the validation split first (python -m openrs.evaluate with the validation split), then pick."
        )
    best = max(candidates, key=lambda c: (c["score"], -c["step"]))
    return {**best, "path": Path(best["path"]), "metric": metric, "candidates": candidates}


# ---------------------------------------------------------------------------------------------------- report


def _default_eval_name(run_dir: Path) -> str:
    names = sorted(p.name for p in (run_dir / "eval").glob("*") if p.is_dir() and p.name != VALIDATION)
    if len(names) != 1:
        found = ", ".join(names) or "none"
        raise ConfigError(f"eval_name: {run_dir / 'eval'} has evaluations [{found}]; name the one to plot.")
    return names[0]


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_report(
    out_dir: Path, rows: Sequence[tuple[str, dict]], run_dir: Path | None = None, eval_name: str | None = None
) -> dict[str, Path]:
    """Writes `table.md`; for a run dir also `curves.json` and the plots. Returns {name: path}.

    Keys: `table`, and with a run dir `curves`, `accuracy_plot` / `length_plot` (when drawn). Without
    `eval_name` the run's only non-validation evaluation is used. `curves.json` holds the eval curves, the
    training curves and the best checkpoint by validation (null when the run has no validation results).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "table.md"
    table.write_text(report_markdown(rows), encoding="utf-8")
    paths = {"table": table}
    if run_dir is None:
        return paths
    run_dir = Path(run_dir)
    eval_name = eval_name or _default_eval_name(run_dir)
    has_validation = bool(_checkpoint_results(run_dir / "eval" / VALIDATION))
    best = best_checkpoint(run_dir) if has_validation else None
    curves = {
        "run_dir": str(run_dir),
        "eval_name": eval_name,
        "eval": run_curves(run_dir, eval_name),
        "training": training_curves(run_dir),
        "best_checkpoint": best,
    }
    paths["curves"] = out_dir / "curves.json"
    paths["curves"].write_text(json.dumps(_json_safe(curves), indent=2) + "\n", encoding="utf-8")
    for png in plot_run(run_dir, eval_name, out_dir):
        paths["accuracy_plot" if png.name.startswith("accuracy_") else "length_plot"] = png
    return paths
