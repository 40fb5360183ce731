"""DAPO's dynamic sampling (Yu et al. 2025, arXiv 2503.14476, section 3.2) on TRL's synchronous GRPOTrainer: a group
whose completions all earned the same reward has no advantage, so it teaches nothing; TRL keeps such groups in the
batch (trl#3708). Here a generation batch is over-generated in rounds until it holds only groups whose completions
differ in the filter's signal, at most `algorithm.max_sampling_rounds` rounds a step. The signal is
`algorithm.dynamic_sampling_reward`: by default correctness (DAPO keeps groups neither all right nor all wrong; a
length-dependent reward such as exp3's cosine varies in almost every group, so its total would filter nothing), or the
weighted total of the rewards (`total`), or one reward by name.

The pieces below are pure tensor work, tested alone; openrs.trainer calls them where TRL generates and scores.
"""

from __future__ import annotations

import random
from typing import Any

import torch

#: Keys of TRL 1.16's generation output with one row per completion, by how a row is padded when rounds are joined.
LEFT_PADDED = ("prompt_ids", "prompt_mask")
RIGHT_PADDED = ("completion_ids", "completion_mask", "old_per_token_logps", "importance_sampling_ratio",
                "sampling_per_token_logps", "ref_per_token_logps", "tool_mask")  # fmt: skip
PER_ROW = ("advantages",)


def group_varies(values: torch.Tensor, group_size: int) -> torch.Tensor:
    """One bool per group of `group_size` rows: whether its values differ (TRL's own test of a zero std,
    `torch.isclose(std, 0)`, negated). A NaN (a completion nothing scored) is left out of its group."""
    grouped = values.view(-1, group_size)
    counts = (~torch.isnan(grouped)).sum(dim=1)
    means = torch.nanmean(grouped, dim=1, keepdim=True)
    spread = torch.nansum((grouped - means) ** 2, dim=1) / (counts - 1).clamp(min=1)
    std = torch.sqrt(spread)
    return (counts >= 2) & ~torch.isclose(std, torch.zeros_like(std))


def weighted_totals(rewards_per_func: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Each row's weighted sum of rewards (TRL's nansum), NaN for a row no reward scored."""
    scored = ~torch.isnan(rewards_per_func).all(dim=1)
    totals = (rewards_per_func * weights.to(rewards_per_func.device).unsqueeze(0)).nansum(dim=1)
    return torch.where(scored, totals, torch.full_like(totals, float("nan")))


def group_has_variance(rewards_per_func: torch.Tensor, weights: torch.Tensor, group_size: int) -> torch.Tensor:
    """One bool per group: whether its weighted total rewards differ (`algorithm.dynamic_sampling_reward=total`)."""
    return group_varies(weighted_totals(rewards_per_func, weights), group_size)


def draw_groups(dataset: Any, groups: int, group_size: int, seed: tuple[int, ...]) -> list[dict[str, Any]]:
    """`groups` dataset rows drawn at random (seeded: the same step draws the same rows after a resume), each
    repeated `group_size` times in a row, as TRL's sampler lays out a generation batch."""
    rng = random.Random("/".join(map(str, seed)))
    indices = [rng.randrange(len(dataset)) for _ in range(groups)]
    return [dict(dataset[index]) for index in indices for _ in range(group_size)]


def pad_to(tensor: torch.Tensor, width: int, left: bool, value: float) -> torch.Tensor:
    """Pad dimension 1 of `tensor` to `width` columns on the left or right."""
    missing = width - tensor.size(1)
    if missing <= 0:
        return tensor
    padding = torch.full((tensor.size(0), missing, *tensor.shape[2:]), value, dtype=tensor.dtype, device=tensor.device)
    return torch.cat([padding, tensor] if left else [tensor, padding], dim=1)


def join_rows(pieces: list[tuple[dict[str, Any], list[int]]], pad_token_id: int) -> dict[str, Any]:
    """The rows `rows` of each generation output, joined into one output (columns padded to the widest piece;
    `num_items_in_batch` is left to the caller, who must count over every process)."""
    keys = [key for key in pieces[0][0] if key != "num_items_in_batch"]
    unknown = [key for key in keys if key not in (*LEFT_PADDED, *RIGHT_PADDED, *PER_ROW)]
    if unknown:
        raise NotImplementedError(f"algorithm.dynamic_sampling joins text-only batches; TRL's batch also has {unknown}")
    joined: dict[str, Any] = {}
    for key in keys:
        parts = [output[key][rows] for output, rows in pieces if rows]
        if key in PER_ROW:
            joined[key] = torch.cat(parts)
            continue
        width = max(part.size(1) for part in parts)
        value = pad_token_id if key.endswith("_ids") else (1.0 if key == "importance_sampling_ratio" else 0)
        joined[key] = torch.cat([pad_to(part, width, key in LEFT_PADDED, value) for part in parts])
    return joined


def group_rows(groups: list[int], group_size: int) -> list[int]:
    """The row indices of the given groups."""
    return [group * group_size + offset for group in groups for offset in range(group_size)]
