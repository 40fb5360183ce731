"""Loading runs to compare: local run dirs, multirun dirs and evaluation-only dirs (W&B groups: `wandb_runs`).

Every input becomes a `Run`: its metrics as per-key series over steps, its final evaluation (`EvalResult`), its
per-checkpoint evaluation curves, its overrides or config (for "what differs") and its resources (GPU-hours, cost).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openrs.errors import ConfigError
from openrs.jsonl import read_jsonl
from openrs.resume import checkpoint_dirs
from openrs.run_dir import live_status

__all__ = [
    "DURING_TRAINING",
    "EvalResult",
    "Run",
    "last_mean",
    "load_eval_dir",
    "load_run",
    "metric_series",
    "number",
]

WANDB_PREFIX = "wandb:"
DURING_TRAINING = "during_training"
NOT_PRESETS = frozenset({"validation", DURING_TRAINING})  # eval/<name> dirs that are not a test preset
_BENCHMARK_KEY = re.compile(r"benchmarks/(.+)/pass@1")

Series = dict[int, float]  # step -> value
CurvePoint = tuple[int, float, "tuple[float, float] | None"]  # (step, pass@1, CI or None)


@dataclass
class EvalResult:
    """A final evaluation: `benchmarks` as in results.json (`pass@1`, `ci`, `k`, ...), `source` says where from."""

    source: str
    benchmarks: dict[str, dict[str, Any]]
    average: float | None


@dataclass
class Run:
    """One compared run (see the module docstring); `overrides`/`config` are None when unknown."""

    name: str
    source: str
    run_name: str
    status: str
    steps: int | None = None
    max_steps: int | None = None
    overrides: list[str] | None = None
    config: dict[str, Any] | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Series] = field(default_factory=dict)
    final_eval: EvalResult | None = None
    eval_curves: dict[str, dict[str, list[CurvePoint]]] = field(default_factory=dict)  # benchmark -> series -> pts
    path: Path | None = None
    guard: list[dict[str, Any]] | None = None  # summary.json's guardrail firings; None: not recorded (older, W&B)


# ---------------------------------------------------------------------------------------------------- helpers


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _read_json(path: Path) -> dict[str, Any]:
    """A record openrs wrote (summary.json, results.json): a JSON object, else a ConfigError naming the file."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: cannot read it as JSON ({err}). Restore it or leave that run out.") from err
    if not isinstance(record, dict):
        raise ConfigError(f"{path}: holds a JSON {type(record).__name__}, not the object openrs writes. Restore it "
                          "or leave that run out.")  # fmt: skip
    return record


def metric_series(rows: list[dict[str, Any]]) -> dict[str, Series]:
    """Per key, step -> value over logged rows; a step logged twice (a resumed run) keeps its last value."""
    series: dict[str, Series] = {}
    for row in rows:
        step = number(row.get("step"))
        if step is None:
            continue
        for key, value in row.items():
            numeric = number(value)
            if key != "step" and numeric is not None:
                series.setdefault(key, {})[int(step)] = numeric
    return series


def last_mean(series: Series | None, n: int) -> float | None:
    """Mean of the last `n` logged values (by step); None when nothing was logged."""
    if not series:
        return None
    values = [series[step] for step in sorted(series)[-n:]]
    return sum(values) / len(values)


def _average(results: dict[str, Any]) -> float | None:
    """The results' own average pass@1, else the mean over its benchmarks."""
    average = number((results.get("average") or {}).get("pass@1"))
    if average is not None:
        return average
    scores = [number(b.get("pass@1")) for b in results.get("benchmarks", {}).values()]
    scores = [s for s in scores if s is not None]
    return sum(scores) / len(scores) if scores else None


def _eval_result(source: str, results: dict[str, Any]) -> EvalResult:
    return EvalResult(source, dict(results.get("benchmarks") or {}), _average(results))


def from_metrics(source: str, metrics: dict[str, Any]) -> EvalResult | None:
    """An EvalResult from logged `benchmarks/<name>/pass@1` keys (no intervals)."""
    benchmarks = {}
    for key, value in metrics.items():
        match = _BENCHMARK_KEY.fullmatch(key)
        if match and match.group(1) != "average" and number(value) is not None:
            benchmarks[match.group(1)] = {"pass@1": float(value)}
    if not benchmarks:
        return None
    return _eval_result(
        source, {"benchmarks": benchmarks, "average": {"pass@1": metrics.get("benchmarks/average/pass@1")}}
    )


def _add_curve_point(run: Run, series: str, step: int, result: EvalResult) -> None:
    points = [(name, bench) for name, bench in result.benchmarks.items()]
    if result.average is not None:
        points.append(("average", {"pass@1": result.average}))
    for name, bench in points:
        value = number(bench.get("pass@1"))
        if value is None:
            continue
        ci = bench.get("ci")
        band = (float(ci[0]), float(ci[1])) if ci is not None and len(ci) == 2 and None not in ci else None
        run.eval_curves.setdefault(name, {}).setdefault(series, []).append((step, value, band))


# ---------------------------------------------------------------------------------------------------- local


def is_run_dir(path: Path) -> bool:
    """A training run dir: summary.json, metrics.jsonl or Hydra's .hydra/overrides.yaml."""
    return any((path / name).is_file() for name in ("summary.json", "metrics.jsonl", ".hydra/overrides.yaml"))


def _checkpoints(preset_dir: Path) -> list[tuple[int, Path]]:
    return [(step, path / "results.json") for step, path in checkpoint_dirs(preset_dir, containing="results.json")]


