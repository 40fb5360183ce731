"""A user's own config files, added the ways Hydra documents (`--config-dir`, `-cd`, `hydra.searchpath`), through each
command line: a new experiment, and new options of the shipped model, reward, eval and recipe groups. The override
pre-check used to know only the package's conf dir and refused them all ("no such experiment config")."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import dry_run, read_jsonl, run_module, run_openrs

FILES = {
    "experiment/mine.yaml": """
        # @package _global_
        name: mine
        train:
          max_steps: 2
          save_steps: 2
        logger:
          name: none
          sample_completions_every: 0
    """,
    "model/mine.yaml": """
        name_or_path: openrs-tiny
        revision: main
        dtype: float32
        attn_implementation: eager
    """,
    "reward/mine.yaml": """
        functions:
          - name: accuracy
            weight: 2.5
    """,
    "eval/mine.yaml": """
        name: mine
        benchmarks: [arithmetic]
        k: 1
        seeds: [0]
        max_new_tokens: 8
        max_problems: 4
        engine: hf
    """,
    "recipe/mine.yaml": """
        defaults:
          - recipe_schema
          - _self_
        name: mine
        description: a user's own recipe
        sources:
          raw:
            source: local
            path: {raw}
            id_column: id
            solution_column: null
        steps:
          - name: normalize
          - name: mix
            params:
              seed: 0
              draws:
                - {{source: raw, count: 10, label: easy}}
    """,
}


@pytest.fixture
def my_conf(tmp_path: Path) -> Path:
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps({"id": f"r{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
                           for i in range(20)))  # fmt: skip
    for name, text in FILES.items():
        path = tmp_path / "my_conf" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(text)
        path.write_text(text.format(raw=raw) if name.startswith("recipe") else text)
    return tmp_path / "my_conf"


def test_a_users_experiment_trains(my_conf: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_openrs("--config-dir", str(my_conf), "+experiment=mine", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 2 and summary["run_name"].startswith("mine")


@pytest.mark.parametrize("how", ["--config-dir", "-cd", "--config-dir=", "hydra.searchpath"])
def test_a_users_options_of_shipped_groups_compose(my_conf: Path, tmp_path: Path, how: str) -> None:
    where = {"--config-dir": ["--config-dir", str(my_conf)], "-cd": ["-cd", str(my_conf)],
             "--config-dir=": [f"--config-dir={my_conf}"],
             "hydra.searchpath": [f"hydra.searchpath=[file://{my_conf}]"]}[how]  # fmt: skip
    plan = dry_run(*where, "model=mine", "reward=mine", "eval=mine", "eval.after_train=true", tmp_path=tmp_path)
    assert plan["grpo"]["reward_weights"] == [2.5]
    assert plan["grpo"]["model_init_kwargs"]["attn_implementation"] == "eager"
    assert plan["openrs"]["evaluation"]["preset"]["name"] == "mine"


def test_a_misspelt_choice_still_names_the_closest_option_among_the_users(my_conf: Path, tmp_path: Path) -> None:
    result = run_openrs("--config-dir", str(my_conf), "+experiment=mien", "dry_run=true", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "experiment=mien: no such experiment config. did you mean experiment=mine?" in result.stderr
    assert f"{my_conf / 'experiment'}" in result.stderr  # where it looked
    shipped = run_openrs("+experiment=mine", "dry_run=true", cwd=tmp_path)  # without the dir it is not there
    assert shipped.returncode == 2 and "no such experiment config" in shipped.stderr


def test_a_users_recipe_curates(my_conf: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = run_module("openrs.data", "--config-dir", str(my_conf), "+recipe=mine", f"output_dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_jsonl(out / "train.jsonl")) == 10


def test_a_users_eval_preset_evaluates(my_conf: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = run_module("openrs.evaluate", "-cd", str(my_conf), "eval=mine", f"output_dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["eval"]["name"] == "mine" and results["benchmarks"]["arithmetic"]["n_problems"] == 4
