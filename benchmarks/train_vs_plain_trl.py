"""openrs vs plain TRL on the tiny default (CPU): what does the openrs layer cost per run?

What it measures
----------------
Four variants of the same GRPO run (tiny random-weight Qwen2, 256 synthetic arithmetic prompts with the R1 system
prompt, accuracy + format rewards, seed 42, ``--steps`` optimizer steps), each a fresh Python subprocess:

* ``openrs/none``  -- ``python -m openrs logger=none hydra.run.dir=<tmp>``
* ``plain/none``   -- a plain TRL script (``PLAIN_TRL_SCRIPT`` below): ``ensure_tiny_model()``, the same rows as
  conversational prompts, ``get_reward("accuracy")`` / ``get_reward("format")`` and a GRPOConfig written out by
  hand with the values that ``python -m openrs dry_run=true`` prints, ``report_to="none"``
* ``openrs/wandb`` -- ``python -m openrs hydra.run.dir=<tmp>``: the default W&B logger (offline: WANDB_MODE=offline)
* ``plain/wandb``  -- the plain script with ``report_to="wandb"`` (same WANDB_MODE=offline)

For every run these times are recorded:

* ``e2e``   -- wall time of the whole subprocess (interpreter start, imports, Hydra, training, saving, exit);
* ``run``   -- time inside the process from "start building the run" to "final model saved", imports excluded:
  openrs's ``summary.json`` ``wall_time_s`` (model path, tokenizer, data prep and validation, provenance, W&B init,
  trainer, train, save) and the same span timed in the plain script;
* ``train`` -- TRL/transformers' own ``train_runtime`` (the ``trainer.train()`` call only);
* ``cpu``   -- CPU seconds (user + sys) the subprocess used, and ``other cpu``: CPU seconds the rest of the machine
  used meanwhile (from /proc/stat). A run with much ``other cpu`` shared the cores and its times are inflated, so
  before each run the script waits (``--wait-quiet``, default 120 s) for the machine to go idle.

The variants run ``--repeats`` times in alternating order (ABCD, DCBA, ...). The script prints every run, the
medians and the ratios openrs/plain of the medians. It then checks that the runs really are the same run: the rows'
SHA-256 fingerprint (openrs's data_report recipe), the per-step ``num_tokens`` trajectory of every run, and the
saved ``training_args.bin`` of openrs vs the plain script (fields that differ are listed). When any of them differs the
script prints no ratio and exits 1: two different runs cannot be compared.

How to run
----------
    . .venv/bin/activate
    export OPENRS_CACHE=/tmp/orscache          # where the tiny model is built once (warm-up, untimed)
    python benchmarks/train_vs_plain_trl.py --repeats 3 [--steps 60] [--json results.json] [--keep]

Everything is written under a temporary directory (deleted unless ``--keep``); nothing lands in ``outputs/``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_STEPS = 60  # train.max_steps of conf/config.yaml
VARIANTS = ("openrs/none", "plain/none", "openrs/wandb", "plain/wandb")

# The tiny default written as a user would write it with TRL alone. Values copied from
# `python -m openrs dry_run=true` (plan["grpo"]); nothing is read from openrs's config or plan.
PLAIN_TRL_SCRIPT = r'''
"""The openrs tiny default as a plain TRL script."""
import argparse
import hashlib
import json
import time

from datasets import Dataset
from transformers import AutoTokenizer
from trl import GRPOConfig, GRPOTrainer

from openrs.data.synthetic import make_arithmetic_dataset
from openrs.rewards import get_reward
from openrs.tiny_model import ensure_tiny_model

SYSTEM_PROMPT = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the answer, "
    "and put your final answer within \\boxed{{}} . The reasoning process and answer are enclosed within <think> "
    "</think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> "
    "answer here </answer>. Note that respond by English, NOT use other languages."
)

parser = argparse.ArgumentParser()
parser.add_argument("--output-dir", required=True)
parser.add_argument("--steps", type=int, default=60)
parser.add_argument("--report-to", default="none")
parser.add_argument("--result", required=True)
cli = parser.parse_args()

started = time.time()
model_path = str(ensure_tiny_model())
tokenizer = AutoTokenizer.from_pretrained(model_path, revision="main")
rows = [
    {
        "prompt": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": row["problem"]}],
        "solution": row["solution"],
    }
    for row in make_arithmetic_dataset(256, seed=0, max_operand=9, operations="+-*", unique=True, split="train")
]
config = GRPOConfig(
    output_dir=cli.output_dir,
    run_name="tiny",
    seed=42,
    data_seed=42,
    max_steps=cli.steps,
    per_device_train_batch_size=16,
    gradient_accumulation_steps=1,
    gradient_checkpointing=False,
    gradient_checkpointing_kwargs=None,
    bf16=False,
    fp16=False,
    use_cpu=False,
    model_init_kwargs={"dtype": "float32", "attn_implementation": "sdpa", "revision": "main"},
    trust_remote_code=False,
    optim="adamw_torch",
    learning_rate=1e-3,
    weight_decay=0.0,
    adam_beta1=0.9,
    adam_beta2=0.999,
    adam_epsilon=1e-8,
    max_grad_norm=1.0,
    lr_scheduler_type="constant_with_warmup",
    lr_scheduler_kwargs=None,
    warmup_steps=0.0,
    logging_steps=1,
    logging_nan_inf_filter=False,  # as openrs sets them for its nonfinite guardrail (openrs.plan)
    generation_kwargs={"remove_invalid_values": True},
    save_strategy="steps",
    save_steps=20,
    save_total_limit=2,
    eval_strategy="no",  # as openrs without a validation split; eval_steps and the eval batch as openrs sets them
    eval_steps=20,
    per_device_eval_batch_size=16,
    report_to=cli.report_to,
    log_completions=False,
    num_generations=8,
    max_completion_length=32,
    temperature=1.0,
    top_p=1.0,
    beta=0.04,
    loss_type="grpo",
    scale_rewards="group",
    epsilon=0.2,
    epsilon_high=None,
    num_iterations=1,
    importance_sampling_level="token",
    mask_truncated_completions=False,
    use_bias_correction_kl=False,
    multi_objective_aggregation="sum_then_normalize",
    reward_weights=[1.0, 1.0],
    use_vllm=False,
)
trainer = GRPOTrainer(
    model=model_path,
    reward_funcs=[get_reward("accuracy"), get_reward("format")],
    args=config,
    train_dataset=Dataset.from_list(rows),
    processing_class=tokenizer,
)
output = trainer.train()
trainer.save_model(f"{cli.output_dir}/final_model")
tokenizer.save_pretrained(f"{cli.output_dir}/final_model")
elapsed = time.time() - started

# Benchmark hook (not part of the user's script): timings, data fingerprint and the step log.
digest = hashlib.sha256()
for row in rows:
    digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
    digest.update(b"\n")
with open(cli.result, "w", encoding="utf-8") as handle:
    json.dump(
        {
            "run_s": round(elapsed, 2),
            "train_runtime": output.metrics["train_runtime"],
            "steps": trainer.state.global_step,
            "fingerprint": digest.hexdigest(),
            "log_history": trainer.state.log_history,
        },
        handle,
        default=str,
    )
'''


@dataclass
class Run:
    """One timed subprocess."""

    variant: str
    repeat: int
    position: int  # 1-based place in this repeat's order
    e2e_s: float
    cpu_s: float = 0.0  # CPU time of the subprocess and its reaped children (user + sys)
    other_cpu_s: float | None = None  # busy CPU time on the machine during the run not spent by this run
    run_s: float | None = None
    train_s: float | None = None
    steps: int | None = None
    fingerprint: str | None = None
    num_tokens: list[float] = field(default_factory=list)
    run_dir: str = ""

    @property
    def outside_s(self) -> float | None:
        return None if self.run_s is None else self.e2e_s - self.run_s


def busy_cpu_seconds() -> float | None:
    """Busy CPU time of the whole machine since boot (all cores, from /proc/stat); None where unavailable."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_for_quiet(max_wait_s: float, sample_s: float = 2.0, max_busy_cores: float = 0.25) -> float:
    """Wait (at most `max_wait_s`) until the machine is idle: under `max_busy_cores` busy over `sample_s`.

    Returns the seconds waited. On a shared machine another process's CPU use inflates every timing here.
    """
    waited = 0.0
    while waited < max_wait_s:
        before = busy_cpu_seconds()
        time.sleep(sample_s)
        after = busy_cpu_seconds()
        if before is None or after is None or (after - before) / sample_s < max_busy_cores:
            break
        waited += sample_s
    return waited


