"""A user-defined reward is called once on a test batch before training, under `reward.time_limit_s`, and checked
on every call during training (openrs.rewards.guard): an exception, a hang, a wrong length, strings, NaN or a run
whose rewards never score each stop with the reward's name and what it returned, through the real command line."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest

from openrs.rewards import get_reward
from openrs.rewards.guard import RewardError, sample_batch
from tests.conftest import REPO, read_jsonl, run_openrs

REWARDS = textwrap.dedent(
    """
    import math, time

    def fine(completions, **kwargs):
        return [float(len(c[0]["content"]) > 0) for c in completions]

    def divides(completions, **kwargs):
        return [1 / 0 for c in completions]

    def hangs(completions, **kwargs):
        while True:
            time.sleep(0.5)

    def nans(completions, **kwargs):
        return [math.nan for c in completions]

    def breaks_at_step_2(completions, trainer_state=None, **kwargs):
        if trainer_state.global_step >= 2:
            raise KeyError("solution_text")
        return [0.5 for c in completions]

    def nothing(completions, **kwargs):
        return [None for c in completions]

    def exits_at_step_2(completions, trainer_state=None, **kwargs):
        if trainer_state.global_step >= 1:
            raise SystemExit(0)
        return [0.5 for c in completions]

    def nothing_from_step_2(completions, trainer_state=None, **kwargs):
        return [0.5 if trainer_state.global_step == 0 else None for c in completions]

    def one(completions, **kwargs):
        return [0.0]

    def words(completions, **kwargs):
        return ["1.0" for c in completions]

    def scalar(completions, **kwargs):
        return 1.0

    def infinite(completions, **kwargs):
        return [math.inf for c in completions]
    """
)


@pytest.fixture
def reward_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "user_rewards_mod.py").write_text(REWARDS)
    (tmp_path / "user_rewards_broken.py").write_text("import a_package_that_is_not_installed_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("user_rewards_mod", "user_rewards_broken"):
        sys.modules.pop(name, None)


def train_with(reward: str, reward_dir, *overrides: str):
    env = {"PYTHONPATH": f"{reward_dir}:{REPO}"}
    run_dir = reward_dir / "run"
    result = run_openrs(f"reward.functions=[{{name: 'user_rewards_mod:{reward}'}}]", "logger=none",
                        f"hydra.run.dir={run_dir}", *overrides, cwd=reward_dir, env=env, timeout=600)  # fmt: skip
    assert "Traceback" not in result.stderr
    return result, run_dir


@pytest.mark.parametrize(
    ("reward", "overrides", "message"),
    [
        ("divides", [], "reward 'divides' raised ZeroDivisionError: division by zero"),
        ("hangs", ["reward.time_limit_s=2"], "reward 'hangs' did not return within reward.time_limit_s=2.0 s"),
        ("nans", [], "reward 'nans' returned nan for completion 0; return a finite float, or None"),
    ],
)
def test_a_failing_reward_stops_the_run_before_the_model_loads(reward, overrides, message, reward_dir) -> None:
    result, run_dir = train_with(reward, reward_dir, *overrides)
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"openrs: error: reward.functions[0] (user_rewards_mod:{reward}), called once on a test "
                           "batch before training: ")  # fmt: skip
    assert message in line
    assert not (run_dir / "summary.json").exists()  # nothing trained, nothing recorded as a run


def test_a_reward_failing_mid_run_names_the_step_and_the_run_records_it(reward_dir) -> None:
    result, run_dir = train_with("breaks_at_step_2", reward_dir, "train.max_steps=4", "train.save_steps=1")
    assert result.returncode == 2
    # metrics.jsonl has steps 1 and 2: the reward broke while step 3 was being scored
    expected = "openrs: error: reward 'breaks_at_step_2' while training step 3 raised KeyError: 'solution_text'"
    assert expected in result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and "breaks_at_step_2" in summary["error"]
    assert [row["step"] for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row] == [1, 2]


def test_a_reward_calling_sys_exit_mid_run_fails_the_run(reward_dir) -> None:
    """sys.exit(0) inside a reward would end the process with 0, as if the run had succeeded."""
    result, run_dir = train_with("exits_at_step_2", reward_dir, "train.max_steps=3", "train.save_steps=1")
    assert result.returncode == 2
    assert "reward 'exits_at_step_2' while training step 2 called sys.exit(0)" in result.stderr
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "failed"


def test_steps_that_no_reward_scored_are_counted(reward_dir) -> None:
    result, run_dir = train_with("nothing_from_step_2", reward_dir, "train.max_steps=3")
    assert result.returncode == 0
    assert "2 of 3 logged steps had no reward at all" in result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["unscored_steps"] == 2


def test_a_run_whose_rewards_never_score_is_not_completed(reward_dir) -> None:
    result, run_dir = train_with("nothing", reward_dir, "train.max_steps=2")
    assert result.returncode == 2
    assert "No reward scored any completion in 2 logged steps" in result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["final_metrics"]["reward"] is None


@pytest.mark.parametrize(
    ("reward", "message"),
    [
        ("one", "returned 1 values for 3 completions"),
        ("words", "returned '1.0' (str) for completion 0"),
        ("scalar", "returned float 1.0; a reward returns a list"),
        ("infinite", "returned inf for completion 0"),
    ],
)
def test_each_unusable_return_value_is_named(reward: str, message: str, reward_dir) -> None:
    with pytest.raises(RewardError, match=re.escape(message)):
        get_reward(f"user_rewards_mod:{reward}")(**sample_batch(10))


def test_a_good_reward_passes_its_test_call_and_missing_values_are_allowed(reward_dir) -> None:
    batch = sample_batch(10)
    assert get_reward("user_rewards_mod:fine")(**batch) == [1.0, 1.0, 0.0]
    assert get_reward("user_rewards_mod:nothing")(**batch) == [None, None, None]  # None: no reward, as in TRL


def test_import_failures_say_what_is_missing(reward_dir) -> None:
    with pytest.raises(ValueError, match="it imports 'a_package_that_is_not_installed_xyz', which is not installed"):
        get_reward("user_rewards_broken:f")
