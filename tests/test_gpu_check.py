"""benchmarks/gpu_check.py, the script a lent GPU machine runs, run here on CPU (`--smoke`: the tiny model's shape)
so that the few minutes of GPU time are never spent on a broken script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_every_part_of_the_gpu_check_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--smoke", "--steps", "2", "--out", str(out),
            "--work", str(tmp_path / "work")]  # fmt: skip
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    parts = report["parts"]
    assert "needs a CUDA GPU" in parts["preflight"]["exp3_verdict"]  # this machine has none
    assert parts["preflight"]["hardware"]["gpu_count"] == 0
    for name, processes in (("grpo_hf", 1), ("accelerate_1gpu", 1), ("accelerate_zero2", 1)):
        assert parts[name]["status"] == "completed" and parts[name]["processes"] == processes
        assert parts[name]["s_per_step"] > 0 and parts[name]["generated_tokens_per_s"] > 0
        assert parts[name]["plan_peak_gib"] > 0  # the memory plan of the part's own overrides (no GPU peak on CPU)
    assert parts["accelerate_1gpu"]["steps"] == 2
    # issue 23's parts: on CPU in float32 (the CLI refuses mixed precision without a GPU), so every weight moves
    assert parts["master_weights"]["changed_fraction"] > 0.5
    assert parts["zero2_float32"]["precision"]["mixed_precision"] == "no"
    rollback = parts["rollback_zero2"]
    assert rollback["rollbacks"] == ["checkpoint-1"] and len(set(rollback["attempt_pids"])) == 2
    assert parts["eval_hf"]["exit_code"] == 0 and parts["eval_hf"]["tokens_per_s"] > 0
