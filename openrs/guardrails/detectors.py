"""The detectors: each reads the metrics of every logged step and says when its kind of trouble has lasted.

Pure logic over plain dicts (no torch, no trainer), so each is tested on numbers and reused by any trainer. A
detector averages its value over `window` logged steps; the average must be past its threshold at `patience`
consecutive logged steps before it fires. `onset` is the step where the trouble began: the first step of the
window of the first of those checks. A step's metrics describe the weights the step started from (its completions,
loss and gradient come from them), so the newest weights still good are those after step `onset - 2`: `last_good`,
where a rollback may return to.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from openrs.config import DetectorConfig, GuardConfig, LengthBlowupConfig, OpenRSConfig, RewardHackingConfig

#: The verdict counts the correctness rewards log per call (openrs.rewards.correctness), summed by `verifier`.
VERIFIER_TROUBLE = ("verify_timeouts", "verify_errors", "unparseable_gold")
FOREIGN_FRACTION = "openrs/foreign_fraction"

log = logging.getLogger(__name__)


@dataclass
class Firing:
    """One detector firing: what, when, the value against the threshold, and what the guard did."""

    detector: str
    step: int
    onset: int
    last_good: int
    value: float
    threshold: float
    message: str
    action: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def number(value: Any) -> float | None:
    """A logged value as a float (bools and strings are not metrics), else None."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class Detector:
    """A rolling mean of one value per logged step, past a threshold for `patience` steps in a row."""

    name = ""
    describe = ""  # what the value is, for the message

    def __init__(self, cfg: DetectorConfig) -> None:
        self.cfg = cfg
        self.values: deque[tuple[int, float]] = deque(maxlen=cfg.window)
        self.streak: list[int] = []  # the window starts of the consecutive checks past the threshold

    def value(self, logs: dict[str, Any]) -> float | None:
        """This step's value, or None when the step did not log it."""
        raise NotImplementedError

    def past(self, average: float) -> bool:
        """Whether the averaged value counts as trouble."""
        raise NotImplementedError

    def limit(self) -> float:
        """The threshold as a value (a relative threshold becomes absolute once its reference is known)."""
        return self.cfg.threshold

    def observe(self, step: int, logs: dict[str, Any]) -> Firing | None:
        """Feed one logged step; a Firing when the trouble has lasted `patience` checks (then it starts counting
        afresh, so lasting trouble fires again after another `patience` steps)."""
        value = self.value(logs)
        if value is None:
            return None
        self.values.append((step, value))
        if len(self.values) < self.cfg.window:
            return None
        average = sum(v for _, v in self.values) / len(self.values)
        if not self.past(average):
            self.streak.clear()
            return None
        self.streak.append(self.values[0][0])
        if len(self.streak) < self.cfg.patience:
            return None
        onset = self.streak[0]
        self.streak.clear()
        return Firing(self.name, step, onset, onset - 2, round(average, 6), round(self.limit(), 6),
                      self.message(average, step, onset), str(self.cfg.action))  # fmt: skip

    def message(self, average: float, step: int, onset: int) -> str:
        over = f" (mean of {self.cfg.window} logged steps)" if self.cfg.window > 1 else ""
        return (f"{self.name}: {self.describe} is {average:.4g}{over}, past {self.limit():.4g} for "
                f"{self.cfg.patience} logged step(s), since step {onset}")  # fmt: skip


class LengthBlowup(Detector):
    name, describe = "length_blowup", "the clipped ratio (completions cut at max_completion_length)"
    cfg: LengthBlowupConfig

    def __init__(self, cfg: LengthBlowupConfig) -> None:
        super().__init__(cfg)
        self.lowest: float | None = None

    def value(self, logs: dict[str, Any]) -> float | None:
        return number(logs.get("completions/clipped_ratio"))

    def past(self, average: float) -> bool:
        self.lowest = average if self.lowest is None else min(self.lowest, average)
        return average >= self.cfg.threshold and average - self.lowest >= self.cfg.rise

    def message(self, average: float, step: int, onset: int) -> str:
        return (f"{super().message(average, step, onset)}; it rose from {self.lowest:.3g}. Completions are running "
                "into the length limit (the Open-RS Exp1 failure)")  # fmt: skip


