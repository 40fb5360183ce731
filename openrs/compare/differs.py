"""What differs between compared runs: the label of each run in the table and in the plots' legends."""

from __future__ import annotations

import json
from typing import Any

from openrs.compare.runs import Run

__all__ = ["NOT_DIFFERENCES", "lookup", "what_differs"]

# Overrides and config keys that change where or how a run is recorded, not what it trains.
NOT_DIFFERENCES = frozenset({"hydra", "logger", "dry_run", "resume", "cache_dir"})


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _meaningful(overrides: list[str]) -> list[str]:
    return [o.lstrip("+") for o in overrides if _key(o).split(".")[0] not in NOT_DIFFERENCES]


def lookup(config: dict[str, Any] | None, dotted: str) -> Any:
    """`config["train"]["seed"]` for `train.seed`; None when a part is missing."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _yaml_value(value: Any) -> str:
    """A config value as an override would spell it: `true`, `null`, `0.001`."""
    return json.dumps(value) if isinstance(value, bool | None | list | dict) else str(value)


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if not prefix and key in NOT_DIFFERENCES:
            continue
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = _yaml_value(value)
    return flat


def _by_overrides(runs: list[Run]) -> list[list[str]]:
    """Overrides not shared by every run; a key another run overrides shows this run's resolved value."""
    sets = [_meaningful(run.overrides or []) for run in runs]
    shared = set.intersection(*(set(s) for s in sets))
    keys = sorted({_key(o) for s in sets for o in s if o not in shared})
    differs = []
    for run, overrides in zip(runs, sets, strict=True):
        own = {_key(o): o for o in overrides}
        items = []
        for key in keys:
            value = lookup(run.config, key)
            if key in own:
                items.append(own[key])
            elif value is not None and not isinstance(value, dict | list):
                items.append(f"{key}={_yaml_value(value)}")  # this run kept the default another run overrode
        differs.append(items)
    return differs


def _by_config(runs: list[Run]) -> list[list[str]]:
    """Config leaves whose values are not the same in every run (W&B runs have a config, no overrides)."""
    flats = [_flatten(run.config or {}) for run in runs]
    keys = sorted(set().union(*flats))
    varying = [key for key in keys if len({flat.get(key) for flat in flats}) > 1]
    return [[f"{key}={flat[key]}" for key in varying if key in flat] for flat in flats]


def what_differs(runs: list[Run]) -> list[str]:
    """Per run, what sets it apart: differing overrides (all runs have them), else differing config values (all
    runs have a config), else nothing; a run left with nothing gets its run name."""
    differs: list[list[str]] = [[] for _ in runs]
    if len(runs) > 1 and all(run.overrides is not None for run in runs):
        differs = _by_overrides(runs)
    elif len(runs) > 1 and all(run.config is not None for run in runs):
        differs = _by_config(runs)
    return [" ".join(items) if items else run.run_name for run, items in zip(runs, differs, strict=True)]