def child_env(run_dir: Path) -> dict[str, str]:
    """The same environment for every variant: W&B forced offline and writing into the run dir."""
    env = dict(os.environ)
    env["WANDB_MODE"] = "offline"
    env["WANDB_DIR"] = str(run_dir)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def command_for(variant: str, run_dir: Path, steps: int, plain_script: Path) -> list[str]:
    """The command line of one variant."""
    framework, logger = variant.split("/")
    if framework == "openrs":
        cmd = [sys.executable, "-m", "openrs", f"hydra.run.dir={run_dir}"]
        if logger == "none":
            cmd.append("logger=none")
        if steps != DEFAULT_STEPS:
            cmd.append(f"train.max_steps={steps}")
        return cmd
    return [
        sys.executable,
        str(plain_script),
        "--output-dir",
        str(run_dir),
        "--steps",
        str(steps),
        "--report-to",
        logger,
        "--result",
        str(run_dir / "plain_result.json"),
    ]


def read_openrs(run: Run, run_dir: Path) -> None:
    """Fill `run` from openrs's summary.json, data_report.json and metrics.jsonl."""
    summary = json.loads((run_dir / "summary.json").read_text())
    if summary.get("status") != "completed":
        raise RuntimeError(f"openrs run in {run_dir} ended {summary.get('status')}: {summary.get('error')}")
    run.run_s = summary["wall_time_s"]
    run.train_s = summary["final_metrics"].get("train_runtime")
    run.steps = summary["steps"]
    run.fingerprint = summary["data"]["fingerprint"]
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    run.num_tokens = [rec["num_tokens"] for rec in map(json.loads, lines) if "num_tokens" in rec]


