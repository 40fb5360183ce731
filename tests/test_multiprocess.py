"""`launcher=accelerate` for real on CPU: `accelerate launch` starts two training processes that train one run over
gloo, through the same launcher and rank code a GPU run takes (only DeepSpeed is swapped for DDP: it needs CUDA).
Also two "machines" on the loopback address, each with its own launcher, as one Slurm task per node would run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, read_jsonl, run_module, run_openrs

pytestmark = pytest.mark.slow

TINY = ["train.device=cpu", "train.max_steps=6", "train.save_steps=3", "logger.sample_completions_every=3"]


def two_processes(port: int | None = None) -> list[str]:
    return ["launcher=accelerate", "launcher.num_processes=2", f"launcher.main_process_port={port or free_port()}",
            "train.per_device_train_batch_size=8"]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 16-completion steps trained by one process and by two (8 each); W&B offline (no key under HOME)."""
    tmp = tmp_path_factory.mktemp("multiprocess")
    env = {"HOME": str(tmp), "WANDB_MODE": ""}
    dirs = {"single": tmp / "single", "double": tmp / "double"}
    single = run_openrs(*TINY, f"hydra.run.dir={dirs['single']}", cwd=tmp, env=env)
    assert single.returncode == 0, single.stderr[-3000:]
    double = run_openrs(*TINY, *two_processes(), f"hydra.run.dir={dirs['double']}", cwd=tmp, env=env)
    assert double.returncode == 0, double.stderr[-3000:]
    assert str(dirs["double"]) in double.stdout  # the launcher tells the user where everything went
    return dirs


