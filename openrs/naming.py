"""Run names, W&B groups and tags, derived from the experiment name and the command-line overrides."""

from __future__ import annotations

import re

# Overrides that change where/how a run is recorded, not what it trains.
IGNORED_PREFIXES = ("dry_run", "resume", "logger", "hydra", "experiment", "+experiment", "cache_dir")


def meaningful_overrides(overrides: list[str]) -> list[str]:
    """The overrides that change the run, sorted (`+experiment=...` and logging options excluded)."""
    kept = []
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        if key.split(".")[0] in {p.lstrip("+") for p in IGNORED_PREFIXES}:
            continue
        kept.append(item.lstrip("+~"))
    return sorted(kept)


def run_name(name: str, overrides: list[str], max_length: int = 128) -> str:
    """`exp3` or `exp3-algorithm=dr_grpo,train.seed=1`: says what differs from the experiment as published."""
    changes = ",".join(meaningful_overrides(overrides))
    full = f"{name}-{changes}" if changes else name
    full = re.sub(r"[^\w.=,+\-]", "_", full)
    return full[:max_length]


def run_tags(name: str, model: str, algorithm: str, extra: list[str]) -> list[str]:
    """W&B tags: experiment, model short name, algorithm, and the user's own."""
    return [name, model.rsplit("/", 1)[-1], algorithm, *extra]
