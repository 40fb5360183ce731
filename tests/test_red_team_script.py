"""The committed red team (scripts/red_team.py, issue 24 §5) stays runnable: its full run is a benchmark-like
script (12 minutes); here it lists its cases and judges two of them through the real command line."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "red_team.py"


def red_team(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_the_red_team_lists_every_case_once() -> None:
    result = red_team("--list")
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == len(set(ids)) >= 180
    assert {"gen.nan.learning_rate", "launch.slurm.nodelist_missing", "smollm2.stamped_garbage_dir"} <= set(ids)


def test_the_red_team_judges_a_case_by_its_verdict_line() -> None:
    result = red_team("--only", "gen.nan.learning_rate", "--only", "gen.reward.string_weight")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines[:2]] == [
        ["ok", "gen.nan.learning_rate"],
        ["ok", "gen.reward.string_weight"],
    ]
    assert "must be a finite number" in lines[0] and lines[-1].startswith("totals: ok 2  traceback 0")