def read_plain(run: Run, run_dir: Path) -> None:
    """Fill `run` from the plain script's result file."""
    result = json.loads((run_dir / "plain_result.json").read_text())
    run.run_s = result["run_s"]
    run.train_s = result["train_runtime"]
    run.steps = result["steps"]
    run.fingerprint = result["fingerprint"]
    run.num_tokens = [float(rec["num_tokens"]) for rec in result["log_history"] if "num_tokens" in rec]


def run_variant(variant: str, repeat: int, position: int, root: Path, steps: int, plain_script: Path) -> Run:
    """Run one variant as a subprocess, timed end to end; stdout/stderr go to files in its run dir."""
    run_dir = root / f"r{repeat}-{variant.replace('/', '-')}"
    run_dir.mkdir(parents=True)
    cmd = command_for(variant, run_dir, steps, plain_script)
    with (run_dir / "stdout.txt").open("w") as out, (run_dir / "stderr.txt").open("w") as err:
        busy0, cpu0 = busy_cpu_seconds(), children_cpu_seconds()
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=run_dir, env=child_env(run_dir), stdout=out, stderr=err, check=False)
        e2e = time.perf_counter() - start
        busy1, cpu = busy_cpu_seconds(), children_cpu_seconds() - cpu0
    if proc.returncode != 0:
        tail = (run_dir / "stderr.txt").read_text()[-3000:]
        raise RuntimeError(f"{variant} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    other = None if busy0 is None or busy1 is None else max(0.0, busy1 - busy0 - cpu)
    run = Run(variant, repeat, position, e2e_s=e2e, cpu_s=cpu, other_cpu_s=other, run_dir=str(run_dir))
    (read_openrs if variant.startswith("openrs") else read_plain)(run, run_dir)
    if run.steps != steps:
        raise RuntimeError(f"{variant} ran {run.steps} steps, expected {steps}")
    return run


def warm_up(root: Path, plain_script: Path) -> None:
    """Untimed: build the tiny model if needed and run the plain script for one step (imports, .pyc, disk cache)."""
    run_dir = root / "warmup"
    run_dir.mkdir()
    cmd = command_for("plain/none", run_dir, 1, plain_script)
    subprocess.run(cmd, cwd=run_dir, env=child_env(run_dir), capture_output=True, check=True)


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def report(runs: list[Run], same_run: bool) -> str:
    """Per-run table, medians per variant and openrs/plain ratios of the medians (only when every variant trained
    the same run: a ratio between two different runs measures nothing)."""
    per_run = table(
        ["variant", "repeat", "order", "e2e s", "run s", "train s", "outside run s", "cpu s", "other cpu s"],
        [
            [r.variant, str(r.repeat), str(r.position), fmt(r.e2e_s), fmt(r.run_s), fmt(r.train_s), fmt(r.outside_s)]
            + [fmt(r.cpu_s), fmt(r.other_cpu_s)]
            for r in runs
        ],
    )
    med: dict[str, dict[str, float | None]] = {}
    for variant in VARIANTS:
        mine = [r for r in runs if r.variant == variant]
        med[variant] = {
            "e2e": median([r.e2e_s for r in mine]),
            "run": median([r.run_s for r in mine]),
            "train": median([r.train_s for r in mine]),
            "outside": median([r.outside_s for r in mine]),
        }
    medians = table(
        ["variant (median of repeats)", "e2e s", "run s", "train s", "outside run s"],
        [[v, *(fmt(med[v][k]) for k in ("e2e", "run", "train", "outside"))] for v in VARIANTS],
    )
    ratio_rows = []
    for logger in ("none", "wandb"):
        o, p = med[f"openrs/{logger}"], med[f"plain/{logger}"]
        ratio_rows.append(
            [f"openrs/{logger} ÷ plain/{logger}", *(fmt(ratio(o[k], p[k]), 3) for k in ("e2e", "run", "train"))]
            + [fmt(None if o["e2e"] is None or p["e2e"] is None else o["e2e"] - p["e2e"])]
        )
    for framework in ("openrs", "plain"):
        w, n = med[f"{framework}/wandb"], med[f"{framework}/none"]
        ratio_rows.append(
            [f"{framework}/wandb ÷ {framework}/none", *(fmt(ratio(w[k], n[k]), 3) for k in ("e2e", "run", "train"))]
            + [fmt(None if w["e2e"] is None or n["e2e"] is None else w["e2e"] - n["e2e"])]
        )
    if not same_run:
        return f"{per_run}\n\n{medians}\n\nNO RATIOS: the variants did not train the same run (see the checks below)."
    ratios = table(["ratio of medians", "e2e", "run", "train", "e2e difference s"], ratio_rows)
    return f"{per_run}\n\n{medians}\n\n{ratios}"


def training_args_diff(openrs_dir: Path, plain_dir: Path) -> dict[str, tuple[Any, Any]]:
    """Fields of the saved GRPOConfig that differ between an openrs run and a plain run (paths excluded)."""
    import torch

    def load(run_dir: Path) -> dict[str, Any]:
        args = torch.load(run_dir / "final_model" / "training_args.bin", weights_only=False)
        return args.to_dict()

    a, b = load(openrs_dir), load(plain_dir)
    skip = {"output_dir", "logging_dir", "run_name"}  # where and under which label: not what is trained
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if k not in skip and a.get(k) != b.get(k)}


