"""The numbers in the docs are the code's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openrs.rewards import available_rewards
from openrs.rewards.cosine import cosine_scaled_value

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_cosine_table_in_rewards_doc_is_recomputed_from_the_code() -> None:
    text = (DOCS / "REWARDS.md").read_text()
    table = re.search(r"<!-- cosine-table:start -->\n(.*?)<!-- cosine-table:end -->", text, re.DOTALL)
    assert table, "cosine table markers missing from docs/REWARDS.md"
    rows = [line for line in table.group(1).splitlines() if re.match(r"\|\s*\d", line)]
    assert len(rows) >= 10
    max_len = 3584
    for row in rows:
        length, progress, *values = (float(cell) for cell in row.strip("|").split("|"))
        assert progress == pytest.approx(length / max_len, abs=0.005)
        expected = [
            cosine_scaled_value(int(length), True, max_len=max_len),
            cosine_scaled_value(int(length), False, max_len=max_len),
            cosine_scaled_value(int(length), True, max_len=max_len, clamp=True),
            cosine_scaled_value(int(length), False, max_len=max_len, clamp=True),
        ]
        assert values == pytest.approx(expected, abs=0.0005), row


def test_rewards_doc_lists_every_registered_reward() -> None:
    text = (DOCS / "REWARDS.md").read_text()
    for name in available_rewards():
        assert f"| `{name}` |" in text, name
