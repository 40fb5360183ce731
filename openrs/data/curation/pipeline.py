"""Run a recipe: validate its steps, load its sources, apply the steps in order, report each one, write the result.

Outputs in the run directory:

* `train.jsonl` (or `train.parquet`): the curated rows (`id`, `problem`, `answer`, `solution`, `source`, and what
  the steps added: `pass_rate`, `pass_k`, `level`, ...). Train on it with
  `python -m openrs dataset=jsonl dataset.path=<dir>/train.jsonl dataset.answer_column=answer`.
* `report.json`: per step, rows in and out, removals by reason with examples, seconds, rows/s, and the step's extras.
* `removed.jsonl`: every removed row with the step and reason; `decontamination_hits.jsonl`: every benchmark hit.
* `README.md`: the dataset card (:mod:`openrs.data.curation.card`).
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from openrs.benchmarks import BENCHMARKS, load_benchmark
from openrs.data.curation.base import CurationResult, Row, StepOutput, StepReport, check_overlap_params
from openrs.data.curation.card import render_card
from openrs.data.curation.config import CurateConfig
from openrs.data.curation.decontaminate import decontaminate
from openrs.data.curation.dedupe import dedupe
from openrs.data.curation.difficulty import difficulty
from openrs.data.curation.mix import mix
from openrs.data.curation.normalize import normalize
from openrs.data.curation.sources import load_sources
from openrs.data.curation.verifiable import verifiable
from openrs.errors import ConfigError

__all__ = ["STEPS", "CurationResult", "StepReport", "available_steps", "run_recipe"]

log = logging.getLogger(__name__)

_EXAMPLES_PER_REASON = 3


def decontaminate_benchmarks(
    rows: list[Row],
    *,
    benchmarks: Sequence[str] = tuple(BENCHMARKS),
    benchmarks_dir: str | None = None,
    ngram: int = 8,
    threshold: float = 0.5,
) -> StepOutput:
    """`decontaminate` against named benchmarks (:mod:`openrs.benchmarks`), from the hub or `benchmarks_dir`."""
    loaded = {name: load_benchmark(name, benchmarks_dir) for name in benchmarks}
    return decontaminate(rows, benchmarks=loaded, ngram=ngram, threshold=threshold)


#: Step name -> function(rows, **params) -> StepOutput.
STEPS: dict[str, Callable[..., StepOutput]] = {
    "normalize": normalize,
    "dedupe": dedupe,
    "verifiable": verifiable,
    "decontaminate": decontaminate_benchmarks,
    "difficulty": difficulty,
    "mix": mix,
}

#: Run-level settings handed to every step that takes them, unless the recipe sets them: param -> config key.
_INJECTED = {"benchmarks_dir": "benchmarks_dir", "workers": "workers", "verify_workers": "workers"}


def available_steps() -> dict[str, list[str]]:
    """Each step's params (for `--help`-style listings and error messages)."""
    return {name: _param_names(func) for name, func in STEPS.items()}


def _param_names(func: Callable[..., Any]) -> list[str]:
    return [p.name for p in inspect.signature(func).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]


def _planned_steps(cfg: CurateConfig) -> list[tuple[str, dict[str, Any], list[str] | None]]:
    """Each step's name, full params and source filter, checked before any data is read."""
    recipe = cfg.recipe
    planned = []
    for index, spec in enumerate(recipe.steps):
        if spec.name not in STEPS:
            raise ConfigError(f"recipe.steps[{index}].name={spec.name!r} is not a step; steps: {sorted(STEPS)}.")
        accepted = _param_names(STEPS[spec.name])
        params = dict(spec.params)
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ConfigError(
                f"recipe.steps[{index}] ({spec.name}): unknown param(s) {unknown}; it accepts {accepted}."
            )
        if spec.name in ("dedupe", "decontaminate"):
            defaults = {p.name: p.default for p in inspect.signature(STEPS[spec.name]).parameters.values()}
            settings = {**defaults, **params}
            try:
                check_overlap_params(settings["threshold"], settings["ngram"], settings.get("num_perm", 2))
            except (ValueError, TypeError) as err:
                raise ConfigError(f"recipe.steps[{index}] ({spec.name}): {err}.") from err
        for param, key in _INJECTED.items():
            if param in accepted and param not in params and getattr(cfg, key) is not None:
                params[param] = getattr(cfg, key)
        only = spec.only_sources
        if only:
            missing = sorted(set(only) - set(recipe.sources))
            if missing:
                raise ConfigError(f"recipe.steps[{index}].only_sources names unknown sources {missing}.")
        planned.append((spec.name, params, only))
    return planned


def check_step_inputs(planned: list[tuple[str, dict[str, Any], list[str] | None]]) -> None:
    """The steps' own inputs (decontamination's benchmarks) are read before the sources or any step, so a missing
    file stops the recipe at once instead of after the steps before it."""
    for index, (name, params, _) in enumerate(planned):
        if name != "decontaminate":
            continue
        for benchmark in params.get("benchmarks", tuple(BENCHMARKS)):
            try:
                load_benchmark(benchmark, params.get("benchmarks_dir"))
            except ConfigError as err:
                raise ConfigError(f"recipe.steps[{index}] (decontaminate): {err}") from err