def _newest_results(preset_dir: Path) -> tuple[str, Path] | None:
    """(`final` or `checkpoint-N`, results.json): the final model's evaluation, else the highest checkpoint's."""
    final = preset_dir / "final" / "results.json"
    if final.is_file():
        return "final", final
    checkpoints = _checkpoints(preset_dir)
    return (f"checkpoint-{checkpoints[-1][0]}", checkpoints[-1][1]) if checkpoints else None


def _pick_preset(run_dir: Path, preset: str | None) -> tuple[str, str, Path] | None:
    """(preset, which, results.json) of the run's newest evaluation; see `load_run`."""
    eval_root = run_dir / "eval"
    names = (
        [preset] if preset else sorted(p.name for p in eval_root.glob("*") if p.is_dir() and p.name not in NOT_PRESETS)
    )
    candidates = []
    for name in names:
        newest = _newest_results(eval_root / name)
        if newest is not None:
            which, path = newest
            candidates.append(((which == "final", path.stat().st_mtime), name, which, path))
    if not candidates:
        return None
    _, name, which, path = max(candidates)
    return name, which, path


def _summary_eval(summary: dict[str, Any], preset: str | None) -> EvalResult | None:
    """summary.json's `eval` block: its results.json when still there, else its logged pass@1 values."""
    block = summary.get("eval")
    if not isinstance(block, dict):
        return None
    directory = Path(block["dir"]) if block.get("dir") else None
    if preset and directory is not None and directory.parent.name != preset:
        return None
    if directory is not None and (directory / "results.json").is_file():
        return _eval_result(f"{directory.parent.name}/{directory.name}", _read_json(directory / "results.json"))
    return from_metrics("summary.json", block)


def _read_overrides(run_dir: Path) -> list[str] | None:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return None
    import yaml

    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [str(item) for item in loaded] if isinstance(loaded, list) else []


def _read_config(run_dir: Path) -> dict[str, Any] | None:
    for path in (run_dir / "config.yaml", run_dir / ".hydra" / "config.yaml"):
        if path.is_file():
            import yaml

            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            return loaded if isinstance(loaded, dict) else None
    return None


def load_run(run_dir: Path, eval_preset: str | None = None) -> Run:
    """A training run dir as a Run.

    The final evaluation is the newest of the run's preset: `eval/<preset>/final/results.json` when present, else
    the highest `eval/<preset>/checkpoint-N/results.json`. Without `eval_preset` every `eval/<name>/` other than
    `validation` and `during_training` is a candidate; a final evaluation beats a checkpoint, then the newest file
    wins. Without any, summary.json's `eval` block is used. Curves: that preset's checkpoints (plus the starting model,
    `eval.before_train`'s, at step 0 and the final model at the run's last step) and `eval/during_training/` (else the
    in-training `benchmarks/<name>/pass@1` rows).
    """
    run_dir = Path(run_dir)
    summary = _read_json(run_dir / "summary.json") if (run_dir / "summary.json").is_file() else {}
    metrics = metric_series(read_jsonl(run_dir / "metrics.jsonl"))
    run = Run(
        name=summary.get("run_name") or run_dir.name,
        source=str(run_dir),
        run_name=summary.get("run_name") or run_dir.name,
        status=live_status(run_dir, summary.get("status")) or ("no summary.json" if metrics else "not started"),
        steps=summary.get("steps", max(metrics["reward"]) if "reward" in metrics else None),
        max_steps=summary.get("max_steps"),
        overrides=_read_overrides(run_dir),
        config=_read_config(run_dir),
        resources=summary.get("resources") or {},
        metrics=metrics,
        path=run_dir,
        guard=summary["guard"].get("firings", []) if isinstance(summary.get("guard"), dict) else None,
    )
    picked = _pick_preset(run_dir, eval_preset)
    if picked is not None:
        preset, which, path = picked
        run.final_eval = _eval_result(f"{preset}/{which}", _read_json(path))
        base = run_dir / "eval" / preset / "base" / "results.json"
        if base.is_file():  # eval.before_train: the starting model, at step 0
            _add_curve_point(run, preset, 0, _eval_result(preset, _read_json(base)))
        for step, checkpoint in _checkpoints(run_dir / "eval" / preset):
            _add_curve_point(run, preset, step, _eval_result(preset, _read_json(checkpoint)))
        final = run_dir / "eval" / preset / "final" / "results.json"
        steps_done = {step for step, _ in _checkpoints(run_dir / "eval" / preset)}
        if final.is_file() and isinstance(run.steps, int) and run.steps not in steps_done:
            _add_curve_point(run, preset, run.steps, run.final_eval)
    else:
        run.final_eval = _summary_eval(summary, eval_preset)
    during = _checkpoints(run_dir / "eval" / DURING_TRAINING)
    for step, path in during:
        _add_curve_point(run, "during training", step, _eval_result(DURING_TRAINING, _read_json(path)))
    if not during:
        metric_curves(run)
    return run


def metric_curves(run: Run) -> None:
    """In-training benchmark rows (`benchmarks/<name>/pass@1`) as the `during training` curves."""
    for key, series in run.metrics.items():
        match = _BENCHMARK_KEY.fullmatch(key)
        if match:
            points = [(step, value, None) for step, value in sorted(series.items())]
            run.eval_curves.setdefault(match.group(1), {})["during training"] = points


def load_eval_dir(path: Path) -> Run:
    """An evaluation dir (`results.json`, e.g. the base model's) as a Run with only a final evaluation."""
    results = _read_json(Path(path) / "results.json")
    label = (results.get("model") or {}).get("label") or (results.get("model") or {}).get("name_or_path")
    return Run(
        name=str(label or Path(path).name),
        source=str(path),
        run_name=str(label or Path(path).name),
        status="eval only",
        final_eval=_eval_result("results.json", results),
        path=Path(path),
    )
