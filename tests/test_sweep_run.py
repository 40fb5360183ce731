"""A tiny sweep end to end: `submitit_local` runs two jobs, they share a W&B group (offline), and `openrs.compare`
turns them into a table and plots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_tiny_sweep_with_submitit_local_then_compare(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path), "WANDB_MODE": "offline"}
    sweep_dir = tmp_path / "mr"
    launch = [sys.executable, "-m", "openrs", "--multirun", "+sweep=tiny", "hydra/launcher=submitit_local",
              "logger.mode=offline", "train.max_steps=2", f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    result = subprocess.run(launch, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in sweep_dir.iterdir() if (p / "summary.json").exists())
    summaries = [json.loads((job / "summary.json").read_text()) for job in jobs]
    assert [s["status"] for s in summaries] == ["completed", "completed"]
    assert [s["run_name"] for s in summaries] == ["sweep-tiny-train.max_steps=2,train.seed=1",
                                                  "sweep-tiny-train.max_steps=2,train.seed=2"]  # fmt: skip
    assert {s["wandb"]["group"] for s in summaries} == {"sweep-tiny"} and {s["wandb"]["mode"] for s in summaries} == {
        "offline"
    }
    assert (sweep_dir / ".submitit").is_dir()  # the jobs really went through submitit

    out = tmp_path / "compare"
    compared = subprocess.run([sys.executable, "-m", "openrs.compare", str(sweep_dir), "--out", str(out)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert compared.returncode == 0, compared.stderr[-3000:]
    table = (out / "comparison.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| sweep-tiny")]
    assert len(rows) == 2 and "`train.seed=1`" in rows[0] and "`train.seed=2`" in rows[1]
    for plot in ("reward.png", "completion_length.png", "truncation_rate.png", "kl.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
