"""What `python -m openrs.compare` was given: run dirs, multirun dirs and W&B groups, resolved into Runs (local ones by
openrs.compare.runs, W&B groups by openrs.compare.wandb_runs), and the `--baseline` among them."""

from __future__ import annotations

from pathlib import Path

from openrs.compare.runs import WANDB_PREFIX, Run, is_run_dir, load_eval_dir, load_run
from openrs.compare.wandb_runs import load_wandb_group
from openrs.errors import ConfigError

__all__ = ["expand_input", "find_baseline", "load_inputs"]


def _job_order(path: Path) -> tuple[int, str]:
    number = path.name.split("_", 1)[0]
    return (int(number) if number.isdigit() else 1 << 30, path.name)


def expand_input(spec: str, eval_preset: str | None = None) -> list[Run]:
    """One positional input: a run dir, a multirun dir (`multirun.yaml`) or `wandb:<entity>/<project>/<group>`."""
    if spec.startswith(WANDB_PREFIX):
        return load_wandb_group(spec)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"{spec}: no such directory; give run dirs, multirun dirs or wandb:<entity>/<project>/<group>."
        )
    if is_run_dir(path):
        return [load_run(path, eval_preset)]
    if (path / "multirun.yaml").is_file():
        jobs = sorted((p for p in path.iterdir() if p.is_dir() and is_run_dir(p)), key=_job_order)
        if not jobs:
            raise ConfigError(
                f"no runs found in the multirun dir {spec}: no subdir holds summary.json or metrics.jsonl."
            )
        return [load_run(job, eval_preset) for job in jobs]
    inside = [p for p in sorted(path.iterdir()) if p.is_dir() and is_run_dir(p)]
    hint = f" It holds {len(inside)} run dirs: pass them instead (e.g. {spec.rstrip('/')}/*)." if inside else ""
    raise ConfigError(
        f"{spec}: not a run dir (summary.json, metrics.jsonl or .hydra/overrides.yaml) "
        f"nor a multirun dir (multirun.yaml).{hint}"
    )


def _unique_names(runs: list[Run]) -> None:
    """Runs with the same name get their dir name (or W&B id) appended."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.name] = counts.get(run.name, 0) + 1
    for run in runs:
        if counts[run.name] > 1:
            run.name = f"{run.name} ({Path(run.source).name})"


def load_inputs(specs: list[str], eval_preset: str | None = None) -> list[Run]:
    """Every run of every input, in order; a dir given twice counts once."""
    runs: list[Run] = []
    seen: set[str] = set()
    for spec in specs:
        for run in expand_input(spec, eval_preset):
            key = str(run.path.resolve()) if run.path is not None else run.source
            if key not in seen:
                seen.add(key)
                runs.append(run)
    if not runs:
        raise ConfigError(f"no runs found in {' '.join(specs)}.")
    _unique_names(runs)
    return runs


def find_baseline(runs: list[Run], spec: str, eval_preset: str | None = None) -> Run:
    """The `--baseline` run: a compared run's name or dir, or another run/evaluation dir (appended to `runs`)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        for run in runs:
            if run.path is not None and run.path.resolve() == path.resolve():
                return run
        if is_run_dir(path):
            run = load_run(path, eval_preset)
        elif (path / "results.json").is_file():
            run = load_eval_dir(path)
        else:
            raise ConfigError(f"--baseline {spec}: neither a run dir nor an evaluation dir (results.json).")
        runs.append(run)
        _unique_names(runs)
        return run
    matches = [r for r in runs if spec in (r.name, r.run_name, Path(r.source).name)]
    if len(matches) != 1:
        names = ", ".join(r.name for r in runs)
        what = "matches several runs" if matches else "is no compared run's name and no directory"
        raise ConfigError(f"--baseline {spec} {what}; runs: {names}.")
    return matches[0]
