"""TRL's GRPOTrainer with openrs's additions, made at the one place where generation and scoring meet
(`_generate_and_score_completions`, TRL 1.16):

* `openrs/foreign_fraction`: the mean fraction of the completions' letters in a script English does not use (the
  `language` reward's measure, openrs.rewards.language), logged every step for the `language_drift` guardrail;
* `algorithm.dynamic_sampling` (openrs.dynamic_sampling): a training batch made only of groups whose rewards differ;
* transformers generation under the trainer's autocast (float32 master weights sample in the compute dtype).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from trl import GRPOTrainer
from trl.trainer.utils import nanstd

from openrs.dynamic_sampling import draw_groups, group_rows, group_varies, join_rows, weighted_totals
from openrs.guardrails.detectors import FOREIGN_FRACTION
from openrs.rewards.completions import completions_to_texts
from openrs.rewards.correctness import RECENT
from openrs.rewards.language import LANGUAGE_SCRIPTS, foreign_fraction

#: Metrics TRL logs per generation round that openrs recomputes on the kept batch under dynamic sampling (the
#: guardrails read them); the mean over every round of a step goes under `dynamic_sampling/all_rounds/<name>`.
BATCH_METRICS = (
    "reward", "reward_std", "frac_reward_zero_std", "completions/mean_length", "completions/min_length",
    "completions/max_length", "completions/clipped_ratio", "completions/mean_terminated_length",
    "completions/min_terminated_length", "completions/max_terminated_length", FOREIGN_FRACTION,
)  # fmt: skip
ALL_ROUNDS = "dynamic_sampling/all_rounds/"


@dataclass
class Round:
    """One generation round of dynamic sampling on this process: TRL's output, the groups kept and those with no
    variance (by the filter's signal), and per local row the rewards, length, truncation and foreign fraction."""

    output: dict[str, Any]
    good: list[int]
    flat: list[int]
    rows: torch.Tensor  # (local rows, rewards + 3): each reward, then length, truncated (0/1), foreign fraction


class OpenRSGRPOTrainer(GRPOTrainer):
    """GRPOTrainer plus the above. `max_sampling_rounds`: 0 leaves dynamic sampling off, else its cap;
    `sampling_signal`: its filter, as openrs.checks.sampling_signal gives it (kind, reward name)."""

    def __init__(self, *args: Any, max_sampling_rounds: int = 0,
                 sampling_signal: tuple[str, str | None] = ("total", None), **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.max_sampling_rounds = max_sampling_rounds
        self.sampling_signal = sampling_signal
        self.last_rewards_per_func: torch.Tensor | None = None
        self.last_signal: torch.Tensor | None = None
        self.last_completion_ids: list[list[int]] = []
        self.last_foreign: list[float] = []  # the latest round's foreign fraction per completion, every process's

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        result = super()._generate(*args, **kwargs)
        self.last_completion_ids = result[1]  # this process's completions, as TRL measures their lengths
        return result

    def _calculate_rewards(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        rewards = super()._calculate_rewards(*args, **kwargs)
        self.last_rewards_per_func = rewards  # every process's rows, gathered (TRL normalises per group over them)
        if self.max_sampling_rounds and self.model.training:
            self.last_signal = self.signal_of(rewards)
        return rewards

    def signal_of(self, rewards: torch.Tensor) -> torch.Tensor:
        """Per gathered row, the value dynamic sampling compares within a group: the completion's correctness (1/0,
        NaN unjudged) as its correctness reward judged it, the weighted total, or one reward's value."""
        kind, name = self.sampling_signal
        if kind == "total":
            return weighted_totals(rewards, self.reward_weights)
        if kind == "reward":
            return rewards[:, self.reward_func_names.index(name)]
        judged = RECENT.get(name, [])
        if len(judged) * self.accelerator.num_processes != rewards.shape[0]:  # its latest call was not this batch's
            raise RuntimeError(
                f"dynamic sampling: the '{name}' reward judged {len(judged)} completions on this "
                f"process, not this batch's {rewards.shape[0] // self.accelerator.num_processes}"
            )
        local = torch.tensor([float("nan") if c is None else float(c) for c in judged], device=rewards.device)
        return self.accelerator.gather(local)

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
        # every process's completions (TRL's `_logs` buffer holds them gathered, newest last): every rank logs the same
        self.last_foreign = self.foreign_fractions(len(inputs) * self.accelerator.num_processes)
        self._metrics[mode][FOREIGN_FRACTION].append(sum(self.last_foreign) / max(len(self.last_foreign), 1))
        return output

    def foreign_fractions(self, rows: int) -> list[float]:
        """The foreign fraction of each of the newest `rows` completions of TRL's `_logs` buffer."""
        texts = completions_to_texts(list(self._logs["completion"])[-rows:])
        return [foreign_fraction(text, LANGUAGE_SCRIPTS["en"]) for text in texts]

    def informative_batch(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Generate rounds (the first on the sampler's prompts, then on prompts drawn at random) until this process
        holds as many groups whose completions differ in the filter's signal as its batch has, or
        max_sampling_rounds is reached; every process runs as many rounds as the one that needs most. A batch the cap
        leaves short is completed with zero-variance groups whose completions are masked out of the loss. The
        step's batch metrics then describe the batch kept (`keep_batch_metrics`)."""
        size = self.num_generations
        needed = len(inputs) // size
        mine = slice(self.accelerator.process_index * needed, (self.accelerator.process_index + 1) * needed)
        metrics = self._metrics["train"]
        reward_keys = [f"rewards/{name}/{stat}" for name in self.reward_func_names for stat in ("mean", "std")]
        marks = {key: len(metrics[key]) for key in (*BATCH_METRICS, *reward_keys)}
        rounds: list[Round] = []
        kept = flat = 0
        while len(rounds) < self.max_sampling_rounds:
            number = len(rounds) + 1
            batch = inputs if number == 1 else draw_groups(self.train_dataset, needed, size, (
                self.args.seed, self.state.global_step, number, self.accelerator.process_index))  # fmt: skip
            output = self.generate_round(batch)
            varied = group_varies(self.last_signal, size)[mine].tolist()
            good = [group for group, ok in enumerate(varied) if ok][: needed - kept]
            rounds.append(Round(output, good, [group for group, ok in enumerate(varied) if not ok],
                                self.local_rows(len(batch))))  # fmt: skip
            kept, flat = kept + len(good), flat + varied.count(False)
            if self.count_over_processes(needed - kept) == 0:
                break
        joined, chosen = self.assemble(rounds, needed - kept, flat)
        self.keep_batch_metrics(marks, chosen)
        return joined

    def local_rows(self, rows: int) -> torch.Tensor:
        """This process's rows of the round just scored: each reward, length, truncation and foreign fraction."""
        index = self.accelerator.process_index
        rewards = self.last_rewards_per_func[index * rows : (index + 1) * rows]
        eos_and_pad = [*self.eos_token_ids, self._tokenizer.pad_token_id]
        ids = self.last_completion_ids
        lengths = torch.tensor([len(row) for row in ids], dtype=torch.float32)
        truncated = torch.tensor([float(bool(row) and row[-1] not in eos_and_pad) for row in ids])
        foreign = torch.tensor(self.last_foreign[index * rows : (index + 1) * rows], dtype=torch.float32)
        extra = torch.stack([lengths, truncated, foreign], dim=1).to(rewards.device)
        return torch.cat([rewards.float(), extra], dim=1)

    def assemble(self, rounds: list[Round], missing: int, flat: int) -> tuple[dict[str, Any], torch.Tensor]:
        """Join the kept groups (and, when short, zero-variance fillers with their loss masked), count the loss
        tokens over every process, and log the rounds, the zero-variance groups and the unfilled slots. Returns the
        joined batch and its rows' statistics (as `Round.rows`, in the batch's order)."""
        size = self.num_generations
        fillers = [(index, group) for index, piece in enumerate(rounds) for group in piece.flat][:missing]
        chosen = [(piece.output, group_rows(piece.good + [g for i, g in fillers if i == index], size))
                  for index, piece in enumerate(rounds)]  # fmt: skip
        joined = join_rows(chosen, self._tokenizer.pad_token_id)
        statistics = torch.cat([piece.rows[rows] for piece, (_, rows) in zip(rounds, chosen, strict=True) if rows])
        filler_rows = [position for position, row in enumerate(self.row_origins(rounds, fillers)) if row]
        for key in ("completion_mask", "tool_mask"):
            if key in joined and filler_rows:
                joined[key][filler_rows] = 0
        loss_mask = joined["completion_mask"] * joined.get("tool_mask", 1)
        joined["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
        metrics = self._metrics["train"]
        metrics["dynamic_sampling/rounds"].append(float(len(rounds)))
        metrics["dynamic_sampling/zero_variance_groups"].append(float(self.count_over_processes(flat)))
        metrics["dynamic_sampling/unfilled_groups"].append(float(self.count_over_processes(len(fillers))))
        return joined, statistics

    def keep_batch_metrics(self, marks: dict[str, int], statistics: torch.Tensor) -> None:
        """Replace this step's per-round values of BATCH_METRICS with the kept batch's (fillers included: they are
        its zero-variance groups), gathered over every process; their mean over the rounds moves to
        `dynamic_sampling/all_rounds/<name>`."""
        metrics = self._metrics["train"]
        for key, mark in marks.items():
            values = metrics[key][mark:]
            del metrics[key][mark:]
            if values:
                metrics[ALL_ROUNDS + key].append(sum(values) / len(values))
        gathered = self.accelerator.gather(statistics)
        for key, value in batch_metrics(gathered, self.reward_weights, self.num_generations).items():
            metrics[key].append(value)
        for index, name in enumerate(self.reward_func_names):
            metrics[f"rewards/{name}/mean"].append(torch.nanmean(gathered[:, index]).item())
            metrics[f"rewards/{name}/std"].append(nanstd(gathered[:, index]).item())

    def row_origins(self, rounds: list[Round], fillers: list[tuple[int, int]]) -> list[bool]:
        """For each row of the joined batch, in order, whether it belongs to a filler group."""
        marks = []
        for index, piece in enumerate(rounds):
            extra = [group for i, group in fillers if i == index]
            marks += [False] * len(piece.good) * self.num_generations + [True] * len(extra) * self.num_generations
        return marks

    def count_over_processes(self, count: int) -> int:
        """`count` summed over every training process (a collective: every process must call it)."""
        return int(self.accelerator.gather(torch.tensor([count], device=self.accelerator.device)).sum().item())


def batch_metrics(rows: torch.Tensor, weights: torch.Tensor, group_size: int) -> dict[str, float]:
    """TRL's batch metrics (reward, its std, the share of groups with no reward variance, lengths, clipped ratio)
    and the foreign fraction, computed on `rows` (each reward, then length, truncated, foreign fraction)."""
    rewards, lengths, truncated, foreign = rows[:, :-3], rows[:, -3], rows[:, -2].bool(), rows[:, -1]
    totals = weighted_totals(rewards, weights)
    terminated = lengths[~truncated] if (~truncated).any() else torch.zeros(1)
    return {
        "reward": torch.nanmean(totals).item(),
        "reward_std": nanstd(totals).item(),
        "frac_reward_zero_std": (~group_varies(totals, group_size)).float().mean().item(),
        "completions/mean_length": lengths.mean().item(),
        "completions/min_length": lengths.min().item(),
        "completions/max_length": lengths.max().item(),
        "completions/clipped_ratio": truncated.float().mean().item(),
        "completions/mean_terminated_length": terminated.mean().item(),
        "completions/min_terminated_length": terminated.min().item(),
        "completions/max_terminated_length": terminated.max().item(),
        FOREIGN_FRACTION: foreign.mean().item(),
    }