def test_two_processes_train_one_run(runs: dict[str, Path]) -> None:
    summary = json.loads((runs["double"] / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 6
    assert summary["processes"] == 2  # the trainer's world size: a real two-process run
    assert json.loads((runs["single"] / "summary.json").read_text())["processes"] == 1
    assert {p.name for p in runs["double"].glob("checkpoint-*")} == {"checkpoint-3", "checkpoint-6"}


def test_rank_zero_alone_writes_the_run_files(runs: dict[str, Path]) -> None:
    """The same files as a single-process run, each written once: one metrics line per step, one W&B run."""
    assert {p.name for p in runs["double"].iterdir()} == {p.name for p in runs["single"].iterdir()}
    steps = [row["step"] for row in read_jsonl(runs["double"] / "metrics.jsonl") if "reward" in row]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert len(list((runs["double"] / "wandb").glob("offline-run-*"))) == 1
    assert len(list((runs["double"] / ".hydra").iterdir())) == 3  # the launcher's record only
    sampled = {row["step"] for row in read_jsonl(runs["double"] / "completions.jsonl")}
    assert sampled == {3, 6}
    log_lines = (runs["double"] / "__main__.log").read_text().splitlines()
    assert sum("data: read 256 rows" in line for line in log_lines) == 1  # rank 1 logs warnings only


def test_the_same_metrics_as_a_single_process_run(runs: dict[str, Path]) -> None:
    single = [row for row in read_jsonl(runs["single"] / "metrics.jsonl") if "reward" in row]
    double = [row for row in read_jsonl(runs["double"] / "metrics.jsonl") if "reward" in row]
    assert set(double[-1]) == set(single[-1])
    # both gather all 16 completions of a step: 2 prompts x 8 generations of at most 32 tokens (plus prompts)
    per_step = [b["num_tokens"] - a["num_tokens"] for a, b in zip(double, double[1:], strict=False)]
    single_per_step = [b["num_tokens"] - a["num_tokens"] for a, b in zip(single, single[1:], strict=False)]
    assert max(per_step) <= 16 * (32 + 192) and min(per_step) > 16 * 32 * 0.1
    assert max(single_per_step) <= 16 * (32 + 192)


def launch_in_background(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "openrs", *args], cwd=cwd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def wait_for(root: Path, pattern: str, process: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not any(root.glob(pattern)):
        assert process.poll() is None, "the run ended before the awaited checkpoint"
        assert time.monotonic() < deadline, f"no {root}/{pattern} within {timeout_s}s"
        time.sleep(0.2)


def test_a_killed_process_group_resumes_with_the_same_command(tmp_path: Path) -> None:
    """SIGKILL of the launcher and both ranks at once (preemption), then the same command again: resume=auto."""
    args = ["logger=none", "train.device=cpu", "train.max_steps=24", "train.save_steps=4",
            "logger.sample_completions_every=0", *two_processes(port=free_port())]  # fmt: skip
    first = launch_in_background(args, tmp_path)
    runs = tmp_path / "outputs" / "tiny"
    wait_for(runs, "*/checkpoint-8/trainer_state.json", first)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    (killed,) = [p for p in runs.iterdir() if p.is_dir()]
    assert json.loads((killed / "summary.json").read_text())["status"] == "running"
    time.sleep(1.1)  # the relaunch gets its own timestamped run dir
    again = run_openrs(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 24 and summary["processes"] == 2
    assert int(summary["resumed_from"].rsplit("-", 1)[1]) >= 8
    steps = [row["step"] for row in read_jsonl(killed / "metrics.jsonl") if "reward" in row]
    assert steps[-1] == 24 and set(steps) == set(range(1, 25))


def test_a_guardrail_stops_both_ranks_at_the_same_step(tmp_path: Path) -> None:
    """A constant reward under two processes: each rank sees the same gathered `frac_reward_zero_std`, so both
    leave the loop at step 3 and save one checkpoint together; the launcher exits with the stop's code 3."""
    run_dir = tmp_path / "run"
    result = run_openrs("logger=none", "train.device=cpu", "train.max_steps=20", "train.save_steps=100",
                        "reward.functions=[{name: 'tests.learning_rewards:constant'}]", "guard=off",
                        "guard.no_signal={action: stop, window: 2, patience: 2}", *two_processes(),
                        f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=300)  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["steps"] == 3 and summary["processes"] == 2
    assert result.stderr.count("openrs guard at step 3: no_signal") == 1  # rank 0 alone tells
    assert (run_dir / "checkpoint-3" / "trainer_state.json").is_file()


def test_a_rollback_ends_both_ranks_and_the_launcher_starts_them_again(tmp_path: Path) -> None:
    """kl_explosion with action=rollback under two processes: both ranks end at the firing's step, the launcher
    starts `accelerate launch` again from the checkpoint before the trouble (new ranks, a new process group), and the
    run completes as one trajectory at the configured learning rate x lr_factor."""
    run_dir = tmp_path / "run"
    result = run_openrs("logger=none", "train.device=cpu", "train.max_steps=8", "train.save_steps=1",
                        "train.save_total_limit=null",
                        "logger.sample_completions_every=0", "optimizer.learning_rate=5e-2",
                        "reward.functions=[{name: 'tests.learning_rewards:digit_fraction'}]", "guard=off",
                        "guard.kl_explosion.action=rollback", "guard.rollback.lr_factor=0.01", *two_processes(),
                        f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["processes"] == 2
    (rollback,) = summary["guard"]["rollbacks"]
    first, second = summary["attempts"]
    assert first["pid"] != second["pid"] and second["from_step"] == int(rollback["to"].rsplit("-", 1)[1])
    assert result.stderr.count("Starting 2 training process(es)") == 2
    rows = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    assert [row["step"] for row in rows] == list(range(1, 9))
    restart = second["from_step"]
    assert [row["learning_rate"] for row in rows[restart:]] == [pytest.approx(5e-4)] * (8 - restart)


def test_dynamic_sampling_runs_the_same_rounds_on_both_ranks(tmp_path: Path) -> None:
    """Each rank keeps its own groups but every rank runs as many rounds as the one that needs most (the rounds'
    gathers would otherwise hang): two processes, 8 completions each, train to the end."""
    run_dir = tmp_path / "run"
    result = run_openrs("logger=none", "train.device=cpu", "train.max_steps=4", "train.save_steps=100",
                        "algorithm.dynamic_sampling=true", *two_processes(), f"hydra.run.dir={run_dir}",
                        cwd=tmp_path, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert all(1 <= row["dynamic_sampling/rounds"] <= 4 for row in rows)
    assert json.loads((run_dir / "summary.json").read_text())["processes"] == 2


def test_two_machines_on_the_loopback_address(tmp_path: Path) -> None:
    """Two launchers with the same command, as two Slurm tasks (one per node) would run it: each reads its machine
    rank from SLURM_NODEID and the main address from SLURM_JOB_NODELIST; one process per machine, over gloo."""
    run_dir = tmp_path / "run"
    args = ["logger=none", *TINY, *two_processes(), "launcher.num_machines=2", f"hydra.run.dir={run_dir}"]
    slurm = {"SLURM_JOB_NUM_NODES": "2", "SLURM_JOB_NODELIST": "127.0.0.1,127.0.0.2"}
    env = {**os.environ, "PYTHONPATH": str(REPO), **slurm}
    machines = [
        subprocess.Popen(
            [sys.executable, "-m", "openrs", *args],
            cwd=tmp_path,
            env={**env, "SLURM_NODEID": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for rank in (0, 1)
    ]
    outputs = [machine.communicate(timeout=600) for machine in machines]
    for machine, (_, err) in zip(machines, outputs, strict=True):
        assert machine.returncode == 0, err[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["processes"] == 2
    steps = [row["step"] for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert "openrs: run" in outputs[0][0] and "openrs: run" not in outputs[1][0]  # machine 0 reports the run


def test_in_training_evaluation_splits_the_problems_over_both_ranks(tmp_path: Path) -> None:
    """eval.during_training under two processes: each rank generates half the problems (rank 0 used to generate them
    all while rank 1 waited in its next collective), rank 0 writes one set of samples and logs once, and the result
    is what one process evaluating the saved checkpoint with the same settings gets, sample for sample."""
    run_dir = tmp_path / "run"
    during = ["eval.during_training.enabled=true", "eval.during_training.max_problems=8",
              "eval.during_training.max_new_tokens=16"]  # fmt: skip
    result = run_openrs("logger=none", "train.device=cpu", "train.max_steps=2", "train.save_steps=2",
                        "logger.sample_completions_every=0", *during, *two_processes(), f"hydra.run.dir={run_dir}",
                        cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint_eval = run_dir / "eval" / "during_training" / "checkpoint-2"
    ours = json.loads((checkpoint_eval / "results.json").read_text())
    assert ours["samples_by_rank"] == {"0": 4, "1": 4} and ours["benchmarks"]["arithmetic"]["samples"] == 8
    logged = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "benchmarks/arithmetic/pass@1" in row]
    assert [row["step"] for row in logged] == [2]
    alone = tmp_path / "alone"
    check = run_module("openrs.evaluate", f"target={run_dir / 'checkpoint-2'}", "eval.k=1", "eval.max_problems=8",
                       "eval.max_new_tokens=16", "eval.workers=0", f"output_dir={alone}", cwd=tmp_path)  # fmt: skip
    assert check.returncode == 0, check.stderr[-3000:]

    def samples(path: Path) -> dict[tuple[str, int], tuple[str, bool]]:
        return {(r["id"], r["sample"]): (r["completion"], r["correct"]) for r in read_jsonl(path / "samples.jsonl")}

    assert samples(checkpoint_eval) == samples(alone) and len(samples(alone)) == 8
    single = json.loads((alone / "results.json").read_text())["benchmarks"]["arithmetic"]
    assert ours["benchmarks"]["arithmetic"]["pass@1"] == single["pass@1"]
