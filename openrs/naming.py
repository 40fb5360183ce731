"""Run names, W&B groups and tags, derived from the experiment name and the command-line overrides."""

from __future__ import annotations

import re

# Overrides that change where/how a run is recorded, not what it trains. `sweep` only names the study (its `name:`
# is the run name's stem); `experiment` is dropped only when the name already says it (see meaningful_overrides).
IGNORED_PREFIXES = ("dry_run", "resume", "logger", "hydra", "sweep", "cache_dir")


def meaningful_overrides(overrides: list[str], name: str | None = None) -> list[str]:
    """The overrides that change the run, sorted; logging options and `+sweep=...` excluded.

    `+experiment=X` is excluded when X is `name` (a plain `+experiment=exp3` run is named `exp3`) and kept otherwise:
    a sweep names its runs `sweep-<NAME>`, so `experiment=exp1` is what tells its jobs apart (and resume=auto finds
    each job's own unfinished run by this name).
    """
    kept = []
    for item in overrides:
        key, _, value = item.partition("=")
        key = key.lstrip("+~")
        if key.split(".")[0] in IGNORED_PREFIXES or (key == "experiment" and value == name):
            continue
        kept.append(item.lstrip("+~"))
    return sorted(kept)


def run_name(name: str, overrides: list[str], max_length: int = 128) -> str:
    """`exp3`, `exp3-algorithm=dr_grpo,train.seed=1` or `sweep-seeds-experiment=exp3,train.seed=0`: the stem (the
    experiment's or the sweep's `name`) and what differs from it."""
    changes = ",".join(meaningful_overrides(overrides, name))
    full = f"{name}-{changes}" if changes else name
    full = re.sub(r"[^\w.=,+\-]", "_", full)
    return full[:max_length]


def run_tags(name: str, model: str, algorithm: str, extra: list[str]) -> list[str]:
    """W&B tags: experiment, model short name, algorithm, and the user's own."""
    return [name, model.rsplit("/", 1)[-1], algorithm, *extra]
