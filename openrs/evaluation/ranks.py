"""Work that every training process does together: each rank's share of a list, an outcome gathered from every rank
(a failure on one rank is raised on all of them, so none is left waiting in a collective), a value from rank 0.

Over torch.distributed through accelerate (NCCL on GPUs, gloo on CPU); in a single process each is a plain call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["RankFailure", "from_main_process", "on_every_rank", "share_of"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class RankFailure(RuntimeError):
    """Work done on every rank failed on some of them (raised on every rank, naming the failed ones)."""


def share_of(items: Sequence[T], rank: int, world: int, group_size: int = 1) -> list[T]:
    """The items of `rank`'s group: `world // group_size` groups of `group_size` consecutive ranks take every
    n-th item in turn, and every rank of a group gets the same share (a tensor-parallel engine's ranks must make the
    same calls)."""
    if group_size < 1 or world % group_size:
        raise ValueError(f"share_of: {world} processes do not split into groups of {group_size}")
    groups = world // group_size
    return list(items[rank // group_size :: groups])


def on_every_rank(work: Callable[[], T], what: str) -> list[T]:
    """Run `work` on this rank and gather every rank's result (index = rank). When it raised on some rank, every
    rank raises RankFailure with each failed rank's error, right after the others finish their own work."""
    from accelerate.utils import gather_object

    try:
        outcome: tuple[bool, Any] = (True, work())
    except Exception as err:
        log.exception("%s failed on this process", what)
        outcome = (False, f"{type(err).__name__}: {err}")
    outcomes = gather_object([outcome])
    failed = [f"rank {rank}: {detail}" for rank, (ok, detail) in enumerate(outcomes) if not ok]
    if failed:
        raise RankFailure(f"{what} failed on {len(failed)} of {len(outcomes)} processes: {'; '.join(failed)}")
    return [value for _, value in outcomes]


def from_main_process(value: T) -> T:
    """Rank 0's `value` on every rank."""
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]
