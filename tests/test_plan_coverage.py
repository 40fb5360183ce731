"""The dry run shows what the run will do: every option of the schema reaches the plan, either TRL's GRPOConfig
arguments or an openrs section. Each option is changed alone (to another valid value of its type) on a config where
every openrs behaviour is on, and the plan must change."""

from __future__ import annotations

import copy
import dataclasses
import enum
import typing
from typing import Any

import pytest
from omegaconf import OmegaConf

from openrs.config import OpenRSConfig
from openrs.errors import ConfigError
from openrs.plan import build_plan
from tests.conftest import compose_config

#: Everything on: dynamic sampling, evaluation before, during and after training, every detector watching.
EVERYTHING_ON = ("algorithm.dynamic_sampling=true", "eval.during_training.enabled=true", "eval.before_train=true",
                 "eval.after_train=true")  # fmt: skip
#: Options that are not part of a run's plan by nature: the dry run itself.
NOT_PLANNED = {"dry_run"}
#: Options whose other values need a companion setting: (the companions, set on both sides; the other value).
SPECIFIC = {
    "dataset.source": ({"dataset.path": "data.jsonl", "dataset.source": "local"}, "hub"),
    "dataset.path": ({"dataset.path": "data.jsonl", "dataset.source": "local"}, "other.jsonl"),
    "dataset.synthetic.operations": ({}, "+-"),
    "launcher.num_machines": ({"launcher.name": "accelerate", "launcher.num_processes": 2}, 2),
    "launcher.machine_rank": (
        {"launcher.name": "accelerate", "launcher.num_processes": 2, "launcher.num_machines": 2},
        1,
    ),  # fmt: skip
    "eval.ks": ({}, [1]),
    "eval.k_by_benchmark": ({}, {"arithmetic": 2}),
}


def leaves(config: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted path, value, declared type) of every option: dataclass fields, recursing into nested dataclasses."""
    found = []
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value, path = getattr(config, field.name), f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            found += leaves(value, f"{path}.")
        else:
            found.append((path, value, hints[field.name]))
    return found


def candidates(value: Any, declared: Any) -> list[Any]:
    """Other values of the option's type to try, the likeliest valid first."""
    if isinstance(value, enum.Enum):
        return [member for member in type(value) if member != value]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value * 2, max(value - 1, 0)]
    if isinstance(value, float):
        return [value * 0.5, value * 2, value + 0.1, 0.5]
    if isinstance(value, str):
        return [f"{value}_x", "1"]
    if isinstance(value, list):
        if value and dataclasses.is_dataclass(value[0]):
            return [[dataclasses.replace(value[0], weight=value[0].weight + 1), *value[1:]]]
        return [value[:-1], [*value, "x"]] if value else [["x"]]
    if isinstance(value, dict):
        return [{**value, "x": 1.0}]
    args = [arg for arg in typing.get_args(declared) if arg is not type(None)]  # an optional left null
    kinds = {int: [7, 51300], float: [0.3, 2.0], str: ["x"], list: [["x"]]}
    origin = [typing.get_origin(arg) or arg for arg in args]
    return [v for kind in origin for v in kinds.get(kind, [])] or ["x"]


def changed(cfg: OpenRSConfig, path: str, value: Any, **others: Any) -> OpenRSConfig | None:
    """`cfg` with one option set (and `others`, by dotted path), validated as the entry would, or None when the
    value is refused."""
    node = OmegaConf.structured(copy.deepcopy(cfg))
    try:
        for key, item in {**others, path: value}.items():
            OmegaConf.update(node, key, item, merge=False)
        return OmegaConf.to_object(node)
    except (ConfigError, ValueError, TypeError, Exception):  # noqa: B014 - OmegaConf raises its own too
        return None


def test_every_option_reaches_the_plan() -> None:
    base = compose_config(*EVERYTHING_ON)
    plan = build_plan(base, "out")
    missing, untried = [], []
    for path, value, declared in leaves(base):
        if path in NOT_PLANNED:
            continue
        if path in SPECIFIC:
            companions, other = SPECIFIC[path]
            both = changed(base, "name", base.name, **companions)
            assert build_plan(changed(both, path, other, **{k: v for k, v in companions.items() if k != path}),
                              "out") != build_plan(both, "out"), path  # fmt: skip
            continue
        tried = [cfg for cfg in (changed(base, path, v) for v in candidates(value, declared)) if cfg is not None]
        if not tried:
            untried.append(path)
        elif all(build_plan(cfg, "out") == plan for cfg in tried):
            missing.append(path)
    assert not missing, f"options the plan does not show: {missing}"
    assert not untried, f"options no other value could be tried for: {untried}"


@pytest.mark.parametrize("overrides", [(), ("+experiment=exp3",), ("algorithm=dapo",), ("guard=off",)])
def test_the_plan_names_each_openrs_behaviour(overrides: tuple[str, ...]) -> None:
    cfg = compose_config(*overrides)
    section = build_plan(cfg, "out")["openrs"]
    assert set(section) == {"run", "algorithm", "dynamic_sampling", "guardrails", "evaluation", "memory_check",
                            "rewards", "cost", "model"}  # fmt: skip
    assert (section["dynamic_sampling"] is None) == (not cfg.algorithm.dynamic_sampling)
    if cfg.algorithm.dynamic_sampling:
        assert section["dynamic_sampling"] == {"max_sampling_rounds": 4, "signal": "correctness"}
    watched = {name for name, d in cfg.guard.detectors().items() if d.action.value != "off"}
    assert set(section["guardrails"]["detectors"]) == watched
    assert section["evaluation"]["after_train"] == cfg.eval.after_train
