"""A misspelt key, a `+` on a schema key, a value of the wrong type, a malformed override and a `--flag=value`
argument each get one line naming the argument and its fix from the real command line, before Hydra composes
anything (openrs.overrides); the forms Hydra does accept still pass."""

from __future__ import annotations

import pytest

from tests.conftest import dry_run, run_module

BAD = [
    ("openrs", "train.max_step=3", ["did you mean train.max_steps?"]),
    ("openrs", "+train.max_step=3", ["did you mean train.max_steps?", "A `+` does not help"]),
    ("openrs", "+train.max_steps=3", ["takes no `+`: write train.max_steps=3."]),
    ("openrs", "train.learning_rate=1e-5", ["did you mean optimizer.learning_rate?"]),
    ("openrs", "model.name=x", ["did you mean model.name_or_path?", "name_or_path, revision"]),
    ("openrs", "modle=tiny", ["did you mean model?"]),
    ("openrs", "train.max_steps=abc", ["train.max_steps=abc: must be an integer."]),
    ("openrs", "train.max_steps=3.5", ["train.max_steps=3.5: must be an integer."]),
    ("openrs", "train.device=gpu", ["train.device=gpu: must be one of auto, cpu, cuda."]),
    ("openrs", "train.gradient_checkpointing=maybe", ["must be true or false."]),
    ("openrs", "eval.seeds=3", ["eval.seeds=3: must be a list"]),
    ("openrs", "eval.files=abc", ["eval.files=abc: must be a mapping"]),
    ("openrs", "model.name_or_path=null", ["cannot be null"]),
    ("openrs", "~train.save_total_limit", ["an option cannot be removed, only set"]),
    ("openrs", "reward=nonexistent", ["no such reward config", "Options: accuracy_format, all, format_cosine"]),
    ("openrs", "+experiment=exp9", ["no such experiment config. did you mean experiment=exp3?"]),
    ("openrs", "experiment=exp3", ["experiment is chosen with a `+` (the base config has none): +experiment=exp3."]),
    ("openrs.data", "recipe=open_rs", ["recipe is chosen with a `+`", "+recipe=open_rs."]),
    ("openrs.evaluate", "eval=paperr", ["did you mean eval=paper?"]),
    ("openrs", "--max_steps=3", ["not an option", "e.g. train.max_steps=3"]),
    ("openrs", "--learning-rate", ["e.g. optimizer.learning_rate=VALUE"]),
    ("openrs", "train.max_steps", ["needs a value: train.max_steps=VALUE"]),
    ("openrs", "train.max_steps==3", ["cannot read this override", "Write key=value"]),
    ("openrs.evaluate", "eval.engin=hf", ["did you mean eval.engine?"]),
    ("openrs.evaluate", "eval.engine=foo", ["must be one of hf, vllm."]),
    ("openrs.data", "recipe.nme=x", ["did you mean recipe.name?"]),
    ("openrs.data", "recipe.sources.mine.pth=x", ["did you mean recipe.sources.mine.path?"]),
    ("openrs.data", "recipe.sources.mine.max_rows=many", ["must be an integer."]),
    ("openrs.data", "+recipe.sources.mine.path=x", ["a new recipe.sources entry cannot be added from the command"]),
    # inside a list element: that element's keys, not Hydra's advice to add a `+`
    (
        "openrs",
        "reward.functions.0.paramz.x=1",
        ["did you mean reward.functions.0.params.x?", "at reward.functions.0 (RewardSpec): name, weight, params"],
    ),
    ("openrs", "reward.functions.first.name=x", ["reward.functions is a list; name an entry by its index"]),
    # the values inside a list given whole are checked as its entries' types
    (
        "openrs",
        "reward.functions=[{name: format, weight: heavy}]",
        ["reward.functions.0.weight=heavy: must be a number."],
    ),
    ("openrs", "reward.functions=[{name: format, wieght: 2}]", ["did you mean weight?", "name, weight, params"]),
    # a malformed list: what is unbalanced, and how to close it
    (
        "openrs",
        "reward.functions=[{name: accuracy",
        ["the value leaves `[`, `{` open: end it with `}]`", "e.g. reward.functions=[{name: accuracy}]"],
    ),
    ("openrs", "reward.functions=[{name: accuracy}]]", ["the value has a `]` that closes nothing"]),
    ("openrs", "reward.functions=[{name: 'accuracy}]", ["the value opens a ' quote that is not closed"]),
]


@pytest.mark.parametrize(("module", "argument", "expected"), BAD, ids=[case[1] for case in BAD])
def test_a_bad_override_is_one_line_with_its_fix(module: str, argument: str, expected: list, tmp_path) -> None:
    result = run_module(module, argument, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "HYDRA_FULL_ERROR" not in result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and message.startswith(f"{module}: error: "), message
    for text in expected:
        assert text in message
    assert "append to your config use +" not in message  # Hydra's advice that then fails again
    assert not list(tmp_path.iterdir())  # refused before Hydra made a run dir


@pytest.mark.parametrize(
    "overrides",
    [
        ["+experiment=exp3", "train.max_steps=1"],
        ["+eval.files.mine=/data/mine.jsonl"],
        ["eval.seeds=[0,1]", "train.temperature=0.6"],
        ["++train.max_steps=4", "+eval.files.a=/a.jsonl", "~eval.files.a"],
        ["--multirun", "train.seed=1,2", "hydra/launcher=basic"],
        ["model.revision=${name}", "optimizer.learning_rate=1e-5", "train.save_total_limit=null"],
    ],
    ids=["experiment", "new dict entry", "lists", "force add and delete", "multirun", "interpolation and null"],
)
def test_the_forms_hydra_accepts_still_pass(overrides: list[str], tmp_path) -> None:
    if overrides[0] == "--multirun":
        result = run_module("openrs", *overrides, "dry_run=true", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.count('"run_name"') == 2
        return
    plan = dry_run(*overrides, tmp_path=tmp_path)
    assert plan["grpo"]["run_name"].startswith(("tiny", "exp3"))


def test_a_bad_value_in_a_sweep_is_named_before_any_job(tmp_path) -> None:
    result = run_module("openrs", "--multirun", "train.seed=1,abc", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "openrs: error: train.seed=abc: must be an integer."


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("optimizer.learning_rate=-1", "optimizer.learning_rate=-1.0 must be in (0, inf]."),
        ("train.temperature=0", "train.temperature=0.0 must be in (0, inf]."),
        ("train.per_device_train_batch_size=0", "train.per_device_train_batch_size=0 must be at least 1."),
        ("peft.r=0", "peft.r=0 must be at least 1."),
        ("eval.k=0", "eval.k=0 must be at least 1."),
        ("eval.seeds=[]", "eval.seeds is empty: give at least one seed, e.g. eval.seeds=[0]."),
        ("train.top_p=2.0", "train.top_p=2.0 must be in (0, 1]."),
    ],
)
def test_a_value_out_of_range_is_refused_at_the_door(argument: str, message: str, tmp_path) -> None:
    """Checked as the config becomes typed (openrs.config), before the run dir's records or any model."""
    result = run_module("openrs", argument, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"openrs: error: {message}"
    assert not (tmp_path / "run" / "summary.json").exists()


def test_the_traceback_is_there_behind_hydra_full_error(tmp_path) -> None:
    result = run_module("openrs", "eval.k=0", cwd=tmp_path, env={"HYDRA_FULL_ERROR": "1"}, timeout=120)
    assert result.returncode != 0
    assert "openrs: error: eval.k=0 must be at least 1." in result.stderr and "Traceback" in result.stderr
