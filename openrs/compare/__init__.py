"""`python -m openrs.compare`: compare training runs side by side, as a table and as plots over steps.

Inputs: run dirs, multirun dirs (`multirun.yaml`, one subdir per run) and W&B groups (`wandb:<entity>/<project>/
<group>`, read with `wandb.Api()`, online only; everything else works offline from the local files). Outputs, in
`--out` (default `outputs/compare/<timestamp>`): `comparison.md`, `comparison.csv` (one row per run, see
`openrs.compare.table`) and the PNG figures of `openrs.compare.plots`.

- `inputs`: the command's inputs resolved into runs, and the baseline (`load_inputs`, `find_baseline`)
- `runs`: loading local runs (`load_run`, `last_mean`)
- `wandb_runs`: loading a W&B group (`load_wandb_group`)
- `differs`: what sets each run apart (`what_differs`)
- `table`: the rows, markdown and CSV (`build_comparison`, `markdown`, `csv_text`)
- `plots`: the figures (`plot_comparison`)

"What differs" is the overrides (`.hydra/overrides.yaml`) not shared by every compared run (a run that kept the
default another run overrode shows its resolved value); W&B runs have no overrides and use the config values that
differ; a run left with nothing shows its run name. Cost per accuracy point needs `--baseline RUN`: without it the
column is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CompareOutput", "compare"]


@dataclass
class CompareOutput:
    """What `compare` wrote: the two tables, the figures, and the markdown text."""

    markdown_path: Path
    csv_path: Path
    plots: list[Path]
    markdown: str


def _unique(labels: list[str], names: list[str]) -> list[str]:
    """Plot labels: what differs, with the run name added where two runs would share one."""
    return [
        f"{label} ({name})" if labels.count(label) > 1 else label for label, name in zip(labels, names, strict=True)
    ]


def compare(
    inputs: list[str],
    out_dir: Path,
    *,
    last: int = 10,
    baseline: str | None = None,
    eval_preset: str | None = None,
    x: str = "step",
) -> CompareOutput:
    """Load `inputs`, write `comparison.md`, `comparison.csv` and the figures into `out_dir`.

    Raises `openrs.errors.ConfigError` for input that cannot be compared (bad path, no runs, W&B offline).
    """
    from openrs.compare.inputs import find_baseline, load_inputs
    from openrs.compare.plots import plot_comparison
    from openrs.compare.table import build_comparison, markdown, write_tables

    runs = load_inputs(inputs, eval_preset)
    base = find_baseline(runs, baseline, eval_preset) if baseline else None
    if base is not None and (base.final_eval is None or base.final_eval.average is None):
        from openrs.errors import ConfigError

        raise ConfigError(
            f"--baseline {baseline}: {base.name} has no evaluation results; evaluate it first "
            "(python -m openrs.evaluate target=<run dir>) or pick another baseline."
        )
    comparison = build_comparison(runs, last=last, baseline=base)
    md_path, csv_path = write_tables(comparison, Path(out_dir))
    labels = _unique([row.differs for row in comparison.rows], [run.name for run in runs])
    plots = plot_comparison(runs, labels, Path(out_dir), x)
    return CompareOutput(md_path, csv_path, plots, markdown(comparison))
