"""GRPO must actually learn: a dense reward the random tiny model can climb within ~150 CPU steps.

This catches sign, reward-weight and advantage bugs that leave every other test green.
"""

from __future__ import annotations

import json

import pytest

from openrs.train import train
from tests.conftest import compose_config

pytestmark = pytest.mark.slow


def test_grpo_raises_the_reward(tmp_path) -> None:
    cfg = compose_config(
        "logger=none",
        "train.max_steps=150",
        "train.save_steps=1000",
        "logger.sample_completions_every=0",
        "reward.functions=[{name: 'tests.learning_rewards:digit_fraction', weight: 1.0}]",
    )
    summary = train(cfg, tmp_path, run_name="learning", group="tests")
    assert summary["status"] == "completed"
    rewards = [json.loads(line).get("reward") for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    rewards = [r for r in rewards if r is not None]
    first, last = sum(rewards[:20]) / 20, sum(rewards[-20:]) / 20
    assert first < 0.05 and last > 0.6, (first, last)  # README: about 0.01 to about 0.7 (measured 0.008 -> 0.74)


def test_a_negative_weight_drives_the_reward_down(tmp_path) -> None:
    """The same reward with weight -1: GRPO must now push digits out (the weight's sign reaches the loss)."""
    cfg = compose_config(
        "logger=none",
        "train.max_steps=60",
        "train.save_steps=1000",
        "logger.sample_completions_every=0",
        "reward.functions=[{name: 'tests.learning_rewards:digit_fraction', weight: -1.0}]",
    )
    train(cfg, tmp_path, run_name="learning-negative", group="tests")
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    digits = [r["rewards/digit_fraction/mean"] for r in rows if r.get("rewards/digit_fraction/mean") is not None]
    assert sum(digits[-15:]) / 15 < sum(digits[:15]) / 15
