"""The schema of `python -m openrs.data`: a curation run and its recipe (conf/curate.yaml, conf/recipe/*.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hydra.core.config_store import ConfigStore

from openrs.config import DatasetSource, SyntheticDataConfig


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"


@dataclass
class SourceSpec:
    """A raw source, mapped onto the standard columns `id`, `problem`, `answer`, `solution`, `source`."""

    source: DatasetSource = DatasetSource.local  # where the rows come from: local (default), hub or synthetic
    path: str | None = None  # hub id (source=hub) or local file/folder (source=local)
    subset: str | None = None  # hub config name
    split: str = "train"  # the split to load from the hub (source=hub); local files are read as one split
    prompt_column: str = "problem"  # the column with the problem text
    answer_column: str | None = "answer"  # the bare gold answer; null when the source has none
    solution_column: str | None = "solution"  # a worked solution (often ending in \boxed{}); null when none
    id_column: str | None = None  # null: ids are `<source name>-<row number>`
    keep_columns: list[str] = field(default_factory=list)  # further columns carried into the output
    max_rows: int | None = None  # the first N rows only (for examples and quick runs)
    synthetic: SyntheticDataConfig = field(default_factory=SyntheticDataConfig)  # source=synthetic: the generator


@dataclass
class StepSpec:
    """One step of a recipe: a registered step name and its params (see `python -m openrs.data --help`)."""

    name: str = "normalize"  # normalize, dedupe, verifiable, decontaminate, difficulty or mix
    params: dict[str, Any] = field(default_factory=dict)  # the step's keyword arguments; an unknown one is an error
    only_sources: list[str] | None = None  # apply to rows of these sources only; the others pass through


@dataclass
class RecipeConfig:
    name: str = "custom"  # the recipe's name: in the output dir, report.json and the dataset card's title
    description: str = ""  # the dataset card's opening paragraph (empty: a generic sentence)
    sources: dict[str, SourceSpec] = field(default_factory=dict)  # name -> source; rows' `source` is the name
    steps: list[StepSpec] = field(default_factory=list)  # the curation steps, applied in order
    notes: list[str] = field(default_factory=list)  # provenance of the recipe's numbers, copied into the card


@dataclass
class CurateConfig:
    recipe: RecipeConfig | None = None  # chosen with +recipe=NAME
    output_dir: str = "outputs/data"  # conf/curate.yaml sets outputs/data/<recipe>/<time>
    format: OutputFormat = OutputFormat.jsonl  # file format of the curated set: train.jsonl or train.parquet
    benchmarks_dir: str | None = None  # <dir>/<benchmark>.jsonl files for decontamination instead of the hub
    workers: int | None = None  # math-verify worker processes (null: one per core, at most 8)
    push_to_hub: str | None = None  # a hub dataset repo id to push the result to (needs a token and network)
    private: bool = True  # with push_to_hub: create the repo private


def register_curate_configs() -> None:
    """Make `curate_schema` (and the recipe schema) available to Hydra's defaults lists."""
    store = ConfigStore.instance()
    store.store(name="curate_schema", node=CurateConfig)
    store.store(group="recipe", name="recipe_schema", node=RecipeConfig)
