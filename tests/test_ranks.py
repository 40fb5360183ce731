"""openrs.evaluation.ranks over two real gloo processes (torch.distributed.run on CPU): the shares, the gathered
outcomes, and a failure on one rank raised on both instead of leaving the other in a collective."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from openrs.evaluation.ranks import share_of
from tests.conftest import REPO, free_port


def test_shares_cover_every_item_once_per_group() -> None:
    items = list(range(7))
    assert [share_of(items, rank, 2) for rank in (0, 1)] == [[0, 2, 4, 6], [1, 3, 5]]
    # a tensor-parallel engine of 2 ranks per copy, 2 copies: both ranks of a copy make the same calls
    assert [share_of(items, rank, 4, group_size=2) for rank in range(4)] == [[0, 2, 4, 6], [0, 2, 4, 6], [1, 3, 5],
                                                                             [1, 3, 5]]  # fmt: skip
    assert share_of(items, 0, 1) == items and share_of([], 1, 2) == []
    with pytest.raises(ValueError, match="3 processes do not split into groups of 2"):
        share_of(items, 0, 3, group_size=2)


def two_ranks(mode: str) -> list[dict]:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
               str(REPO / "tests" / "rank_work.py"), mode]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return sorted(lines, key=lambda line: line["rank"])


def test_every_rank_gets_every_ranks_result_and_rank_zeros_value() -> None:
    seen = two_ranks("ok")
    assert [line["seen"] for line in seen] == [[[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]] * 2
    assert [line["main"] for line in seen] == [{"from": 0}] * 2


def test_a_failure_on_one_rank_is_raised_on_both() -> None:
    """Rank 1 fails at once; rank 0 finishes its own second of work, then both raise, naming rank 1's error. Before,
    a rank whose partner failed (or never came) waited in its next collective up to the process group's timeout."""
    seen = two_ranks("fail")
    expected = "RankFailure: the test's work failed on 1 of 2 processes: rank 1: ValueError: boom"
    assert [line["seen"] for line in seen] == [expected, expected]
    assert all(line["waited_s"] < 30 for line in seen)
