"""The embedded default end to end: `python -m openrs` on CPU with the real GRPOTrainer and W&B offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM

from tests.conftest import read_jsonl, run_openrs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """One real default run; HOME points to an empty dir so no W&B key can be found (offline mode)."""
    tmp = tmp_path_factory.mktemp("tiny")
    run_dir = tmp / "run"
    env = {"HOME": str(tmp), "WANDB_MODE": ""}
    result = run_openrs(f"hydra.run.dir={run_dir}", cwd=tmp, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result


def test_metrics_file_has_every_step(tiny_run) -> None:
    run_dir, _ = tiny_run
    steps = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    assert [row["step"] for row in steps] == list(range(1, 61))
    for key in ("rewards/accuracy/mean", "rewards/format/mean", "kl", "completions/mean_length"):
        assert key in steps[-1]


def test_the_default_run_learns_the_format(tiny_run) -> None:
    """The tiny model's format marker is one token, so even random weights get a signal: it must rise."""
    run_dir, _ = tiny_run
    format_means = [row["rewards/format/mean"] for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    first, last = sum(format_means[:15]) / 15, sum(format_means[-15:]) / 15
    assert first < 0.15 and last > 0.25, (first, last)  # README: about 0.08 to 0.3 (measured 0.075 -> 0.32)


def test_summary_records_how_the_run_ended(tiny_run) -> None:
    run_dir, _ = tiny_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["steps"] == summary["max_steps"] == 60
    assert summary["wall_time_s"] > 0
    assert summary["data"]["rows_kept"] == 256
    assert "reward" in summary["final_metrics"]
    assert summary["guard"] == {"firings": [], "rollbacks": [], "stopped_by": None}  # a healthy run: no guardrail fired


def test_final_model_is_saved_and_loads(tiny_run) -> None:
    run_dir, _ = tiny_run
    model = AutoModelForCausalLM.from_pretrained(run_dir / "final_model")
    assert model.config.model_type == "qwen2"
    assert (run_dir / "final_model" / "tokenizer_config.json").exists()
    assert (run_dir / "checkpoint-60").is_dir()


def test_wandb_ran_offline_in_the_run_dir(tiny_run) -> None:
    run_dir, result = tiny_run
    offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1
    assert list(offline_runs[0].glob("*.wandb"))
    assert "wandb sync" in result.stdout + result.stderr


def test_provenance_traces_code_data_and_hardware(tiny_run) -> None:
    run_dir, _ = tiny_run
    record = json.loads((run_dir / "provenance.json").read_text())
    assert record["openrs_version"]
    assert set(record["git"]) == {"commit", "dirty"}
    assert record["packages"]["trl"] and record["packages"]["transformers"] and record["packages"]["torch"]
    assert "vllm" in record["packages"] and "math-verify" in record["packages"]
    assert len(record["data_fingerprint"]) == 64
    assert record["hardware"]["cpu_count"] >= 1 and "gpu_count" in record["hardware"]


def test_completion_samples_carry_rewards_and_advantages(tiny_run) -> None:
    run_dir, _ = tiny_run
    rows = read_jsonl(run_dir / "completions.jsonl")
    assert {row["step"] for row in rows} == {10, 20, 30, 40, 50, 60}
    assert len(rows) == 6 * 16  # every 10 steps, the 16 completions of the latest batch
    for key in ("prompt", "completion", "reward/accuracy", "reward/format", "advantage"):
        assert key in rows[0]


def test_resolved_config_and_hydra_record_are_kept(tiny_run) -> None:
    run_dir, result = tiny_run
    assert (run_dir / ".hydra" / "config.yaml").exists()
    assert "name: tiny" in (run_dir / "config.yaml").read_text()
    assert str(run_dir) in result.stdout  # tells the user where everything went


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path) -> None:
    first = tmp_path / "first"
    common = ["logger=none", "train.save_steps=2", "logger.sample_completions_every=0"]
    assert run_openrs(*common, "train.max_steps=4", f"hydra.run.dir={first}", cwd=tmp_path).returncode == 0
    again = run_openrs(
        *common, "train.max_steps=6", f"resume={first}", f"hydra.run.dir={tmp_path / 'second'}", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads((first / "summary.json").read_text())
    assert summary["resumed_from"].endswith("checkpoint-4")
    assert summary["steps"] == 6
    steps = [row["step"] for row in read_jsonl(first / "metrics.jsonl") if "reward" in row]
    assert steps == [1, 2, 3, 4, 5, 6]  # the resumed run appended steps 5-6, none redone


def test_a_crash_still_writes_a_summary(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    reward = "reward.functions=[{name: 'tests.learning_rewards:explode'}]"
    result = run_openrs("logger=none", reward, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode != 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert "reward exploded on purpose" in summary["error"]


def test_a_killed_run_resumes_when_the_same_command_is_launched_again(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    args = ["logger=none", "train.max_steps=40", "train.save_steps=4", "logger.sample_completions_every=0"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([sys.executable, "-m", "openrs", *args], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    runs = tmp_path / "outputs" / "tiny"
    deadline = time.monotonic() + 300
    while not list(runs.glob("*/checkpoint-8")) and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)  # preemption: no chance to clean up
    first.wait()
    (killed,) = [p for p in runs.iterdir() if p.is_dir()]
    assert json.loads((killed / "summary.json").read_text())["status"] == "running"
    time.sleep(1.1)  # the relaunch gets its own timestamped run dir
    again = run_openrs(*args, cwd=tmp_path)  # the same command
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 40
    assert summary["resumed_from"].rsplit("-", 1)[1].isdigit()
    steps = [row["step"] for row in read_jsonl(killed / "metrics.jsonl") if "reward" in row]
    # every step is there; steps logged after checkpoint-8 before the kill are logged again by the resumed run
    assert steps[-1] == 40 and set(steps) == set(range(1, 41))


def test_auto_resume_finds_the_run_itself_when_a_job_is_requeued_in_its_dir(tmp_path: Path) -> None:
    from openrs.resume import resume_target

    job = tmp_path / "multirun" / "2026-01-01_00-00-00" / "0_train.seed=1"
    (job / "checkpoint-8").mkdir(parents=True)
    (job / "checkpoint-8" / "trainer_state.json").write_text("{}")
    (job / "summary.json").write_text(json.dumps({"run_name": "sweep-x-train.seed=1", "status": "running"}))
    assert resume_target("auto", job, "sweep-x-train.seed=1") == (job, job / "checkpoint-8")
    assert resume_target("auto", job, "sweep-x-train.seed=2") == (job, None)  # another command: a fresh start
    (job / "summary.json").write_text(json.dumps({"run_name": "sweep-x-train.seed=1", "status": "completed"}))
    assert resume_target("auto", job, "sweep-x-train.seed=1") == (job, None)


def test_the_console_shows_one_short_line_per_step(tiny_run) -> None:
    """A compact progress line per step (the full record is metrics.jsonl), not TRL's whole metrics dict."""
    _, result = tiny_run
    lines = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert len(lines) == 61  # 60 steps and the closing line
    assert lines[0].startswith("step 1/60  reward ") and "(accuracy " in lines[0] and "kl " in lines[0]
    assert max(len(line) for line in lines) < 120
    assert "clip_ratio" not in result.stdout + result.stderr  # no metrics dict printed
