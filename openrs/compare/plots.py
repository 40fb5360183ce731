"""PNG figures over training steps, one per metric, one line per run (labelled by what differs): the paper's plots.
With `x="tokens"` the x axis is the tokens generated so far instead (TRL's `num_tokens`: prompt and completion
tokens of every generated batch, all processes and all dynamic-sampling rounds), to compare runs at equal cost.

Training metrics: `reward.png`, `accuracy_reward.png`, `completion_length.png`, `truncation_rate.png`, `kl.png`.
Eval accuracy: `eval_<benchmark>.png` (and `eval_average.png`) from the checkpoint evaluations of the compared
preset (solid) and the in-training ones (dashed), with their confidence bands. A figure no run has data for is
skipped. Matplotlib is imported inside the drawing functions (Agg canvas, no pyplot).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

from openrs.compare.runs import Run
from openrs.evaluation.report import DISPLAY_NAMES

__all__ = ["TRAINING_FIGURES", "X_AXES", "plot_comparison"]

#: The x axes a comparison can be drawn over: its label, and the metric that maps a step to it (None: the step).
X_AXES = {"step": ("training step", None), "tokens": ("rollout tokens (prompts + completions)", "num_tokens")}

# (file stem, metrics.jsonl key, y-axis label)
TRAINING_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("reward", "reward", "reward (sum of weighted rewards)"),
    ("accuracy_reward", "rewards/accuracy/mean", "accuracy reward"),
    ("completion_length", "completions/mean_length", "mean completion length (tokens)"),
    ("truncation_rate", "completions/clipped_ratio", "truncation rate (clipped ratio)"),
    ("kl", "kl", "KL to the reference model"),
)


def _new_figure():
    """A Figure on an Agg canvas (no pyplot, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def x_values(run: Run, x: str) -> dict[int, float] | None:
    """step -> x for a run (the step itself, or its `num_tokens`; step 0, the starting model, is 0 tokens); None
    when the run did not log the metric."""
    key = X_AXES[x][1]
    if key is None:
        return None
    values = run.metrics.get(key)
    return {0: 0.0, **values} if values else {}


def _at(points: Sequence, run: Run, x: str) -> list:
    """(step, ...) points with the step replaced by the x value (points without one are dropped)."""
    mapping = x_values(run, x)
    if mapping is None:
        return list(points)
    return [(mapping[p[0]], *p[1:]) for p in points if p[0] in mapping]


def _finish(figure, ax, title: str, ylabel: str, path: Path, x: str = "step") -> Path:
    """Axis labels, grid, and the legend below the axes (labels can be long override lists)."""
    from matplotlib.ticker import MaxNLocator

    ax.set(xlabel=X_AXES[x][0], ylabel=ylabel, title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    wrapped = [textwrap.fill(label, 110) for label in labels]
    figure.legend(handles, wrapped, loc="outside lower center", fontsize="small", ncols=1)
    legend_lines = sum(label.count("\n") + 1 for label in wrapped)
    figure.set_size_inches(8, 3.6 + 0.2 * legend_lines)  # the axes keep their height however long the legend
    figure.savefig(path, dpi=120)
    return path


def _plot_metric(runs: Sequence[Run], labels: Sequence[str], key: str, ylabel: str, path: Path,
                 x: str = "step") -> Path | None:  # fmt: skip
    series = [(i, label, _at(sorted(run.metrics.get(key, {}).items()), run, x))
              for i, (run, label) in enumerate(zip(runs, labels, strict=True))]  # fmt: skip
    series = [(i, label, points) for i, label, points in series if points]
    if not series:
        return None
    figure = _new_figure()
    ax = figure.add_subplot()
    for index, label, points in series:
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            color=f"C{index % 10}",
            label=label,
            marker="." if len(points) < 30 else None,
        )
    return _finish(figure, ax, f"{ylabel} over training", ylabel, path, x)


def _plot_benchmark(runs: Sequence[Run], labels: Sequence[str], name: str, path: Path, x: str = "step") -> Path | None:
    figure = _new_figure()
    ax = figure.add_subplot()
    drawn = False
    nan = float("nan")
    for index, (run, label) in enumerate(zip(runs, labels, strict=True)):
        all_series = run.eval_curves.get(name, {})
        for series, points in all_series.items():
            points = _at(sorted(points), run, x)
            if not points:
                continue
            steps = [p[0] for p in points]
            color = f"C{index % 10}"
            style = "--" if series == "during training" else "-"
            line_label = label if len(all_series) == 1 else f"{label} ({series})"
            ax.plot(steps, [100 * p[1] for p in points], color=color, linestyle=style, marker="o", label=line_label)
            if any(p[2] is not None for p in points):
                lo = [100 * p[2][0] if p[2] is not None else nan for p in points]
                hi = [100 * p[2][1] if p[2] is not None else nan for p in points]
                ax.fill_between(steps, lo, hi, color=color, alpha=0.12, linewidth=0)
            drawn = True
    if not drawn:
        return None
    title = f"{DISPLAY_NAMES.get(name, name)}: pass@1 over training"
    return _finish(figure, ax, title, "pass@1 (%)", path, x)


def _file_stem(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name)


def plot_comparison(runs: Sequence[Run], labels: Sequence[str], out_dir: Path, x: str = "step") -> list[Path]:
    """Every figure some run has data for, into `out_dir`, over `x` (a key of X_AXES); returns the PNG paths
    written (see module docstring)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, key, ylabel in TRAINING_FIGURES:
        path = _plot_metric(runs, labels, key, ylabel, out_dir / f"{stem}.png", x)
        if path is not None:
            written.append(path)
    names = {name for run in runs for name in run.eval_curves}
    ordered = [n for n in DISPLAY_NAMES if n in names] + sorted(names - set(DISPLAY_NAMES) - {"average"})
    for name in ordered + (["average"] if "average" in names else []):
        path = _plot_benchmark(runs, labels, name, out_dir / f"eval_{_file_stem(name)}.png", x)
        if path is not None:
            written.append(path)
    return written
