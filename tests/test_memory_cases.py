"""The memory plan's verdict on published GRPO layouts (benchmarks/memory_cases.py): those that trained must not be
judged "does not fit", those that ran out of memory must be; where a thread gives a figure, the estimate is within
the band recorded in benchmarks/RESULTS.md."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from openrs.memory.plan import Verdict
from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("memory_cases", REPO / "benchmarks" / "memory_cases.py")
memory_cases = importlib.util.module_from_spec(spec)
sys.modules["memory_cases"] = memory_cases  # its dataclasses look their module up
spec.loader.exec_module(memory_cases)


@pytest.mark.parametrize("case", memory_cases.CASES, ids=lambda case: case.name)
def test_the_verdict_matches_what_happened(case) -> None:
    plan = memory_cases.estimate(case)
    if case.ran:
        assert plan.verdict != Verdict.does_not_fit
    else:
        assert plan.verdict == Verdict.does_not_fit
    if case.published_gib is not None:  # recorded errors: -31% .. +8% (RESULTS.md)
        assert abs(memory_cases.comparable_gib(case, plan) - case.published_gib) / case.published_gib < 0.35


def test_the_comparison_table_prints(capsys: pytest.CaptureFixture) -> None:
    assert memory_cases.main() == 0
    table = capsys.readouterr().out
    assert table.count("\n") == len(memory_cases.CASES) + 2 and "does not fit" in table
