"""Each guardrail on a real tiny run: its failure is induced (a reward that pays for length, a learning rate that
explodes, a reward that is constant, ...), and the test asserts what fired and what the run did. The healthy default
run fires nothing (tests/test_tiny_run.py). Only the W&B server is stood in for (the alert's receiver)."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from openrs.run import train_here
from openrs.train import train
from tests.conftest import compose_config, read_jsonl, run_openrs

pytestmark = pytest.mark.slow


def reward(*names: str) -> str:
    return "reward.functions=[" + ", ".join(f"{{name: 'tests.learning_rewards:{n}'}}" for n in names) + "]"


def guarded(tmp_path: Path, *overrides: str, detector: str, action: str = "stop") -> dict:
    """A tiny run watched by one detector alone (the others off), trained in this process."""
    cfg = compose_config("logger=none", "logger.sample_completions_every=0", "train.save_steps=100", "guard=off",
                         f"guard.{detector}.action={action}", *overrides)  # fmt: skip
    return train_here(cfg, tmp_path, f"guard-{detector}", None)


def fired(summary: dict) -> list[tuple[str, str]]:
    return [(f["detector"], f["action"]) for f in summary["guard"]["firings"]]


def test_a_constant_reward_stops_the_run_with_a_checkpoint_and_exit_code_3(tmp_path: Path) -> None:
    """no_signal: every group's rewards are equal from the first step. Averaged over 3 steps and past 0.95 at 2
    steps in a row, it fires at step 4; the run saves checkpoint-4, says why, and exits with code 3."""
    run_dir = tmp_path / "run"
    result = run_openrs("logger=none", reward("constant"), "train.max_steps=30", "guard=off",
                        "guard.no_signal={action: stop, threshold: 0.95, window: 3, patience: 2}",
                        f"hydra.run.dir={run_dir}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]
    assert "openrs guard at step 4: no_signal" in result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["steps"] == 4
    assert summary["guard"]["stopped_by"]["detector"] == "no_signal"
    assert (run_dir / "checkpoint-4" / "trainer_state.json").is_file() and not (run_dir / "final_model").exists()
    assert f"stopped by  {summary['stopped_by']}" in result.stdout and "final model" not in result.stdout
    assert [row["step"] for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row] == [1, 2, 3, 4]
    # the same command does not resume a run that ended on purpose; resume=<its dir>, with the guard loosened, does
    again = run_openrs("logger=none", reward("constant"), "train.max_steps=30", f"hydra.run.dir={run_dir}",
                       cwd=tmp_path)  # fmt: skip
    assert again.returncode == 2 and "already holds run" in again.stderr and "(stopped)" in again.stderr
    loosened = run_openrs("logger=none", reward("constant"), "train.max_steps=6", "guard=off", f"resume={run_dir}",
                          f"hydra.run.dir={tmp_path / 'unused'}", cwd=tmp_path)  # fmt: skip
    assert loosened.returncode == 0, loosened.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 6
    assert [f["detector"] for f in summary["guard"]["firings"]] == ["no_signal"]  # the earlier attempt's, kept


def test_a_reward_for_length_is_stopped_as_a_length_blowup(tmp_path: Path) -> None:
    """With 384 tokens the random model stops on its own in about half its completions; paid for length, it learns
    to run into the limit. The shipped thresholds (0.6, risen 0.25, over 5 steps, 5 times) catch it."""
    summary = guarded(tmp_path, reward("length_fraction"), "length.max_completion_length=384",
                      "optimizer.learning_rate=3e-3", "train.max_steps=40", detector="length_blowup")  # fmt: skip
    assert summary["status"] == "stopped" and fired(summary) == [("length_blowup", "stop")]
    clipped = [row["completions/clipped_ratio"] for row in read_jsonl(tmp_path / "metrics.jsonl") if "reward" in row]
    assert sum(clipped[:3]) / 3 < 0.75 and sum(clipped[-5:]) / 5 >= 0.85  # it rose into the limit
    assert summary["steps"] < 40


def test_a_reward_for_repetition_collapses_the_entropy(tmp_path: Path) -> None:
    summary = guarded(tmp_path, reward("first_token_share"), "optimizer.learning_rate=1e-2", "train.max_steps=45",
                      detector="entropy_collapse")  # fmt: skip
    assert summary["status"] == "stopped" and fired(summary) == [("entropy_collapse", "stop")]
    entropy = [row["entropy"] for row in read_jsonl(tmp_path / "metrics.jsonl") if "entropy" in row]
    assert entropy[-1] < 0.1 * entropy[0]


def test_an_exploding_learning_rate_stops_at_the_first_nan(tmp_path: Path) -> None:
    """lr 1e20: the first update overflows the weights; step 2's logits are inf (sampling survives them, made
    finite), its loss NaN: the run stops there instead of crashing in torch.multinomial."""
    summary = guarded(tmp_path, reward("digit_fraction"), "optimizer.learning_rate=1e20", "train.max_steps=10",
                      detector="nonfinite")  # fmt: skip
    assert summary["status"] == "stopped" and summary["steps"] == 2 and fired(summary) == [("nonfinite", "stop")]
    last = [row for row in read_jsonl(tmp_path / "metrics.jsonl") if "loss" in row][-1]
    assert last["step"] == 2 and (last["loss"] is None or not math.isfinite(last["loss"]))  # NaN is written as null


def rolled_back(tmp_path: Path, *overrides: str, detector: str) -> tuple[dict, subprocess.CompletedProcess]:
    """A tiny run watched by one detector whose action is rollback, through the command line: the launcher starts
    the training process, and again from the checkpoint at each rollback."""
    result = run_openrs("logger=none", "logger.sample_completions_every=0", "train.save_steps=2",
                        "train.save_total_limit=null", "guard=off", f"guard.{detector}.action=rollback", *overrides,
                        f"hydra.run.dir={tmp_path}", cwd=tmp_path.parent)  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return json.loads((tmp_path / "summary.json").read_text()), result


def test_a_kl_explosion_rolls_back_with_a_lower_learning_rate_and_recovers(tmp_path: Path) -> None:
    """lr 5e-2 drives the KL past 1 from step 4 on; the guard fires at step 8 and rolls back to checkpoint-2 (the
    weights before the trouble) with lr x 0.01: the training process ends and the launcher starts a new one from
    checkpoint-2 (before, the same process built a second trainer). The run then completes, its records those of one
    trajectory."""
    summary, result = rolled_back(
        tmp_path / "run",
        reward("digit_fraction"),
        "optimizer.learning_rate=5e-2",
        "train.max_steps=10",
        "guard.rollback.lr_factor=0.01",
        detector="kl_explosion",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "run"
    assert summary["status"] == "completed" and fired(summary) == [("kl_explosion", "rollback")]
    assert "-rollback1" not in summary["run_name"]  # the command's name: resume=auto still finds the run
    first, second = summary["attempts"]
    assert first["pid"] != second["pid"] and second["from_step"] == 2  # a new training process, from checkpoint-2
    assert "starting them again from" in result.stderr and "checkpoint-2" in result.stderr
    (rollback,) = summary["guard"]["rollbacks"]
    assert Path(rollback["to"]).name == "checkpoint-2" and rollback["step"] == 8
    rows = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    assert [row["step"] for row in rows] == list(range(1, 11))  # each step once: the rolled-back ones set aside
    assert [row["learning_rate"] for row in rows] == [5e-2] * 2 + [pytest.approx(5e-4)] * 8
    assert rows[-1]["kl"] < 1.0  # recovered
    superseded = read_jsonl(run_dir / "metrics.superseded.jsonl")
    assert {row["step"] for row in superseded if "reward" in row} == set(range(3, 9))
    assert {row["superseded_at"] for row in superseded} == {2}
    assert {p.name for p in (run_dir / "rolled_back" / "1").iterdir()} == {"checkpoint-4", "checkpoint-6",
                                                                            "checkpoint-8"}  # fmt: skip
    assert (run_dir / "checkpoint-10").is_dir() and (run_dir / "final_model").is_dir()


def test_rollbacks_are_capped_then_the_run_stops(tmp_path: Path) -> None:
    """The signal vanishes at step 7 whatever the learning rate: two rollbacks to checkpoint-4 (max_rollbacks=2),
    then a stop. The second restores a checkpoint saved before the first rollback, yet its learning rate is the
    configured one x lr_factor^2 (it was x lr_factor once: the factor compounded on whatever the checkpoint held)."""
    summary, result = rolled_back(tmp_path / "run", reward("constant_from_step_6"), "train.max_steps=20",
                                  "guard.no_signal.window=2", "guard.no_signal.patience=2",
                                  "guard.rollback.max_rollbacks=2", detector="no_signal")  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]
    assert fired(summary) == [("no_signal", "rollback"), ("no_signal", "rollback"), ("no_signal", "stop")]
    assert "max_rollbacks=2 used" in summary["guard"]["firings"][2]["message"]
    assert summary["status"] == "stopped" and len(summary["guard"]["rollbacks"]) == 2
    assert [Path(r["to"]).name for r in summary["guard"]["rollbacks"]] == ["checkpoint-4", "checkpoint-4"]
    assert [r["lr_factor"] for r in summary["guard"]["rollbacks"]] == [0.5, 0.25]
    assert len({attempt["pid"] for attempt in summary["attempts"]}) == 3
    rates = {row["step"]: row["learning_rate"] for row in read_jsonl(tmp_path / "run" / "metrics.jsonl")
             if "reward" in row}  # fmt: skip
    assert {rates[step] for step in range(1, 5)} == {1e-3}
    later = [rates[step] for step in rates if step > 4]
    assert later and later == [pytest.approx(1e-3 * 0.25)] * len(later)


def test_a_reward_that_pays_for_foreign_text_warns_of_language_drift(tmp_path: Path, monkeypatch) -> None:
    """warn: the run goes on to its end; the firing is in summary.json and W&B gets an alert (the W&B server cannot
    exist here: the alert call is recorded instead of sent; the run itself is a real offline W&B run)."""
    import wandb.sdk.wandb_run

    alerts = []
    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "alert", lambda self, **kwargs: alerts.append(kwargs))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = compose_config("logger.sample_completions_every=0", "train.save_steps=100", "guard=off",
                         "guard.language_drift={action: warn, threshold: 0.02, window: 5, patience: 3}",
                         reward("non_ascii_share"), "optimizer.learning_rate=5e-3", "train.max_steps=50")  # fmt: skip
    summary = train(cfg, tmp_path, "guard-language", "tests")
    assert summary["status"] == "completed" and summary["steps"] == 50
    assert fired(summary) and set(fired(summary)) == {("language_drift", "warn")}
    assert alerts and alerts[0]["title"] == "openrs guard: language_drift"
    fractions = [row["openrs/foreign_fraction"] for row in read_jsonl(tmp_path / "metrics.jsonl") if "reward" in row]
    assert sum(fractions[:5]) / 5 < 0.01 < 0.02 <= max(fractions)


def test_validation_falling_while_the_reward_rises_stops_as_reward_hacking(tmp_path: Path) -> None:
    """The policy is paid for digits; the held-out score is the share of non-digits (weight 0: scored, not trained
    on). It falls from 0.99 while the training reward climbs: stopped at the second evaluation past 0.1 below it."""
    summary = guarded(
        tmp_path, "reward.functions=[{name: 'tests.learning_rewards:digit_fraction', weight: 1.0}, "
        "{name: 'tests.learning_rewards:non_digit_fraction', weight: 0.0}]", "dataset.validation_size=16",
        "train.save_steps=4", "train.max_steps=40", "optimizer.learning_rate=5e-3",
        "guard.reward_hacking.validation_metric=eval_rewards/non_digit_fraction/mean", detector="reward_hacking",
    )  # fmt: skip
    assert summary["status"] == "stopped" and fired(summary) == [("reward_hacking", "stop")]
    firing = summary["guard"]["firings"][0]
    assert firing["step"] % 4 == 0 and firing["last_good"] == 4  # the best validation was the first


def test_unparseable_golds_are_verifier_trouble(tmp_path: Path) -> None:
    """Golds math-verify cannot parse (kept: dataset.check_gold=false): every completion's accuracy is None."""
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"problem": f"What is {i} plus one?", "solution": "no answer here"}) + "\n"
                            for i in range(64)))  # fmt: skip
    summary = guarded(tmp_path / "run", "dataset=jsonl", f"dataset.path={data}", "dataset.check_gold=false",
                      "train.max_steps=10", detector="verifier")  # fmt: skip
    assert summary["status"] == "stopped" and fired(summary) == [("verifier", "stop")]
    assert summary["guard"]["firings"][0]["value"] == 1.0  # all 16 completions of each step
