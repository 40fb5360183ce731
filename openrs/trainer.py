"""TRL's GRPOTrainer with openrs's additions, made at the one place where generation and scoring meet
(`_generate_and_score_completions`, TRL 1.16):

* `openrs/foreign_fraction`: the mean fraction of the completions' letters in a script English does not use (the
  `language` reward's measure, openrs.rewards.language), logged every step for the `language_drift` guardrail;
* `algorithm.dynamic_sampling` (openrs.dynamic_sampling): a training batch made only of groups whose rewards differ;
* transformers generation under the trainer's autocast (float32 master weights sample in the compute dtype).
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

from openrs.dynamic_sampling import draw_groups, group_has_variance, group_rows, join_rows
from openrs.guardrails.detectors import FOREIGN_FRACTION
from openrs.rewards.completions import completions_to_texts
from openrs.rewards.language import LANGUAGE_SCRIPTS, foreign_fraction


class OpenRSGRPOTrainer(GRPOTrainer):
    """GRPOTrainer plus the above. `max_sampling_rounds`: 0 leaves dynamic sampling off, else its cap."""

    def __init__(self, *args: Any, max_sampling_rounds: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_sampling_rounds = max_sampling_rounds
        self.last_rewards_per_func: torch.Tensor | None = None

    def _calculate_rewards(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        rewards = super()._calculate_rewards(*args, **kwargs)
        self.last_rewards_per_func = rewards  # every process's rows, gathered (TRL normalises per group over them)
        return rewards

    def _generate_single_turn(self, *args: Any, **kwargs: Any) -> Any:
        """transformers generation under the trainer's autocast, as its forward passes are (TRL 1.16 runs it without):
        float32 master weights then sample in the compute dtype, with a bf16 KV cache (openrs.precision). Without
        mixed precision the autocast is off; vLLM generation is left alone."""
        if self.use_vllm:
            return super()._generate_single_turn(*args, **kwargs)
        with self.accelerator.autocast():
            return super()._generate_single_turn(*args, **kwargs)

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        if self.max_sampling_rounds and self.model.training:
            return self.informative_batch(inputs)
        return self.generate_round(inputs)

    def generate_round(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """TRL's generation and scoring of `inputs`, plus the foreign fraction of its completions."""
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        self._metrics[mode][FOREIGN_FRACTION].append(self.batch_foreign_fraction(len(inputs)))
        return output

    def batch_foreign_fraction(self, local_rows: int) -> float:
        """The mean foreign fraction of this generation batch, over every process (TRL's `_logs` buffer holds the
        gathered completions, newest last), so every rank logs the same value."""
        rows = local_rows * self.accelerator.num_processes
        texts = completions_to_texts(list(self._logs["completion"])[-rows:])
        allowed = LANGUAGE_SCRIPTS["en"]
        return sum(foreign_fraction(text, allowed) for text in texts) / max(len(texts), 1)

    def informative_batch(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Generate rounds (the first on the sampler's prompts, then on prompts drawn at random) until this process
        holds as many groups with reward variance as its batch has, or max_sampling_rounds is reached; every
        process runs as many rounds as the one that needs most. A batch the cap leaves short is completed with
        zero-variance groups whose completions are masked out of the loss."""
        size = self.num_generations
        needed = len(inputs) // size
        mine = slice(self.accelerator.process_index * needed, (self.accelerator.process_index + 1) * needed)
        pieces: list[tuple[dict[str, Any], list[int], list[int]]] = []  # output, groups kept, zero-variance groups
        kept = flat = rounds = 0
        while rounds < self.max_sampling_rounds:
            rounds += 1
            batch = inputs if rounds == 1 else draw_groups(self.train_dataset, needed, size, (
                self.args.seed, self.state.global_step, rounds, self.accelerator.process_index))  # fmt: skip
            output = self.generate_round(batch)
            varied = group_has_variance(self.last_rewards_per_func, self.reward_weights, size)[mine].tolist()
            good = [group for group, ok in enumerate(varied) if ok][: needed - kept]
            pieces.append((output, good, [group for group, ok in enumerate(varied) if not ok]))
            kept, flat = kept + len(good), flat + varied.count(False)
            if self.count_over_processes(needed - kept) == 0:
                break
        return self.assemble(pieces, needed - kept, rounds, flat)

    def assemble(self, pieces: list[tuple[dict[str, Any], list[int], list[int]]], missing: int, rounds: int,
                 flat: int) -> dict[str, Any]:  # fmt: skip
        """Join the kept groups (and, when short, zero-variance fillers with their loss masked), count the loss
        tokens over every process, and log the rounds, the zero-variance groups and the unfilled slots."""
        size = self.num_generations
        fillers = [(index, group) for index, (_, _, groups) in enumerate(pieces) for group in groups][:missing]
        chosen = [(output, group_rows(good + [g for i, g in fillers if i == index], size))
                  for index, (output, good, _) in enumerate(pieces)]  # fmt: skip
        joined = join_rows(chosen, self._tokenizer.pad_token_id)
        filler_rows = [position for position, row in enumerate(self.row_origins(pieces, fillers)) if row]
        for key in ("completion_mask", "tool_mask"):
            if key in joined and filler_rows:
                joined[key][filler_rows] = 0
        loss_mask = joined["completion_mask"] * joined.get("tool_mask", 1)
        joined["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
        metrics = self._metrics["train"]
        metrics["dynamic_sampling/rounds"].append(float(rounds))
        metrics["dynamic_sampling/zero_variance_groups"].append(float(self.count_over_processes(flat)))
        metrics["dynamic_sampling/unfilled_groups"].append(float(self.count_over_processes(len(fillers))))
        return joined

    def row_origins(self, pieces: list[tuple[dict[str, Any], list[int], list[int]]],
                    fillers: list[tuple[int, int]]) -> list[bool]:  # fmt: skip
        """For each row of the joined batch, in order, whether it belongs to a filler group."""
        marks = []
        for index, (_, good, _) in enumerate(pieces):
            extra = [group for i, group in fillers if i == index]
            marks += [False] * len(good) * self.num_generations + [True] * len(extra) * self.num_generations
        return marks

    def count_over_processes(self, count: int) -> int:
        """`count` summed over every training process (a collective: every process must call it)."""
        return int(self.accelerator.gather(torch.tensor([count], device=self.accelerator.device)).sum().item())