def _examples(output: StepOutput) -> dict[str, list[dict[str, Any]]]:
    examples: dict[str, list[dict[str, Any]]] = {}
    for removal in output.removed:
        bucket = examples.setdefault(removal.reason, [])
        if len(bucket) < _EXAMPLES_PER_REASON:
            problem = " ".join(str(removal.row.get("problem", "")).split())[:160]
            bucket.append({"id": removal.row.get("id"), "problem": problem, **removal.detail})
    return examples


def _apply(
    func: Callable[..., StepOutput], rows: list[Row], params: dict[str, Any], only: list[str] | None
) -> StepOutput:
    if not only:
        return func(rows, **params)
    selected = [row for row in rows if row["source"] in only]
    output = func(selected, **params)
    kept_ids = {row["id"]: row for row in output.rows}
    position = {row["id"]: index for index, row in enumerate(rows)}
    passthrough = [row for row in rows if row["source"] not in only]
    merged = sorted([*passthrough, *kept_ids.values()], key=lambda row: position.get(row["id"], len(rows)))
    return StepOutput(merged, output.removed, output.extra)


def run_recipe(cfg: CurateConfig, on_step: Callable[[StepReport], None] | None = None) -> CurationResult:
    """Run `cfg.recipe` and return the rows with the reports (writing is :func:`write_outputs`' job)."""
    if cfg.recipe is None:
        raise ConfigError(
            "Choose a recipe: python -m openrs.data +recipe=NAME (open_s1, open_deepscaler, open_rs, custom)."
        )
    planned = _planned_steps(cfg)
    check_step_inputs(planned)
    started = time.perf_counter()
    rows = load_sources(cfg.recipe.sources)
    sources = dict(Counter(row["source"] for row in rows))
    log.info("curation %s: %d rows from %s", cfg.recipe.name, len(rows), sources)
    reports: list[StepReport] = []
    for index, (name, params, only) in enumerate(planned):
        step_started = time.perf_counter()
        output = _apply(STEPS[name], rows, params, only)
        report = StepReport(
            index=index,
            name=name,
            params={**params, **({"only_sources": only} if only else {})},
            rows_in=len(rows),
            rows_out=len(output.rows),
            seconds=time.perf_counter() - step_started,
            removed=dict(Counter(removal.reason for removal in output.removed)),
            examples=_examples(output),
            extra=output.extra,
        )
        report.extra["_removed"] = output.removed  # written to removed.jsonl, dropped from report.json
        reports.append(report)
        log.info(report.line())
        if on_step is not None:
            on_step(report)
        rows = output.rows
    return CurationResult(rows, sources, reports, time.perf_counter() - started)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def write_outputs(result: CurationResult, cfg: CurateConfig, output_dir: Path) -> dict[str, Path]:
    """Write the data, the report, the removals, the hits and the card; return their paths."""
    from datasets import Dataset

    output_dir.mkdir(parents=True, exist_ok=True)
    fmt = cfg.format.value
    paths = {"data": output_dir / f"train.{fmt}", "report": output_dir / "report.json"}
    dataset = Dataset.from_list(result.rows) if result.rows else Dataset.from_dict({"id": [], "problem": []})
    if fmt == "parquet":
        dataset.to_parquet(str(paths["data"]))
    else:
        dataset.to_json(str(paths["data"]), lines=True, force_ascii=False)
    paths["removed"] = output_dir / "removed.jsonl"
    hits: list[dict[str, Any]] = []
    with paths["removed"].open("w", encoding="utf-8") as handle:
        for report in result.steps:
            for removal in report.extra.pop("_removed", []):
                row = removal.row
                record = {"step": report.index, "step_name": report.name, "reason": removal.reason, **removal.detail}
                record.update(id=row.get("id"), source=row.get("source"), problem=row.get("problem"))
                handle.write(json.dumps(_jsonable(record), ensure_ascii=False) + "\n")
            if "hits" in report.extra:
                hits.extend(report.extra.pop("hits"))
                report.extra["hits_written_to"] = "decontamination_hits.jsonl"
    if any(report.name == "decontaminate" for report in result.steps):
        paths["hits"] = output_dir / "decontamination_hits.jsonl"
        paths["hits"].write_text("".join(json.dumps(_jsonable(hit), ensure_ascii=False) + "\n" for hit in hits))
    report_json = {
        "recipe": cfg.recipe.name,
        "rows": len(result.rows),
        "sources": result.sources,
        "seconds": round(result.seconds, 3),
        "steps": [report.as_dict() for report in result.steps],
    }
    paths["report"].write_text(json.dumps(_jsonable(report_json), indent=2, ensure_ascii=False) + "\n")
    paths["card"] = output_dir / "README.md"
    paths["card"].write_text(render_card(result, cfg, paths), encoding="utf-8")
    return paths
