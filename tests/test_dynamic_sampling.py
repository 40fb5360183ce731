"""algorithm.dynamic_sampling: the tensor pieces on numbers, then real tiny runs whose batches are inspected."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from openrs.dynamic_sampling import draw_groups, group_has_variance, join_rows
from openrs.errors import ConfigError
from openrs.train import train
from openrs.trainer import OpenRSGRPOTrainer
from tests.conftest import compose_config, read_jsonl

NAN = math.nan


def test_a_group_has_variance_when_its_weighted_rewards_differ() -> None:
    rewards = torch.tensor([
        [1.0, 0.0], [1.0, 0.0],  # equal: no variance
        [1.0, 0.0], [0.0, 0.0],  # differ
        [0.0, 1.0], [0.0, 0.0],  # differ only in a reward of weight 0: no variance
        [NAN, NAN], [1.0, 0.0],  # one completion unscored: a group of one, no variance
        [NAN, 0.5], [0.2, 0.5],  # a None beside a score counts as 0 (TRL's nansum): differ
    ])  # fmt: skip
    varied = group_has_variance(rewards, torch.tensor([1.0, 0.0]), group_size=2)
    assert varied.tolist() == [False, True, False, False, True]


def test_join_rows_pads_prompts_left_and_completions_right() -> None:
    one = {"prompt_ids": torch.tensor([[5, 6], [5, 6]]), "prompt_mask": torch.ones(2, 2, dtype=torch.long),
           "completion_ids": torch.tensor([[7, 8, 9], [7, 0, 0]]),
           "completion_mask": torch.tensor([[1, 1, 1], [1, 0, 0]]),
           "advantages": torch.tensor([0.5, -0.5]), "num_items_in_batch": torch.tensor(4)}  # fmt: skip
    two = {"prompt_ids": torch.tensor([[1, 2, 3]]), "prompt_mask": torch.ones(1, 3, dtype=torch.long),
           "completion_ids": torch.tensor([[4]]), "completion_mask": torch.tensor([[1]]),
           "advantages": torch.tensor([1.0]), "num_items_in_batch": torch.tensor(1)}  # fmt: skip
    joined = join_rows([(one, [1]), (two, [0])], pad_token_id=0)
    assert joined["prompt_ids"].tolist() == [[0, 5, 6], [1, 2, 3]]
    assert joined["prompt_mask"].tolist() == [[0, 1, 1], [1, 1, 1]]
    assert joined["completion_ids"].tolist() == [[7, 0, 0], [4, 0, 0]]
    assert joined["completion_mask"].tolist() == [[1, 0, 0], [1, 0, 0]]
    assert joined["advantages"].tolist() == [-0.5, 1.0] and "num_items_in_batch" not in joined
    with pytest.raises(NotImplementedError, match="pixel_values"):
        join_rows([({**one, "pixel_values": torch.zeros(2, 3)}, [0])], pad_token_id=0)


def test_extra_groups_are_drawn_reproducibly_and_repeated_per_group() -> None:
    rows = [{"prompt": f"p{i}"} for i in range(50)]
    drawn = draw_groups(rows, groups=3, group_size=4, seed=(42, 7, 2, 0))
    assert len(drawn) == 12 and all(drawn[i] == drawn[i - i % 4] for i in range(12))
    assert drawn == draw_groups(rows, groups=3, group_size=4, seed=(42, 7, 2, 0))
    assert drawn != draw_groups(rows, groups=3, group_size=4, seed=(42, 7, 3, 0))


def test_each_process_must_hold_whole_groups() -> None:
    with pytest.raises(ConfigError, match="algorithm.dynamic_sampling"):
        compose_config("algorithm.dynamic_sampling=true", "train.per_device_train_batch_size=4",
                       "train.num_generations=8", "launcher=accelerate", "launcher.num_processes=2")  # fmt: skip
    assert compose_config("algorithm=dapo").algorithm.dynamic_sampling


def test_the_filters_signal_is_checked_before_anything_loads() -> None:
    from openrs.checks import check_config, sampling_signal

    assert sampling_signal(compose_config("+experiment=exp3", "algorithm=dapo")) == ("correctness", "cosine")
    assert sampling_signal(compose_config("algorithm=dapo", "algorithm.dynamic_sampling_reward=format")) == (
        "reward", "format")  # fmt: skip
    constant = "reward.functions=[{name: 'tests.learning_rewards:constant'}]"
    with pytest.raises(ConfigError, match="needs|has none.*dynamic_sampling_reward=total or one of: constant"):
        check_config(compose_config("algorithm=dapo", constant))
    with pytest.raises(ConfigError, match="dynamic_sampling_reward=acuracy: not a reward of this run. Use correctness"):
        check_config(compose_config("algorithm=dapo", "algorithm.dynamic_sampling_reward=acuracy"))


@pytest.fixture
def batches(monkeypatch) -> list[dict]:
    """Every training batch dynamic sampling hands to TRL (observed, not changed)."""
    seen: list[dict] = []
    original = OpenRSGRPOTrainer.informative_batch

    def observe(self, inputs):
        batch = original(self, inputs)
        seen.append({key: value.clone() if torch.is_tensor(value) else value for key, value in batch.items()})
        return batch

    monkeypatch.setattr(OpenRSGRPOTrainer, "informative_batch", observe)
    return seen


@pytest.mark.slow
def test_no_zero_variance_group_reaches_the_loss(tmp_path: Path, batches: list[dict]) -> None:
    """The tiny default filtered on the total reward (the random model is never right, so its correctness never
    varies): the format reward is 0 or 1, so about half the groups of 8 earn all 0. With dynamic sampling each batch
    holds 2 groups whose advantages (TRL's, from the rewards) are not all zero, and the logged batch metrics are the
    kept batch's: its share of zero-variance groups is that of the fillers, the rounds' share is kept apart."""
    cfg = compose_config("logger=none", "logger.sample_completions_every=0", "train.save_steps=100",
                         "train.max_steps=8", "algorithm.dynamic_sampling=true",
                         "algorithm.dynamic_sampling_reward=total")  # fmt: skip
    summary = train(cfg, tmp_path, "dynamic", "tests")
    assert summary["status"] == "completed" and len(batches) == 8
    for batch in batches:
        groups = batch["advantages"].view(-1, 8)
        masked = batch["completion_mask"].view(-1, 8, batch["completion_mask"].size(1)).sum(dim=(1, 2))
        assert groups.shape[0] == 2
        for advantages, tokens in zip(groups, masked, strict=True):
            assert tokens == 0 or advantages.abs().max() > 0  # in the loss only with an advantage
    rows = [row for row in read_jsonl(tmp_path / "metrics.jsonl") if "reward" in row]
    assert all(1 <= row["dynamic_sampling/rounds"] <= 4 for row in rows)
    assert sum(row["dynamic_sampling/zero_variance_groups"] for row in rows) > 0  # it had groups to drop
    assert any(row["dynamic_sampling/rounds"] > 1 for row in rows)
    for row in rows:
        assert row["frac_reward_zero_std"] == row["dynamic_sampling/unfilled_groups"] / 2  # the kept batch's
        assert row["dynamic_sampling/all_rounds/frac_reward_zero_std"] >= row["frac_reward_zero_std"]
        assert 0 <= row["completions/clipped_ratio"] <= 1 and "dynamic_sampling/all_rounds/reward" in row
    assert any(row["dynamic_sampling/all_rounds/frac_reward_zero_std"] > row["frac_reward_zero_std"] for row in rows)


@pytest.mark.slow
def test_the_cap_is_respected_and_a_short_batch_is_masked(tmp_path: Path, batches: list[dict]) -> None:
    """A constant reward never varies: every step runs exactly max_sampling_rounds rounds, logs every group as
    unfilled, and masks all of its completions out of the loss (no gradient)."""
    cfg = compose_config("logger=none", "logger.sample_completions_every=0", "train.save_steps=100",
                         "train.max_steps=3", "algorithm.dynamic_sampling=true", "algorithm.max_sampling_rounds=2",
                         "reward.functions=[{name: 'tests.learning_rewards:constant'}]", "guard=off",
                         "algorithm.dynamic_sampling_reward=constant")  # fmt: skip
    train(cfg, tmp_path, "dynamic-capped", "tests")
    rows = [row for row in read_jsonl(tmp_path / "metrics.jsonl") if "reward" in row]
    assert [row["dynamic_sampling/rounds"] for row in rows] == [2.0] * 3
    assert [row["dynamic_sampling/zero_variance_groups"] for row in rows] == [4.0] * 3  # 2 groups x 2 rounds
    assert [row["dynamic_sampling/unfilled_groups"] for row in rows] == [2.0] * 3
    assert all(batch["completion_mask"].sum() == 0 for batch in batches)
    assert all(row["grad_norm"] == 0 for row in rows)


def arithmetic_gold(prompt: str) -> str:
    """The boxed answer of the `a op b` problem a prompt asks (the synthetic set's questions)."""
    import re

    a, op, b = re.search(r"(\d+) ([-+*]) (\d+)", prompt).groups()
    value = {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op]
    return f"\\boxed{{{value}}}"


@pytest.mark.slow
def test_on_smollm2_groups_all_right_or_all_wrong_are_dropped_beside_a_length_reward(
    smollm2_dir: Path, tmp_path: Path, batches: list[dict], monkeypatch
) -> None:
    """SmolLM2-135M on single-digit arithmetic with the cosine reward alone (exp3's length-aware correctness): its
    value varies with length in almost every group, so filtering on the total (what dynamic sampling did before)
    kept groups all right or all wrong. Filtered on correctness (the default), such groups are dropped though their
    totals differ, and every group that reaches the loss has right and wrong answers, re-judged here from the
    batch's own tokens."""
    from transformers import AutoTokenizer

    from openrs.dynamic_sampling import group_varies, weighted_totals
    from openrs.rewards.accuracy import accuracy_reward

    decisions: list[tuple[bool, bool]] = []  # per group of every round: (total varies, correctness varies)
    original = OpenRSGRPOTrainer.signal_of

    def observe(self, rewards):
        signal = original(self, rewards)
        by_total = group_varies(weighted_totals(rewards, self.reward_weights), 8).tolist()
        decisions.extend(zip(by_total, group_varies(signal, 8).tolist(), strict=True))
        return signal

    monkeypatch.setattr(OpenRSGRPOTrainer, "signal_of", observe)
    cfg = compose_config("+experiment=smollm2_arith", "eval.before_train=false", "eval.after_train=false",
                         "logger=none", "guard=off", "train.max_steps=2", "train.per_device_train_batch_size=16",
                         "length.max_completion_length=32", "algorithm.dynamic_sampling=true",
                         "reward.functions=[{name: cosine, params: {max_len: 200, scheme: latex_gold_fixed}}]",
                         "logger.sample_completions_every=0")  # fmt: skip
    summary = train(cfg, tmp_path, "smollm2-dynamic", "tests")
    assert summary["status"] == "completed", summary.get("error")
    assert any(total and not right for total, right in decisions), decisions  # varied totals, dropped
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    right_per_group = []
    for batch in batches:
        prompts = tokenizer.batch_decode(batch["prompt_ids"], skip_special_tokens=True)
        completions = tokenizer.batch_decode(batch["completion_ids"], skip_special_tokens=True)
        correct = accuracy_reward(completions, solution=[arithmetic_gold(p) for p in prompts],
                                  scheme="latex_gold_fixed", workers=0)  # fmt: skip
        trained = batch["completion_mask"].view(-1, 8, batch["completion_mask"].size(1)).sum(dim=(1, 2)) > 0
        right_per_group += [sum(correct[g * 8 : (g + 1) * 8]) for g, kept in enumerate(trained.tolist()) if kept]
    assert right_per_group and all(0 < right < 8 for right in right_per_group), right_per_group