def verify(runs: list[Run]) -> tuple[list[str], bool]:
    """Checks that all variants trained the same run: the lines to print, and whether they did (same data
    fingerprint, same num_tokens trajectory, no differing training argument)."""
    lines = []
    same = True
    busy = [r for r in runs if r.other_cpu_s is not None and r.other_cpu_s > 0.05 * r.e2e_s]
    if busy:
        names = ", ".join(f"{r.variant}#{r.repeat} ({r.other_cpu_s:.1f}s)" for r in busy)
        lines.append(f"WARNING: other processes used CPU during {len(busy)} run(s): {names}; timings are inflated")
    else:
        lines.append("machine quiet: no run saw other processes use more than 5% of its wall time in CPU")
    fingerprints = {r.fingerprint for r in runs}
    if len(fingerprints) == 1:
        lines.append(f"data fingerprint: identical in all {len(runs)} runs ({next(iter(fingerprints))[:16]})")
    else:
        same = False
        lines.append(f"data fingerprint: DIFFER across runs {sorted(map(str, fingerprints))}")
    trajectories = {tuple(r.num_tokens) for r in runs}
    if len(trajectories) == 1:
        lines.append(f"num_tokens per step: identical in all {len(runs)} runs (same generations)")
    else:
        same = False
        by_variant = {r.variant + f"#{r.repeat}": r.num_tokens[-1:] for r in runs}
        lines.append(f"num_tokens per step: DIFFER across runs (last values {by_variant})")
    first = {r.variant: Path(r.run_dir) for r in reversed(runs)}
    for logger in ("none", "wandb"):
        diff = training_args_diff(first[f"openrs/{logger}"], first[f"plain/{logger}"])
        same = same and not diff
        shown = "; ".join(f"{k}: openrs={v[0]!r} plain={v[1]!r}" for k, v in diff.items()) or "none"
        lines.append(f"training_args.bin openrs/{logger} vs plain/{logger}, differing fields: {shown}")
    return lines, same


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant (default 3)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"optimizer steps (default {DEFAULT_STEPS})")
    parser.add_argument("--json", type=Path, default=None, help="also write every run as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary run dirs (path is printed)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=120.0,
        help="before each run, wait up to this many seconds for other CPU load to stop (0: don't wait)",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    root = Path(tempfile.mkdtemp(prefix="openrs-bench-"))
    plain_script = root / "plain_grpo.py"
    plain_script.write_text(PLAIN_TRL_SCRIPT.lstrip(), encoding="utf-8")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, OPENRS_CACHE={os.environ.get('OPENRS_CACHE')}")
    print(f"steps={args.steps} repeats={args.repeats} workdir={root}", flush=True)
    runs: list[Run] = []
    try:
        if not args.no_warmup:
            warm_up(root, plain_script)
        for repeat in range(1, args.repeats + 1):
            order = VARIANTS if repeat % 2 else tuple(reversed(VARIANTS))
            for position, variant in enumerate(order, start=1):
                if args.wait_quiet > 0 and (waited := wait_for_quiet(args.wait_quiet)) > 0:
                    print(f"  (waited {waited:.0f}s for other CPU load to stop)", flush=True)
                run = run_variant(variant, repeat, position, root, args.steps, plain_script)
                runs.append(run)
                print(
                    f"  repeat {repeat} {variant:<13} e2e {run.e2e_s:6.2f}s  run {fmt(run.run_s):>6}s  "
                    f"train {fmt(run.train_s):>6}s  cpu {run.cpu_s:6.2f}s  other cpu {fmt(run.other_cpu_s):>6}s",
                    flush=True,
                )
        checks, same_run = verify(runs)
        print()
        print(report(runs, same_run))
        print()
        print("\n".join(checks))
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n", encoding="utf-8")
    finally:
        if args.keep:
            print(f"run dirs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if same_run else 1


if __name__ == "__main__":
    sys.exit(main())
