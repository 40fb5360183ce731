"""`python -m openrs.compare` on run directories these tests build (no training): table, CSV, plots, W&B, errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from openrs.compare import compare
from openrs.compare.__main__ import main
from openrs.compare.differs import what_differs
from openrs.compare.inputs import load_inputs
from openrs.compare.runs import Run, last_mean, load_run
from openrs.compare.table import build_comparison, cost_per_point, csv_text, guard_text, markdown, md_headers
from tests.conftest import read_jsonl

REPO = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------------- fixtures


def bench(pass1: float, half: float | None = None, k: int = 4) -> dict[str, Any]:
    """One benchmark entry of results.json (with a CI of ± half when given)."""
    entry: dict[str, Any] = {"pass@1": pass1, "k": k, "n_problems": 30, "confidence": 0.95}
    return entry | ({"ci": [pass1 - half, pass1 + half]} if half is not None else {})


def write_results(path: Path, benchmarks: dict[str, dict]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    mean = sum(b["pass@1"] for b in benchmarks.values()) / len(benchmarks)
    results = {"benchmarks": benchmarks, "average": {"pass@1": mean, "benchmarks": list(benchmarks)}}
    (path / "results.json").write_text(json.dumps(results))


def make_run(
    run_dir: Path,
    overrides: list[str],
    rewards: list[float],
    *,
    seed: int = 42,
    cost: float | None = 0.0,
    kl: bool = True,
    extra_lines: list[str] | None = None,
) -> Path:
    """A run dir as `python -m openrs` leaves it: summary.json, metrics.jsonl, .hydra/overrides.yaml, config.yaml."""
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {item}\n" for item in overrides))
    (run_dir / "config.yaml").write_text(f"name: tiny\ntrain:\n  seed: {seed}\n  max_steps: {len(rewards)}\n")
    rows = []
    for step, reward in enumerate(rewards, start=1):
        row = {
            "step": step,
            "reward": reward,
            "rewards/accuracy/mean": reward / 2,
            "completions/mean_length": 100.0 + step,
            "completions/clipped_ratio": 0.5,
        }
        rows.append(row | ({"kl": 0.01 * step} if kl else {}))
    rows.append({"step": len(rewards), "train_runtime": 1.0, "train_loss": 0.1})  # the final train summary row
    lines = [json.dumps(row) for row in rows] + (extra_lines or [])
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    name = "tiny-" + ",".join(o.lstrip("+") for o in overrides if not o.startswith("logger"))
    summary = {
        "name": "tiny",
        "run_name": name,
        "status": "completed",
        "steps": len(rewards),
        "max_steps": len(rewards),
        "wall_time_s": 60.0,
        "final_metrics": rows[-2],
        "resources": {"gpu_type": "NVIDIA A40", "gpu_count": 4, "gpu_hours": 2.0, "cost_usd": cost},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


@pytest.fixture
def multirun(tmp_path: Path) -> Path:
    """A Hydra multirun dir with two seeds; seed 2 is evaluated (final), seed 1 only at checkpoints."""
    root = tmp_path / "mr"
    root.mkdir()
    (root / "multirun.yaml").write_text("hydra: {}\n")
    common = ["+sweep=tiny", "logger=none", "train.max_steps=12"]
    one = make_run(root / "0_train.seed=1", ["train.seed=1", *common], [0.1] * 2 + [0.2] * 10, seed=1, cost=10.0)
    two = make_run(root / "1_train.seed=2", ["train.seed=2", *common], [0.3] * 12, seed=2, cost=12.0)
    write_results(one / "eval" / "tiny" / "checkpoint-5", {"aime24": bench(0.30, 0.05), "math500": bench(0.70)})
    write_results(one / "eval" / "tiny" / "checkpoint-10", {"aime24": bench(0.40, 0.05), "math500": bench(0.80)})
    write_results(one / "eval" / "validation" / "checkpoint-12", {"validation": bench(0.99)})  # never a preset
    write_results(two / "eval" / "tiny" / "final", {"aime24": bench(0.467, 0.031), "math500": bench(0.85, 0.02)})
    write_results(two / "eval" / "during_training" / "checkpoint-6", {"aime24": bench(0.2, 0.1)})
    (root / "2_train.seed=3").mkdir()  # a job that crashed before writing anything: not a run
    return root


@pytest.fixture
def base_eval(tmp_path: Path) -> Path:
    """An evaluation of the base model (`python -m openrs.evaluate` output): Avg 50.0."""
    path = tmp_path / "base_eval"
    write_results(path, {"aime24": bench(0.30, 0.05), "math500": bench(0.70, 0.02)})
    return path


# ---------------------------------------------------------------------------------------------------- loading


def test_what_differs_keeps_only_overrides_not_shared_by_every_run(tmp_path: Path, multirun: Path) -> None:
    runs = load_inputs([str(multirun)])
    assert [run.name for run in runs] == ["tiny-train.seed=1,sweep=tiny,train.max_steps=12"] + [
        "tiny-train.seed=2,sweep=tiny,train.max_steps=12"
    ]
    assert what_differs(runs) == ["train.seed=1", "train.seed=2"]
    # a run that kept the default another run overrode shows its resolved value; logger/hydra never differ
    default = make_run(tmp_path / "default", ["logger=wandb", "hydra.run.dir=x", "train.max_steps=12"], [0.1] * 12)
    runs = load_inputs([str(multirun), str(default)])
    assert what_differs(runs) == ["sweep=tiny train.seed=1", "sweep=tiny train.seed=2", "train.seed=42"]
    # one run alone differs from nothing: its run name
    assert what_differs(runs[:1]) == [runs[0].run_name]


def test_last_n_logged_values_are_averaged(tmp_path: Path) -> None:
    # 12 steps; step 12 logged twice (a resumed run: the later value wins); a half-written last line
    lines = [json.dumps({"step": 12, "reward": 1.0}), '{"step": 13, "rew']
    run = load_run(make_run(tmp_path / "r", ["train.seed=1"], [0.0] * 2 + [0.5] * 10, extra_lines=lines))
    assert last_mean(run.metrics["reward"], 10) == pytest.approx((0.5 * 9 + 1.0) / 10)
    assert last_mean(run.metrics["reward"], 3) == pytest.approx(2 / 3)
    assert last_mean(run.metrics["reward"], 100) == pytest.approx(5.5 / 12)
    assert last_mean(None, 10) is None
    row = build_comparison([run], last=10).rows[0]
    assert row.truncation_rate == 0.5 and row.mean_length == pytest.approx(107.5)  # steps 3..12: 103..112


def test_eval_scores_come_from_the_newest_results(multirun: Path, tmp_path: Path) -> None:
    one, two = load_inputs([str(multirun)])
    assert two.final_eval.source == "tiny/final" and two.final_eval.benchmarks["aime24"]["pass@1"] == 0.467
    assert one.final_eval.source == "tiny/checkpoint-10"  # no final: the highest checkpoint, never validation
    assert [p[0] for p in one.eval_curves["aime24"]["tiny"]] == [5, 10]
    assert two.eval_curves["aime24"]["during training"] == [(6, 0.2, pytest.approx((0.1, 0.3)))]
    assert two.eval_curves["aime24"]["tiny"][-1][0] == 12  # the final model at the last step
    # eval.before_train's evaluation of the starting model is the curve's step 0, never the run's final score
    write_results(multirun / "1_train.seed=2" / "eval" / "tiny" / "base", {"aime24": bench(0.1)})
    started = load_run(multirun / "1_train.seed=2")
    assert [(p[0], p[1]) for p in started.eval_curves["aime24"]["tiny"]] == [(0, 0.1), (12, 0.467)]
    assert started.final_eval.source == "tiny/final"
    assert load_run(multirun / "1_train.seed=2", eval_preset="other").final_eval is None
    write_results(multirun / "1_train.seed=2" / "eval" / "paper" / "checkpoint-12", {"aime24": bench(0.5)})
    assert load_run(multirun / "1_train.seed=2").final_eval.source == "tiny/final"  # a final beats a checkpoint
    assert load_run(multirun / "1_train.seed=2", eval_preset="paper").final_eval.source == "paper/checkpoint-12"
    # no eval dir: summary.json's eval block (no interval) and the in-training benchmark rows
    run_dir = make_run(
        tmp_path / "s",
        ["train.seed=1"],
        [0.1] * 4,
        extra_lines=[json.dumps({"step": 2, "benchmarks/aime24/pass@1": 0.1})],
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["eval"] = {"dir": str(run_dir / "eval/tiny/final"), "benchmarks/aime24/pass@1": 0.25}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    run = load_run(run_dir)
    assert run.final_eval.source == "summary.json" and run.final_eval.average == 0.25
    assert run.eval_curves["aime24"]["during training"] == [(2, 0.1, None)]


# ---------------------------------------------------------------------------------------------------- table


def test_cost_per_accuracy_point_against_a_baseline(multirun: Path, base_eval: Path, tmp_path: Path) -> None:
    out = compare([str(multirun)], tmp_path / "out", baseline=str(base_eval))
    rows = list(csv.DictReader((tmp_path / "out" / "comparison.csv").open()))
    by_run = {row["run"]: row for row in rows}
    seed1, seed2 = (by_run[f"tiny-train.seed={s},sweep=tiny,train.max_steps=12"] for s in (1, 2))
    # seed 1: Avg (40 + 80) / 2 = 60, gain 10 points for $10; seed 2: Avg 65.85, gain 15.85 for $12
    assert float(seed1["gain_points"]) == pytest.approx(10.0)
    assert float(seed1["cost_per_point_usd"]) == pytest.approx(1.0)
    assert float(seed2["cost_per_point_usd"]) == pytest.approx(12 / 15.85)
    assert by_run["base_eval"]["status"] == "eval only" and by_run["base_eval"]["cost_per_point_usd"] == ""
    assert "| Δ Avg (pts) | $ / point |" in out.markdown and "| +10.0 | 1.00 |" in out.markdown
    runs = load_inputs([str(multirun)])
    assert cost_per_point(runs[0], None) is None and cost_per_point(runs[0], runs[0]) is None
    assert cost_per_point(runs[0], runs[1]) is None  # a loss (60 < 65.85): no cost per point


def test_markdown_table_columns_and_cells(multirun: Path) -> None:
    comparison = build_comparison(load_inputs([str(multirun)]), last=10)
    headers = md_headers(comparison)
    assert headers == [
        "run", "what differs", "status", "steps", "guardrails", "reward", "accuracy reward", "truncated (%)",
        "mean length",
        "AIME24", "MATH-500", "Avg", "eval from", "GPU-hours", "cost ($)",
    ]  # fmt: skip
    text = markdown(comparison)
    assert text.splitlines()[0] == "| " + " | ".join(headers) + " |"
    seed2 = next(line for line in text.splitlines() if "`train.seed=2`" in line)
    cells = [cell.strip() for cell in seed2.strip("|").split("|")]
    assert cells[3:] == ["12/12", "—", "0.300", "0.150", "50.0", "107.5", "46.7 ± 3.1", "85.0 ± 2.0", "65.8"] + [
        "tiny/final",
        "2.00",
        "12.00",
    ]
    assert "No `--baseline`: no cost-per-point column" in text and "$ / point" not in headers


def test_csv_reads_back_with_dictreader(multirun: Path) -> None:
    text = csv_text(build_comparison(load_inputs([str(multirun)]), last=5))
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == 2
    assert list(rows[0])[:10] == [
        "run", "what_differs", "status", "steps", "max_steps", "guardrails", "reward", "accuracy_reward",
        "truncation_rate", "mean_length",
    ]  # fmt: skip
    assert rows[0]["what_differs"] == "train.seed=1" and float(rows[0]["reward"]) == pytest.approx(0.2)
    assert float(rows[1]["aime24_ci_low"]) == pytest.approx(0.436) and rows[1]["eval_from"] == "tiny/final"
    assert rows[0]["math500_ci_low"] == "" and float(rows[0]["math500_pass@1"]) == 0.8


# ---------------------------------------------------------------------------------------------------- W&B


class FakeRun:
    """What the tests read of a `wandb.apis.public.Run`: name, id, state, job_type, summary, config, history()."""

    def __init__(self, name: str, seed: int, rewards: list[float], job_type: str = "train") -> None:
        self.name, self.id, self.state, self.job_type = name, f"id-{seed}", "finished", job_type
        self.summary = {"train/global_step": len(rewards), "train/benchmarks/aime24/pass@1": 0.1 * seed, "_runtime": 9}
        self.config = {"openrs": {"name": "tiny", "train": {"seed": seed, "max_steps": len(rewards)}}, "plan": {}}
        self.rows = [
            {"_step": 10 + i, "train/global_step": i + 1, "train/reward": r, "train/kl": 0.1, "_runtime": 1.0}
            for i, r in enumerate(rewards)
        ]
        self.rows.append({"_step": 99, "train/global_step": len(rewards), "train/benchmarks/aime24/pass@1": 0.1 * seed})

    def history(self, samples: int = 500, pandas: bool = True) -> list[dict[str, Any]]:
        assert pandas is False
        return self.rows[:samples]


class FakeApi:
    """Stands in for `wandb.Api()`: there is no W&B server here, so the tests never reach the real one."""

    calls: list[tuple[str, dict]] = []

    def runs(self, path: str, filters: dict | None = None) -> list[FakeRun]:
        FakeApi.calls.append((path, filters or {}))
        runs = [FakeRun("tiny-train.seed=1", 1, [0.1, 0.3]), FakeRun("tiny-train.seed=2", 2, [0.2, 0.6])]
        runs[1].summary["openrs/status"], runs[1].state = "running", "crashed"  # SIGKILLed: W&B saw it die
        return runs + [FakeRun("eval-tiny", 3, [], job_type="eval")]


def test_wandb_group_through_a_fake_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import wandb

    monkeypatch.setattr(wandb, "Api", FakeApi)  # the W&B server does not exist here: a fake answers instead
    monkeypatch.setenv("WANDB_API_KEY", "fake-key-for-the-fake-api")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    out = compare(["wandb:me/openrs/tiny"], tmp_path / "out", last=1)
    assert FakeApi.calls[-1] == ("me/openrs", {"group": "tiny"})
    rows = list(csv.DictReader((tmp_path / "out" / "comparison.csv").open()))
    assert [row["run"] for row in rows] == ["tiny-train.seed=1", "tiny-train.seed=2"]  # the eval job is skipped
    assert [row["what_differs"] for row in rows] == ["train.seed=1", "train.seed=2"]  # from the configs
    assert [float(row["reward"]) for row in rows] == [0.3, 0.6] and rows[0]["steps"] == "2"
    assert [row["status"] for row in rows] == ["finished", "killed"]  # recorded running, but its process is gone
    assert rows[1]["eval_from"] == "wandb summary" and float(rows[1]["aime24_pass@1"]) == pytest.approx(0.2)
    assert rows[0]["cost_usd"] == "" and "| — | — |" in out.markdown  # W&B holds no resources block
    assert {p.name for p in out.plots} == {"reward.png", "kl.png", "eval_aime24.png"}


# ---------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: [str(tmp / "missing")], "no such directory"),
        (lambda tmp: [str(tmp)], "not a run dir"),
        (lambda tmp: [str(tmp / "empty_multirun")], "no runs found"),
        (lambda tmp: ["wandb:me/openrs/tiny"], "W&B is offline"),
        (lambda tmp: ["wandb:me/openrs"], "wandb:<entity>/<project>/<group>"),
        (lambda tmp: [str(tmp / "r"), "--baseline", "nope"], "--baseline nope is no compared run's name"),
        (lambda tmp: [str(tmp / "r"), "--baseline", str(tmp / "r")], "has no evaluation results"),
    ],
)
def test_clear_errors_exit_2_without_traceback(
    make_args, message: str, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    (tmp_path / "empty_multirun").mkdir()
    (tmp_path / "empty_multirun" / "multirun.yaml").write_text("hydra: {}\n")
    make_run(tmp_path / "r", ["train.seed=1"], [0.1])
    assert main([*make_args(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_figure_no_run_has_is_skipped(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", ["train.seed=1"], [0.1, 0.2], kl=False)
    out = compare([str(run)], tmp_path / "out")
    names = {p.name for p in out.plots}
    assert names == {"reward.png", "accuracy_reward.png", "completion_length.png", "truncation_rate.png"}


# ---------------------------------------------------------------------------------------------------- end to end


def test_command_line_end_to_end(tmp_path: Path) -> None:
    one = make_run(tmp_path / "runs" / "a", ["train.seed=1", "logger=none"], [0.1, 0.2, 0.3], seed=1)
    two = make_run(tmp_path / "runs" / "b", ["train.seed=2", "logger=none"], [0.2, 0.4, 0.6], seed=2)
    write_results(one / "eval" / "tiny" / "checkpoint-2", {"aime24": bench(0.3, 0.1)})
    write_results(two / "eval" / "tiny" / "checkpoint-2", {"aime24": bench(0.4, 0.1)})
    summary = json.loads((two / "summary.json").read_text())
    firings = [{"detector": "no_signal", "step": s, "action": "warn"} for s in (2, 3)]
    summary["guard"] = {"firings": [*firings, {"detector": "kl_explosion", "step": 3, "action": "stop"}]}
    (two / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "cmp"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "openrs.compare", str(one), str(two), "--out", str(out), "--last", "2"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("| run |"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "run", "what differs", "status", "steps", "guardrails", "reward", "accuracy reward", "truncated (%)",
        "mean length",
        "AIME24", "Avg", "eval from", "GPU-hours", "cost ($)",
    ]  # fmt: skip
    assert "| `train.seed=2` | completed | 3/3 | no_signal@2 warn x2; kl_explosion@3 stop | 0.500 |" in result.stdout
    assert "| `train.seed=1` | completed | 3/3 | — |" in result.stdout  # a run that recorded no guard
    assert (out / "comparison.md").read_text() in result.stdout
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [
        "accuracy_reward.png", "completion_length.png", "eval_aime24.png", "eval_average.png", "kl.png", "reward.png",
        "truncation_rate.png",
    ]  # fmt: skip
    for name in pngs:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
        assert f"plot      {out / name}" in result.stdout


def test_curves_over_rollout_tokens_put_runs_at_equal_cost(tmp_path: Path) -> None:
    """--x tokens: each step is placed at the tokens generated by then (TRL's num_tokens); a run that generates
    twice as much per step (dynamic sampling) reaches the same token count in half the steps. Evaluations follow
    their checkpoint's step; the starting model sits at 0 tokens."""
    from openrs.compare.plots import _at, plot_comparison

    run_dir = make_run(tmp_path / "run", ["train.seed=1"], [0.1, 0.2, 0.3, 0.4])
    rows = read_jsonl(run_dir / "metrics.jsonl")
    lines = [json.dumps({**row, "num_tokens": 500.0 * row["step"]} if "reward" in row else row) for row in rows]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    write_results(run_dir / "eval" / "tiny" / "checkpoint-2", {"aime24": bench(0.4, 0.1)})
    write_results(run_dir / "eval" / "tiny" / "base", {"aime24": bench(0.2, 0.1)})
    run = load_run(run_dir)
    assert _at(sorted(run.metrics["reward"].items()), run, "tokens") == [(500, 0.1), (1000, 0.2), (1500, 0.3),
                                                                       (2000, 0.4)]  # fmt: skip
    points = _at(sorted(run.eval_curves["aime24"]["tiny"]), run, "tokens")
    assert [(x, score) for x, score, _ in points] == [(0.0, 0.2), (1000.0, 0.4)]
    assert _at([(3, 0.5)], run, "step") == [(3, 0.5)]
    written = plot_comparison([run], ["seed 1"], tmp_path / "plots", x="tokens")
    assert {p.name for p in written} >= {"reward.png", "eval_aime24.png"}
    assert main([str(run_dir), "--x", "tokens", "--out", str(tmp_path / "cli")]) == 0


def test_a_long_legend_makes_the_figure_taller_not_the_axes_smaller(tmp_path: Path) -> None:
    """Labels are override lists that can wrap over lines; the figure grows so the plot keeps its height."""
    import struct

    from openrs.compare.plots import plot_comparison

    run = load_run(make_run(tmp_path / "run", ["train.seed=1"], [0.1, 0.2, 0.3]))

    def height(labels: list[str], out: str) -> int:
        (path,) = [p for p in plot_comparison([run] * len(labels), labels, tmp_path / out) if p.name == "reward.png"]
        return struct.unpack(">II", path.read_bytes()[16:24])[1]  # the PNG header's height

    short = height(["seed 1"], "short")
    long = height(["algorithm.dynamic_sampling=true " * 8] * 6, "long")
    assert long > short + 100


def test_the_guardrails_column_shows_every_action_a_detector_took() -> None:
    """A rollback followed by a stop (the last rollback used up) shows both, not only the stop."""
    firings = [{"detector": "no_signal", "step": 7, "action": "rollback"},
               {"detector": "no_signal", "step": 9, "action": "stop"}]  # fmt: skip
    run = Run(name="rolled", source="run", run_name="rolled", status="stopped", guard=firings)
    assert guard_text(run) == "no_signal@7 rollback then stop x2"
