"""The detectors on numbers, and the guard's configuration (each detector on a real run: test_guardrail_runs.py)."""

from __future__ import annotations

import math

import pytest

from openrs.config import DetectorConfig, GuardConfig, LengthBlowupConfig, RewardHackingConfig
from openrs.errors import ConfigError
from openrs.guardrails.detectors import (
    EntropyCollapse,
    KlExplosion,
    LengthBlowup,
    Nonfinite,
    NoSignal,
    RewardHacking,
    Verifier,
    build_detectors,
)
from tests.conftest import compose_config


def feed(detector, key, values, start=1):
    """Each value as one logged step's `key`; the firings as (step, onset, last_good)."""
    fired = []
    for step, value in enumerate(values, start=start):
        firing = detector.observe(step, {key: value})
        if firing is not None:
            fired.append((firing.step, firing.onset, firing.last_good))
    return fired


def test_window_and_patience_decide_when_a_detector_fires() -> None:
    """The mean of 3 steps must be past 0.95 at 2 consecutive steps: the first such mean covers steps 4-6 (onset 4),
    the second steps 5-7, so it fires at step 7; the weights still good are those after step 2."""
    detector = NoSignal(DetectorConfig(threshold=0.95, window=3, patience=2))
    assert feed(detector, "frac_reward_zero_std", [0.5, 0.5, 0.5, 1, 1, 1, 1]) == [(7, 4, 2)]


def test_a_dip_below_the_threshold_restarts_the_patience() -> None:
    detector = NoSignal(DetectorConfig(threshold=0.95, window=1, patience=3))
    assert feed(detector, "frac_reward_zero_std", [1, 1, 0.5, 1, 1, 1]) == [(6, 4, 2)]


def test_lasting_trouble_fires_again_after_another_patience() -> None:
    detector = KlExplosion(DetectorConfig(threshold=1.0, window=1, patience=2))
    assert [f[0] for f in feed(detector, "kl", [2.0] * 6)] == [2, 4, 6]


def test_steps_without_the_metric_are_skipped() -> None:
    """A step that did not log the value (an evaluation's log line, beta 0 without kl) is neither trouble nor calm."""
    detector = KlExplosion(DetectorConfig(threshold=1.0, window=1, patience=2))
    assert detector.observe(1, {"kl": 3.0}) is None
    assert detector.observe(2, {"eval_reward": 0.5}) is None
    assert detector.observe(3, {"kl": 3.0}).step == 3


def test_length_blowup_needs_a_rise_not_just_a_high_ratio() -> None:
    """The random tiny model always hits its 32-token limit: a clipped ratio near 1 from the start is no blow-up.
    A ratio that climbs from 0.3 to 0.9 is."""
    cfg = LengthBlowupConfig(threshold=0.6, rise=0.25, window=3, patience=2)
    assert feed(LengthBlowup(cfg), "completions/clipped_ratio", [0.94, 1.0, 0.94, 1.0] * 10) == []
    climbing = [0.3, 0.3, 0.3, 0.5, 0.7, 0.9, 0.9, 0.9]
    assert feed(LengthBlowup(cfg), "completions/clipped_ratio", climbing) == [(7, 4, 2)]


def test_entropy_collapse_is_relative_to_the_start() -> None:
    cfg = DetectorConfig(threshold=0.1, window=2, patience=2)
    assert feed(EntropyCollapse(cfg), "entropy", [0.5] * 10) == []  # low but steady: a confident model
    fired = feed(EntropyCollapse(cfg), "entropy", [6.5, 6.5, 3.0, 0.4, 0.3, 0.3])
    assert fired == [(6, 4, 2)]


def test_nonfinite_fires_at_the_first_nan_or_inf() -> None:
    detector = Nonfinite(DetectorConfig(threshold=0.0, window=1, patience=1))
    assert detector.observe(1, {"loss": 0.1, "grad_norm": 0.5}) is None
    assert detector.observe(2, {"loss": 0.1, "grad_norm": math.inf}).step == 2
    assert Nonfinite(DetectorConfig()).observe(1, {"loss": math.nan}).onset == 1


def test_verifier_counts_trouble_per_completion_of_one_reward() -> None:
    """The rewards log counts per call of 16 completions; accuracy's 4 timeouts + 1 error is 5/16 of them."""
    detector = Verifier(DetectorConfig(threshold=0.3, window=1, patience=1), samples_per_call=16)
    calm = {"accuracy/verify_timeouts": 1.0, "accuracy/verify_errors": 0.0, "accuracy/unparseable_gold": 0.0}
    assert detector.observe(1, calm) is None
    firing = detector.observe(2, {**calm, "accuracy/verify_timeouts": 4.0, "accuracy/verify_errors": 1.0})
    assert firing.value == pytest.approx(5 / 16)


def test_reward_hacking_needs_validation_falling_while_the_reward_rises() -> None:
    cfg = RewardHackingConfig(threshold=0.1, patience=2, validation_metric="eval_acc", train_metric="reward")
    detector = RewardHacking(cfg)
    steps = [(1, 0.1, None), (2, 0.1, 0.60), (3, 0.3, None), (4, 0.3, 0.45), (5, 0.4, None), (6, 0.5, 0.40)]
    fired = [detector.observe(step, {"reward": r, **({"eval_acc": v} if v is not None else {})})
             for step, r, v in steps]  # fmt: skip
    firing = fired[-1]
    assert fired[:-1] == [None] * 5 and firing.step == 6 and firing.last_good == 2  # the best validation's step
    falling_together = RewardHacking(cfg)  # both falling: a bad run, not a hacked reward
    for step, r, v in [(1, 0.5, None), (2, 0.5, 0.6), (3, 0.2, None), (4, 0.2, 0.4), (6, 0.1, 0.3)]:
        assert falling_together.observe(step, {"reward": r, **({"eval_acc": v} if v is not None else {})}) is None


def test_guard_off_watches_nothing_and_an_option_turns_one_back_on() -> None:
    assert build_detectors(compose_config("guard=off").guard, 16) == []
    cfg = compose_config("guard=off", "guard.kl_explosion.action=stop")
    assert [d.name for d in build_detectors(cfg.guard, 16)] == ["kl_explosion"]
    assert len(build_detectors(compose_config().guard, 16)) == 8


def test_the_shipped_defaults_are_the_schema_defaults() -> None:
    """conf/guard/default.yaml and the dataclass say the same (the YAML documents why)."""
    assert compose_config().guard == GuardConfig()


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("guard.no_signal.window=0", "guard.no_signal.window"),
        ("guard.rollback.lr_factor=0", "guard.rollback.lr_factor"),
        ("guard.length_blowup.patience=0", "guard.length_blowup.patience"),
    ],
)
def test_a_bad_guard_option_names_its_key(override: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        compose_config(override)


def test_a_misspelt_validation_metric_is_named_at_the_first_evaluation(caplog) -> None:
    cfg = RewardHackingConfig(validation_metric="eval_rewards/acuracy/mean")
    detector = RewardHacking(cfg)
    detector.observe(1, {"reward": 0.1})
    detector.observe(2, {"eval_reward": 0.2, "eval_rewards/accuracy/mean": 0.2})
    detector.observe(4, {"eval_reward": 0.2, "eval_rewards/accuracy/mean": 0.2})
    warnings = [r.getMessage() for r in caplog.records if "validation_metric" in r.getMessage()]
    assert len(warnings) == 1 and "eval_rewards/acuracy/mean" in warnings[0]
    assert "eval_rewards/accuracy/mean" in warnings[0]  # the names it could have meant
