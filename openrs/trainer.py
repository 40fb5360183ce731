"""TRL's GRPOTrainer with openrs's additions, made at the one place where generation and scoring meet
(`_generate_and_score_completions`, TRL 1.16):

* `openrs/foreign_fraction`: the mean fraction of the completions' letters in a script English does not use (the
  `language` reward's measure, openrs.rewards.language), logged every step for the `language_drift` guardrail.
"""

from __future__ import annotations

from typing import Any

from trl import GRPOTrainer

from openrs.guardrails.detectors import FOREIGN_FRACTION
from openrs.rewards.completions import completions_to_texts
from openrs.rewards.language import LANGUAGE_SCRIPTS, foreign_fraction


class OpenRSGRPOTrainer(GRPOTrainer):
    """GRPOTrainer plus the metrics above."""

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        self._metrics[mode][FOREIGN_FRACTION].append(self.batch_foreign_fraction(len(inputs)))
        return output

    def batch_foreign_fraction(self, local_rows: int) -> float:
        """The mean foreign fraction of this generation batch, over every process (TRL's `_logs` buffer holds the
        gathered completions, newest last), so every rank logs the same value."""
        rows = local_rows * self.accelerator.num_processes
        latest = list(self._logs["completion"])[-rows:]
        allowed = LANGUAGE_SCRIPTS["en"]
        texts = completions_to_texts(latest)
        return sum(foreign_fraction(text, allowed) for text in texts) / max(len(texts), 1)
