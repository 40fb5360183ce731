"""Naming, resume discovery and W&B mode selection (no W&B server: mode logic only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrs.errors import ConfigError
from openrs.naming import run_name, run_tags
from openrs.resume import latest_checkpoint, resume_target
from openrs.wandb_mode import choose_wandb_mode


def test_run_name_says_what_differs() -> None:
    assert run_name("exp3", ["+experiment=exp3"]) == "exp3"
    overrides = ["+experiment=exp3", "train.seed=1", "algorithm=dr_grpo", "logger.mode=offline", "dry_run=true"]
    assert run_name("exp3", overrides) == "exp3-algorithm=dr_grpo,train.seed=1"


def test_tags_name_experiment_model_and_algorithm() -> None:
    tags = run_tags("exp3", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "grpo_2025", ["mine"])
    assert tags == ["exp3", "DeepSeek-R1-Distill-Qwen-1.5B", "grpo_2025", "mine"]


def make_run(root: Path, name: str, steps: list[int]) -> Path:
    run = root / name
    for step in steps:
        (run / f"checkpoint-{step}").mkdir(parents=True)
        (run / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")  # a complete save
    run.mkdir(parents=True, exist_ok=True)
    return run


def test_latest_checkpoint_is_numeric_not_lexical(tmp_path: Path) -> None:
    run = make_run(tmp_path, "r", [50, 100, 450])
    assert latest_checkpoint(run).name == "checkpoint-450"


def test_a_checkpoint_cut_short_by_a_kill_is_passed_over(tmp_path: Path) -> None:
    """A kill during a save leaves checkpoint-N without trainer_state.json (the Trainer writes it last)."""
    run = make_run(tmp_path, "r", [50, 100])
    (run / "checkpoint-150").mkdir()
    (run / "checkpoint-150" / "model.safetensors").write_text("half")
    assert latest_checkpoint(run).name == "checkpoint-100"
    only_partial = make_run(tmp_path, "p", [])
    (only_partial / "checkpoint-5").mkdir()
    assert latest_checkpoint(only_partial) is None


def test_resume_true_picks_the_latest_sibling_with_a_checkpoint(tmp_path: Path) -> None:
    make_run(tmp_path, "2026-01-01_00-00-00", [50])
    latest = make_run(tmp_path, "2026-01-02_00-00-00", [50, 100])
    make_run(tmp_path, "2026-01-03_00-00-00", [])  # crashed before its first save
    fresh = tmp_path / "2026-01-04_00-00-00"
    fresh.mkdir()
    assert resume_target(True, fresh) == (latest, latest / "checkpoint-100")
    assert resume_target(False, fresh) == (fresh, None)
    assert resume_target(str(latest), fresh) == (latest, latest / "checkpoint-100")


def test_resume_from_one_checkpoint_of_a_run(tmp_path: Path) -> None:
    """resume=<run>/checkpoint-N (what a rollback's restart passes the ranks): that checkpoint, not the latest; one a
    kill cut short is refused with why."""
    run = make_run(tmp_path, "r", [50, 100])
    assert resume_target(str(run / "checkpoint-50"), tmp_path / "fresh") == (run, run / "checkpoint-50")
    (run / "checkpoint-150").mkdir()
    with pytest.raises(ConfigError, match="checkpoint-150: that checkpoint cannot be loaded: no trainer_state.json"):
        resume_target(str(run / "checkpoint-150"), tmp_path / "fresh")


def test_resume_without_checkpoints_says_what_to_do(tmp_path: Path) -> None:
    fresh = tmp_path / "now"
    fresh.mkdir()
    with pytest.raises(ConfigError, match="no earlier run"):
        resume_target(True, fresh)
    with pytest.raises(ConfigError, match="no such run directory"):
        resume_target(str(tmp_path / "missing"), fresh)


def test_wandb_mode_is_offline_without_a_key(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setattr("openrs.wandb_mode.server_reachable", lambda: True)  # no W&B server here: say it answers
    choose_wandb_mode.cache_clear()
    assert choose_wandb_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    choose_wandb_mode.cache_clear()
    assert choose_wandb_mode("auto") == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    choose_wandb_mode.cache_clear()
    assert choose_wandb_mode("auto") == "disabled"  # the user's own WANDB_MODE wins over auto
    assert choose_wandb_mode("offline") == "offline"  # an explicit logger.mode wins over everything


def test_wandb_key_in_netrc_counts(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    netrc.chmod(0o600)
    monkeypatch.setattr("openrs.wandb_mode.server_reachable", lambda: True)  # no W&B server here: say it answers
    choose_wandb_mode.cache_clear()
    assert choose_wandb_mode("auto") == "online"


def test_the_progress_line_names_each_reward_and_the_training_end() -> None:
    from openrs.tracking import progress_line

    logs = {"reward": 0.5, "rewards/accuracy/mean": 0.25, "rewards/format/mean": 0.25, "kl": 0.0012,
            "completions/mean_length": 31.25, "completions/clipped_ratio": 0.9375, "entropy": 6.5}  # fmt: skip
    assert progress_line(3, 60, logs) == (
        "step 3/60  reward 0.5 (accuracy 0.25, format 0.25)  length 31.2  clipped 0.938  kl 0.0012"
    )
    assert progress_line(60, 60, {"train_runtime": 14.6, "train_loss": 0.1}) == "step 60/60  training done in 15s"
    assert progress_line(4, 60, {"benchmarks/average/pass@1": 0.125}) == "step 4/60  pass@1 0.125"
    unscored = {"reward": 0.25, "rewards/accuracy/mean": float("nan"), "rewards/format/mean": 0.25}  # golds unparseable
    assert progress_line(5, 60, unscored) == "step 5/60  reward 0.25 (accuracy n/a, format 0.25)"
    assert progress_line(5, 60, {**unscored, "rewards/accuracy/mean": None}) == progress_line(5, 60, unscored)


def test_an_option_added_since_a_record_was_made_is_no_difference_when_unset() -> None:
    """A run or evaluation recorded by an earlier openrs lacks options added since (rollout.group_port,
    eval.max_model_length): unset, they do not stop its resumption; set, or a changed default, they do."""
    from openrs.run_dir import differences

    old = {"rollout": {"server_port": 8000}, "algorithm": {"dynamic_sampling": True}}
    assert differences(old, {"rollout": {"server_port": 8000, "group_port": None}, "algorithm": old["algorithm"]}) == []
    assert differences(old, {"rollout": {"server_port": 8000, "group_port": 51300},
                             "algorithm": old["algorithm"]}) == ["rollout.group_port: '<absent>' -> 51300"]  # fmt: skip