class Above(Detector):
    """Trouble when the averaged value is at least the threshold."""

    key = ""

    def value(self, logs: dict[str, Any]) -> float | None:
        return number(logs.get(self.key))

    def past(self, average: float) -> bool:
        return average >= self.cfg.threshold


class NoSignal(Above):
    name, key = "no_signal", "frac_reward_zero_std"
    describe = "the fraction of groups whose rewards are all equal (no advantage to learn from)"

    def message(self, average: float, step: int, onset: int) -> str:
        return (f"{super().message(average, step, onset)}. The data may be too easy or too hard for the model; "
                "algorithm.dynamic_sampling=true trains only on groups whose rewards differ")  # fmt: skip


class KlExplosion(Above):
    name, key, describe = "kl_explosion", "kl", "the KL divergence from the reference model"


class LanguageDrift(Above):
    name, key = "language_drift", FOREIGN_FRACTION
    describe = "the fraction of the completions' letters in a foreign script"


class EntropyCollapse(Detector):
    """Trouble when the entropy falls to `threshold` times its average over the first `window` logged steps."""

    name, describe = "entropy_collapse", "the policy's token entropy"

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__(cfg)
        self.reference: float | None = None

    def value(self, logs: dict[str, Any]) -> float | None:
        value = number(logs.get("entropy"))
        if value is not None and self.reference is None and len(self.values) + 1 == self.cfg.window:
            self.reference = (sum(v for _, v in self.values) + value) / self.cfg.window
        return value

    def limit(self) -> float:
        return self.cfg.threshold * (self.reference or 0.0)

    def past(self, average: float) -> bool:
        return self.reference is not None and average <= self.limit()

    def message(self, average: float, step: int, onset: int) -> str:
        return f"{super().message(average, step, onset)} ({self.cfg.threshold:g} x its start, {self.reference:.4g})"


class Nonfinite(Detector):
    """Trouble when the loss or the gradient norm is NaN or infinite (TRL logs them as floats)."""

    name, describe = "nonfinite", "the loss or gradient norm"

    def value(self, logs: dict[str, Any]) -> float | None:
        seen = [number(logs.get(key)) for key in ("loss", "grad_norm")]
        seen = [v for v in seen if v is not None]
        return float(any(not math.isfinite(v) for v in seen)) if seen else None

    def past(self, average: float) -> bool:
        return average > 0

    def message(self, average: float, step: int, onset: int) -> str:
        return f"nonfinite: the loss or gradient norm is NaN or infinite at step {step}"


class Verifier(Detector):
    """Trouble when verify timeouts, verify errors and unparseable golds are at least `threshold` of the completions
    the correctness rewards judged (they log counts per call of `samples_per_call` completions)."""

    name, describe = "verifier", "the fraction of completions with a verify timeout, verify error or unparseable gold"

    def __init__(self, cfg: DetectorConfig, samples_per_call: int) -> None:
        super().__init__(cfg)
        self.samples_per_call = samples_per_call

    def value(self, logs: dict[str, Any]) -> float | None:
        counts = {key: number(v) for key, v in logs.items() if key.rsplit("/", 1)[-1] in VERIFIER_TROUBLE}
        counts = {key: v for key, v in counts.items() if v is not None}
        if not counts:
            return None
        rewards = {key.rsplit("/", 1)[0] for key in counts}  # a reward's three counts share its prefix
        worst = max(sum(v for key, v in counts.items() if key.startswith(f"{r}/")) for r in rewards)
        return worst / self.samples_per_call

    def past(self, average: float) -> bool:
        return average >= self.cfg.threshold


