"""A relaunch resumes whatever way the run dir was written: every fault path through the real command line with a
dir the user chose under another root with a time stamp in it (`hydra.run.dir=<root>/${now:...}`, what a cluster's
scratch disk and a Slurm batch script hold), where resume=auto used to look only in the new dir and start over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, read_jsonl, run_module, run_openrs
from tests.fault_scripts import KILLED_AFTER_FIRST_CHUNK

pytestmark = pytest.mark.slow

STAMP = "${now:%Y-%m-%d_%H-%M-%S}"
COMMON = ["logger=none", "train.save_total_limit=null", "logger.sample_completions_every=0"]


def stamped(root: Path) -> str:
    return f"hydra.run.dir={root}/runs/{STAMP}"


def only_run(root: Path) -> Path:
    """The one run dir with records (a relaunch that resumes elsewhere leaves Hydra's own dir: its log and .hydra)."""
    (run_dir,) = [p for p in (root / "runs").iterdir() if (p / "summary.json").exists()]
    return run_dir


def relaunch(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The same command again, a second later (a new time stamp: a new dir, unless it resumes)."""
    time.sleep(1.1)
    result = run_openrs(*args, cwd=root, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def reward_steps(run_dir: Path) -> list[int]:
    return [row["step"] for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]


def kill_when(process: subprocess.Popen, ready) -> None:
    deadline = time.monotonic() + 300
    while not ready():
        assert process.poll() is None, "the run ended before the kill"
        assert time.monotonic() < deadline, "the run never reached the point of the kill"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def start(root: Path, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "openrs", *args], cwd=root, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.parametrize("when", ["after_a_checkpoint", "mid_interval"])
def test_a_killed_run_resumes_in_its_time_stamped_dir(tmp_path: Path, when: str) -> None:
    args = [*COMMON, "train.max_steps=10", "train.save_steps=4", stamped(tmp_path)]
    first = start(tmp_path, args)
    runs = tmp_path / "runs"
    if when == "after_a_checkpoint":
        kill_when(first, lambda: any(runs.glob("*/checkpoint-4/trainer_state.json")))
    else:  # two steps past checkpoint-4: those are logged again by the resumed run, not twice

        def six_steps_logged() -> bool:
            logs = [path for path in runs.glob("*/metrics.jsonl")]
            return any(len(reward_steps(path.parent)) >= 6 for path in logs)

        kill_when(first, six_steps_logged)
    killed = only_run(tmp_path)
    result = relaunch(tmp_path, *args)
    assert f"resuming the run in {killed} from checkpoint-" in result.stderr
    assert only_run(tmp_path) == killed  # no second run
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 10 and summary["resumed_from"]
    assert reward_steps(killed) == list(range(1, 11))


def test_ctrl_c_then_the_same_command_resumes(tmp_path: Path) -> None:
    args = [*COMMON, "train.max_steps=10", "train.save_steps=2", stamped(tmp_path)]
    process = subprocess.Popen([sys.executable, "-m", "openrs", *args], cwd=tmp_path, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    runs = tmp_path / "runs"
    deadline = time.monotonic() + 300
    while not any(runs.glob("*/checkpoint-2/trainer_state.json")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    stderr = ""
    for _ in range(5):  # a Ctrl-C that lands in a finalizer can be dropped: press again (tests/test_partial_runs.py)
        process.send_signal(signal.SIGINT)
        try:
            stderr = process.communicate(timeout=10)[1]
            break
        except subprocess.TimeoutExpired:
            continue
    assert process.returncode == 130, stderr[-2000:]
    interrupted = only_run(tmp_path)
    assert json.loads((interrupted / "summary.json").read_text())["status"] == "interrupted"
    relaunch(tmp_path, *args)
    assert only_run(tmp_path) == interrupted
    summary = json.loads((interrupted / "summary.json").read_text())
    assert summary["status"] == "completed" and reward_steps(interrupted) == list(range(1, 11))


#: `python -m openrs` whose disk fills up while it saves checkpoint-3 (its optimizer state: ENOSPC).
DISK_FULL_AT_3 = textwrap.dedent(
    """
    import errno, runpy, sys
    import transformers.trainer as trainer

    original = trainer.Trainer._save_optimizer_and_scheduler

    def full_disk(self, output_dir):
        if output_dir.endswith("checkpoint-3"):
            raise OSError(errno.ENOSPC, "No space left on device", output_dir)
        return original(self, output_dir)

    trainer.Trainer._save_optimizer_and_scheduler = full_disk
    sys.argv = ["openrs", *sys.argv[1:]]
    runpy.run_module("openrs", run_name="__main__")
    """
)

#: ... killed (SIGKILL) while it saves checkpoint-3, after the weights and before the rest.
KILLED_DURING_SAVE_3 = DISK_FULL_AT_3.replace(
    'raise OSError(errno.ENOSPC, "No space left on device", output_dir)', "os.kill(os.getpid(), signal.SIGKILL)"
).replace("import errno, runpy, sys", "import os, runpy, signal, sys")


@pytest.mark.parametrize("fault", ["disk_full", "truncated_checkpoint"])
def test_a_failed_save_resumes_from_the_newest_whole_checkpoint(tmp_path: Path, fault: str) -> None:
    """A full disk at checkpoint-3 (the run fails with one line), or a kill during its save followed by a truncated
    checkpoint-2: the same command resumes in that dir from the newest checkpoint that is whole."""
    script = DISK_FULL_AT_3 if fault == "disk_full" else KILLED_DURING_SAVE_3
    (tmp_path / "faulty_openrs.py").write_text(script)
    args = [*COMMON, "train.max_steps=4", "train.save_steps=1", stamped(tmp_path)]
    first = run_module("faulty_openrs", *args, cwd=tmp_path, env={"PYTHONPATH": f"{tmp_path}:{REPO}"})
    broken = only_run(tmp_path)
    if fault == "disk_full":
        assert first.returncode == 1 and "openrs: error: disk full while writing" in first.stderr
        assert json.loads((broken / "summary.json").read_text())["status"] == "failed"
        expected = "checkpoint-2"
    else:
        assert first.returncode == -signal.SIGKILL
        weights = broken / "checkpoint-2" / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        expected = "checkpoint-1"
    result = relaunch(tmp_path, *args)
    assert f"resuming the run in {broken} from {expected}" in result.stderr
    assert only_run(tmp_path) == broken
    summary = json.loads((broken / "summary.json").read_text())
    assert summary["status"] == "completed" and reward_steps(broken) == [1, 2, 3, 4]


def test_a_killed_evaluation_continues_in_its_time_stamped_dir(tmp_path: Path) -> None:
    (tmp_path / "kill_after_chunk.py").write_text(KILLED_AFTER_FIRST_CHUNK)
    options = ["eval.max_problems=6", "eval.k=1", "eval.chunk_size=2", "eval.batch_size=2", "eval.max_new_tokens=8",
               f"output_dir={tmp_path}/evals/{STAMP}"]  # fmt: skip
    killed = run_module("kill_after_chunk", *options, cwd=tmp_path, env={"PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (first,) = (tmp_path / "evals").iterdir()  # before the relaunch, whose own (Hydra's) dir stays empty
    kept = read_jsonl(first / "samples.jsonl")
    time.sleep(1.1)
    again = run_module("openrs.evaluate", *options, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"continuing the unfinished evaluation in {first} (2 samples kept" in again.stderr
    assert [p for p in (tmp_path / "evals").iterdir() if (p / "samples.jsonl").exists()] == [first]
    samples = read_jsonl(first / "samples.jsonl")
    assert len(samples) == 6 and samples[:2] == kept


def test_which_dirs_a_pattern_searches(tmp_path: Path) -> None:
    """A dir written without a varying part is one place (a killed run beside it is not taken over, as
    tests/test_partial_runs.py shows); each varying part becomes a glob; `${hydra:...}` does not vary."""
    from openrs.dir_search import dir_search

    assert dir_search(f"{tmp_path}/runs/fixed", tmp_path / "runs" / "fixed").fixed
    search = dir_search(f"{tmp_path}/runs/{STAMP}", tmp_path / "runs" / "2026-12-07_10-00-00")
    assert (search.root, search.pattern) == (tmp_path / "runs", "*")
    nested = dir_search("/s/${now:%Y-%m-%d}/run_${now:%H}", Path("/s/2026-12-07/run_10"))
    assert (nested.root, nested.pattern) == (Path("/s"), "*/run_*")
    assert dir_search("/s/${hydra:job.name}/x", Path("/s/openrs/x")).fixed  # the same on every launch
    job = dir_search("outputs/multirun/${name}/" + STAMP + "/0_a=1", Path("/w/outputs/multirun/tiny/t/0_a=1"))
    assert (job.root, job.pattern) == (Path("/w/outputs/multirun/tiny"), "*/0_a=1")
