"""Every built-in reward at once in a real GRPOTrainer run of the tiny model (`reward=all`)."""

from __future__ import annotations

import json
import math

import pytest

from openrs.rewards import available_rewards
from tests.conftest import run_openrs

pytestmark = pytest.mark.slow


def test_grpo_trainer_runs_with_every_reward_enabled(tmp_path) -> None:
    run_dir = tmp_path / "run"
    result = run_openrs(
        "reward=all",
        "logger=none",
        "train.max_steps=4",
        "train.save_steps=100",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [row for row in rows if "reward" in row]
    assert [row["step"] for row in steps] == [1, 2, 3, 4]
    for row in steps:
        for name in available_rewards():
            value = row[f"rewards/{name}/mean"]
            assert math.isfinite(value), (name, value)
        # the correctness rewards report their verification counts through TRL's log_metric
        for name in ("accuracy", "cosine", "length"):
            for metric in ("unparseable_gold", "no_answer", "verify_timeouts", "verify_errors"):
                assert f"{name}/{metric}" in row
            assert row[f"{name}/verify_errors"] == 0
    # DAPO's overlong penalty: -1 for each truncated completion, between -1 and 0 for the others, so a step's mean lies
    # in [-1, -clipped_ratio] (a reward that ignored truncation would sit above -clipped_ratio)
    for row in steps:
        assert -1.0 <= row["rewards/overlong/mean"] <= -row["completions/clipped_ratio"] + 1e-6, row
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