class RewardHacking(Detector):
    """Trouble when the validation score has fallen `threshold` below its best while the training reward rose above
    its mean at that best evaluation, at `patience` evaluations in a row (the window is unused)."""

    name = "reward_hacking"
    cfg: RewardHackingConfig

    def __init__(self, cfg: RewardHackingConfig) -> None:
        super().__init__(cfg)
        self.train_rewards: list[float] = []  # since the last evaluation
        self.best: tuple[int, float, float] | None = None  # step, validation score, training reward then
        self.latest_train = 0.0
        self.warned = False

    def observe(self, step: int, logs: dict[str, Any]) -> Firing | None:
        self.check_metric_name(logs)
        reward = number(logs.get(self.cfg.train_metric))
        if reward is not None and math.isfinite(reward):
            self.train_rewards.append(reward)
        score = number(logs.get(self.cfg.validation_metric))
        if score is None or not self.train_rewards:
            return None
        self.latest_train = sum(self.train_rewards) / len(self.train_rewards)
        self.train_rewards.clear()
        if self.best is None or score >= self.best[1]:
            self.best = (step, score, self.latest_train)
            self.streak.clear()
            return None
        best_step, best_score, best_train = self.best
        if best_score - score < self.cfg.threshold or self.latest_train <= best_train:
            self.streak.clear()
            return None
        self.streak.append(best_step)
        if len(self.streak) < self.cfg.patience:
            return None
        self.streak.clear()
        message = (f"reward_hacking: {self.cfg.validation_metric} fell from {best_score:.4g} (step {best_step}) to "
                   f"{score:.4g} while {self.cfg.train_metric} rose from {best_train:.4g} to "
                   f"{self.latest_train:.4g}")  # fmt: skip
        # the validation at a save scores the weights saved then: the best evaluation's checkpoint is still good
        return Firing(self.name, step, best_step + 1, best_step, round(score, 6),
                      round(best_score - self.cfg.threshold, 6), message, str(self.cfg.action))  # fmt: skip

    def check_metric_name(self, logs: dict[str, Any]) -> None:
        """At the first evaluation: warn once when it did not log validation_metric (a misspelt name never fires)."""
        evaluated = sorted(key for key in logs if key.startswith("eval_"))
        if evaluated and not self.warned and self.cfg.validation_metric not in logs:
            self.warned = True
            log.warning("guard.reward_hacking.validation_metric=%s is not among the evaluation's metrics, so "
                        "reward_hacking cannot fire; they are: %s", self.cfg.validation_metric,
                        ", ".join(evaluated))  # fmt: skip


def build_detectors(guard: GuardConfig, samples_per_call: int) -> list[Detector]:
    """The detectors whose action is not `off`, in the config's order."""
    makers = {
        "length_blowup": LengthBlowup, "no_signal": NoSignal, "entropy_collapse": EntropyCollapse,
        "kl_explosion": KlExplosion, "nonfinite": Nonfinite, "language_drift": LanguageDrift,
        "reward_hacking": RewardHacking, "verifier": lambda cfg: Verifier(cfg, samples_per_call),
    }  # fmt: skip
    return [makers[name](cfg) for name, cfg in guard.detectors().items() if str(cfg.action) != "off"]


def blind_detectors(cfg: OpenRSConfig) -> dict[str, str]:
    """Watching detectors that this run's settings keep from ever firing, each with why (for the plan and the log)."""
    blind = {}
    if cfg.guard.kl_explosion.action != "off" and cfg.algorithm.beta == 0:
        blind["kl_explosion"] = "algorithm.beta=0: TRL computes no kl, so kl_explosion cannot fire"
    if cfg.guard.reward_hacking.action != "off" and not cfg.dataset.validation_size:
        blind["reward_hacking"] = "dataset.validation_size=0: no validation score, so reward_hacking cannot fire"
    return blind
