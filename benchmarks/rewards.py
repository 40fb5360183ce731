"""openrs ``accuracy`` reward vs the original open-rs/open-r1 ``accuracy_reward``: throughput, latency, agreement.

What it measures
----------------
The system under test is ``get_reward("accuracy", timeout_s=..., workers=...)``: verification in a pool of worker
processes with a hard per-item time limit (a worker that overruns is killed), each distinct gold parsed once per
group, identical ``(gold, completion)`` pairs cached in the parent. The baseline is the original reward, written out
below as :func:`baseline_accuracy`: every (completion, gold) pair in turn, in the main thread, the gold parsed again
for every completion, math-verify's own ``signal.alarm`` timeouts (5 s defaults), ``verify(answer, gold)`` (the
original's argument order), an unparseable gold rewarded 1.0 and any exception rewarded 0.0. (The original also
prints a line per failure; this one does not.) Both run in this process, so the baseline also gets the fix that
importing openrs applies to latex2sympy2's antlr parser (percentages) and the filter that drops latex2sympy2's
``equations=True`` deprecation warning.

Workloads:

* **realistic** -- ``--n`` completions (default 512: 64 prompts x 8 generations, one GRPO step). Prompts are drawn
  from ``../shared/data/train`` (beside the checkout): AIME rows with the gold stored as the full solution or the bare
  answer, MATH rows with the bare answer. Each completion is ``<think>`` + the problem's own solution (AIME) padded
  with lines of other AIME solutions to 3-6k characters (``\\boxed`` removed from the reasoning) + ``</think>`` +
  ``<answer>The final answer is $\\boxed{...}$</answer>``, about half with the gold answer and half with a perturbed
  one. Without the data directory (a user's clone) synthetic completions are generated instead (arithmetic reasoning
  lines and a boxed number) and the output says so. Seeded and deterministic.
  openrs runs twice: **cold** (a fresh pool, empty cache) and **warm** (the same inputs again: the parent's verdict
  cache answers). Before the cold run every worker judges one trivial item against another gold (untimed, reported
  as "first parse": latex2sympy2 loads its grammar on a process's first parse), as the baseline runs once after a
  one-item untimed warm-up. Since the baseline skips the completion when it cannot parse the gold, both are also
  timed on just the items whose gold the baseline parses ("same work", openrs in another fresh pool).
* **adversarial** -- single completions against the gold ``$42$``: a power tower, 1 MB of nested braces, a 100k-digit
  number, malformed LaTeX, the empty string, non-UTF-8 junk. Per-item latency is the wall time of a reward call with
  that one completion. openrs: a fresh pool; before every item (untimed) workers killed by the previous item are
  replaced and every worker parses the gold, so the call's time is the item's own (limit ``--timeout-s``); then all
  items once more as one batch in another fresh pool (its gold parse included). Baseline:
  every item in its own subprocess (this script with a hidden flag; imports and a warm-up excluded) capped at
  ``--baseline-cap`` seconds, since a signal alarm cannot interrupt C code (a huge integer power) and one stuck
  item must not stall the benchmark.

Start-up (starting the pool's workers until they are ready) is timed separately and excluded from every throughput.
Verdict counts come from the ``log_metric`` kwarg (``accuracy/*`` metrics), as TRL would log them.

How to run
----------
    . .venv/bin/activate
    python benchmarks/rewards.py [--n 512] [--workers N] [--timeout-s 5] [--baseline-cap 60] [--seed 0]
                                 [--skip-baseline] [--json results.json]

Timings depend on the machine's load; run it on a quiet machine. Nothing is asserted about times.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from math_verify import LatexExtractionConfig, parse, verify

from openrs.rewards import get_reward
from openrs.rewards.correctness import judge_completions
from openrs.rewards.math_verify_utils import COMPLETION_EXTRACTION_CONFIG, Verdict, parse_completion, parse_gold
from openrs.rewards.verify_pool import default_workers, get_pool, shutdown_pools

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "train"
GENERATIONS = 8  # completions per prompt, as in a GRPO step
MIN_CHARS, MAX_CHARS = 3000, 6000
ADVERSARIAL_GOLD = "$42$"  # parses for both the baseline and openrs
REWARD = "accuracy"


# --- the baseline: the original open-rs / open-r1 accuracy_reward ---------------------------------------------------


def baseline_accuracy(completions: Sequence[str], solution: Sequence[str]) -> tuple[list[float], list[bool]]:
    """The original reward, one pair at a time. Returns the rewards and, per item, whether the gold parsed empty."""
    rewards: list[float] = []
    gold_empty: list[bool] = []
    for content, gold in zip(completions, solution, strict=True):
        gold_parsed = parse(gold, extraction_mode="first_match", extraction_config=[LatexExtractionConfig()])
        if not gold_parsed:
            rewards.append(1.0)  # the original's free reward for an unparseable gold
            gold_empty.append(True)
            continue
        gold_empty.append(False)
        try:
            # the recipe's completion config: the same object openrs uses (math_verify_utils documents it)
            answer_parsed = parse(
                content, extraction_config=COMPLETION_EXTRACTION_CONFIG, extraction_mode="first_match"
            )
            rewards.append(float(verify(answer_parsed, gold_parsed)))
        except Exception:
            rewards.append(0.0)
    return rewards, gold_empty


def baseline_warm_up() -> None:
    """One trivial item, untimed: the first parse loads latex2sympy2's grammar."""
    baseline_accuracy(["</think> $\\boxed{1}$"], ["$1$"])


# --- workloads ---------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One completion of the realistic workload."""

    gold: str
    text: str
    final_answer: str  # what the completion boxes at the end
    intended_correct: bool
    source: str


def perturb(answer: str, rng: random.Random) -> str:
    """A wrong answer close to ``answer``: an integer shifted, one digit changed, or ``+1`` appended."""
    stripped = answer.strip()
    if re.fullmatch(r"-?\d+", stripped):
        return str(int(stripped) + rng.choice([-10, -3, -2, -1, 1, 2, 3, 10]))
    digits = [i for i, c in enumerate(stripped) if c.isdigit()]
    if digits:
        i = rng.choice(digits)
        return stripped[:i] + rng.choice([d for d in "0123456789" if d != stripped[i]]) + stripped[i + 1 :]
    return stripped + "+1"


def unboxed(text: str) -> str:
    """Reasoning carries no draft answer box: ``\\boxed{60}`` -> ``{60}``."""
    return text.replace("\\boxed", "").replace("\\fbox", "")


def pad(start: str, lines: Sequence[str], target: int, rng: random.Random) -> str:
    """``start`` followed by random ``lines`` until the text is at least ``target`` (at most ``MAX_CHARS``) long."""
    parts, size = [start] if start else [], len(start)
    for _ in range(10_000):
        if size >= target:
            break
        line = rng.choice(lines)
        if size + len(line) + 1 > MAX_CHARS:
            continue
        parts.append(line)
        size += len(line) + 1
    return "\n".join(parts)


def completion(reasoning: str, final_answer: str) -> str:
    return f"<think>\n{reasoning}\n</think>\n<answer>\nThe final answer is $\\boxed{{{final_answer}}}$.\n</answer>"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def realistic_from_data(n: int, seed: int, data_dir: Path) -> list[Sample]:
    """Completions built from AIME solutions; golds as stored (AIME solution or answer, MATH answer)."""
    rng = random.Random(seed)
    aime = [r for r in load_jsonl(data_dir / "deepscaler_aime.jsonl") if r.get("answer")]
    math_rows = [r for r in load_jsonl(data_dir / "deepscaler_math.jsonl") if r.get("answer")]
    lines = [line for r in aime for line in unboxed(r.get("solution") or "").split("\n") if len(line.strip()) > 20]
    samples: list[Sample] = []
    for prompt in range(math.ceil(n / GENERATIONS)):
        if rng.random() < 0.5:
            row = rng.choice(aime)
            if row.get("solution") and rng.random() < 0.5:
                gold, source = row["solution"], "aime/solution"
            else:
                gold, source = row["answer"], "aime/answer"
            own = unboxed(row.get("solution") or "")
        else:
            row, own = rng.choice(math_rows), ""
            gold, source = row["answer"], "math/answer"
        for _ in range(min(GENERATIONS, n - prompt * GENERATIONS)):
            correct = rng.random() < 0.5
            answer = row["answer"] if correct else perturb(row["answer"], rng)
            reasoning = pad(own[:MAX_CHARS], lines, rng.randint(MIN_CHARS, MAX_CHARS - 200), rng)
            samples.append(Sample(gold, completion(reasoning, answer), answer, correct, source))
    return samples


def realistic_synthetic(n: int, seed: int) -> list[Sample]:
    """Fallback without the data: arithmetic reasoning lines; golds as bare numbers or boxed solution sentences."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    for prompt in range(math.ceil(n / GENERATIONS)):
        value = rng.randint(-999, 9999)
        gold = str(value) if rng.random() < 0.5 else f"Adding everything up gives $\\boxed{{{value}}}$."
        for _ in range(min(GENERATIONS, n - prompt * GENERATIONS)):
            steps, target = [], rng.randint(MIN_CHARS, MAX_CHARS - 200)
            for step in range(1, 10_000):
                a, b = rng.randint(2, 999), rng.randint(2, 999)
                op, result = rng.choice([("+", a + b), ("-", a - b), ("\\times", a * b)])
                steps.append(f"Step {step}: we compute ${a} {op} {b} = {result}$, so far so good.")
                if sum(len(s) + 1 for s in steps) >= target:
                    break
            correct = rng.random() < 0.5
            answer = str(value) if correct else perturb(str(value), rng)
            samples.append(Sample(gold, completion("\n".join(steps), answer), answer, correct, "synthetic"))
    return samples


def adversarial_items(seed: int) -> list[tuple[str, str]]:
    """(name, completion) pairs that are slow, huge or broken."""
    rng = random.Random(seed)
    depth = 500_000 - 4  # `\boxed{` + braces + `1` + `}`: 1 MB
    return [
        ("power tower 9^9^9^9^9", "\\boxed{9^{9^{9^{9^{9}}}}}"),
        ("1 MB nested braces", "\\boxed{" + "{" * depth + "1" + "}" * depth + "}"),
        ("100k-digit number", "\\boxed{" + str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=99_999)) + "}"),
        ("malformed LaTeX", "\\boxed{\\frac{1}{\\sqrt{}}}\\left( \\begin{matrix} ^^_"),
        ("empty string", ""),
        ("non-UTF-8 junk (4 KiB)", bytes(rng.randrange(256) for _ in range(4096)).decode("utf-8", "surrogateescape")),
    ]


# --- measurements ------------------------------------------------------------------------------------------------


class MetricLog:
    """TRL's ``log_metric(name, value)``: sums what the reward reports."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def __call__(self, name: str, value: float) -> None:
        self.values[name] = self.values.get(name, 0.0) + value


@dataclass
class OpenrsRun:
    seconds: float
    rewards: list[float | None]
    metrics: dict[str, float]
    kills: int = 0

    def counts(self) -> dict[str, int]:
        m = self.metrics
        return {
            "correct": sum(1 for r in self.rewards if r == 1.0),
            "wrong": sum(1 for r in self.rewards if r == 0.0),
            "no_answer": int(m.get(f"{REWARD}/no_answer", 0)),
            "timeouts": int(m.get(f"{REWARD}/verify_timeouts", 0)),
            "errors": int(m.get(f"{REWARD}/verify_errors", 0)),
            "unparseable_gold": int(m.get(f"{REWARD}/unparseable_gold", 0)),
        }


def fresh_pool(workers: int) -> float:
    """Drop every pool (and its verdict cache), start a new one with ``workers`` workers; the start-up seconds."""
    shutdown_pools()
    start = time.perf_counter()
    get_pool(workers).warm_up()
    return time.perf_counter() - start


def prime(reward: Callable[..., list[float | None]], workers: int, gold: str, tag: int) -> float:
    """Untimed in the results: one trivial item per worker, so that each has done its first parse (latex2sympy2 loads
    its grammar then) and holds ``gold`` parsed. Distinct texts per ``tag``; returns the seconds it took."""
    start = time.perf_counter()
    reward([f"\\boxed{{{tag * workers + k}}}" for k in range(workers)], solution=[gold] * workers)
    return time.perf_counter() - start


def run_openrs(reward: Callable[..., list[float | None]], texts: Sequence[str], golds: Sequence[str]) -> OpenrsRun:
    log = MetricLog()
    start = time.perf_counter()
    rewards = reward(list(texts), solution=list(golds), log_metric=log)
    return OpenrsRun(time.perf_counter() - start, rewards, log.values)


def run_baseline_item_child(item_path: Path) -> int:
    """Hidden ``--baseline-item``: judge one (gold, completion) with the baseline; print JSON on stdout."""
    baseline_warm_up()
    print("ready", flush=True)
    item = json.loads(item_path.read_text(encoding="utf-8"))
    start = time.perf_counter()
    rewards, _ = baseline_accuracy([item["completion"]], [item["gold"]])
    print(json.dumps({"seconds": time.perf_counter() - start, "reward": rewards[0]}), flush=True)
    return 0


def baseline_item(gold: str, text: str, cap: float, workdir: Path) -> dict[str, Any]:
    """The baseline on one item in a subprocess; the timer (and ``cap``) starts once the child has imported."""
    item_path, err_path = workdir / "item.json", workdir / "stderr.txt"
    item_path.write_text(json.dumps({"gold": gold, "completion": text}), encoding="utf-8")  # escapes surrogates
    cmd = [sys.executable, os.path.abspath(__file__), "--baseline-item", str(item_path)]
    with err_path.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        proc.stdout.readline()  # "ready" (or EOF if it died importing)
        start = time.perf_counter()
        try:
            proc.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return {"seconds": None, "capped": True, "outer_s": time.perf_counter() - start, "reward": None}
        outer = time.perf_counter() - start
        lines = proc.stdout.read().splitlines()
    if proc.returncode != 0 or not lines:
        tail = err_path.read_text(errors="replace")[-300:]
        crash = {"crash": proc.returncode, "err": tail}
        return {"seconds": outer, "capped": False, "outer_s": outer, "reward": None, **crash}
    result = json.loads(lines[-1])
    return {"seconds": result["seconds"], "capped": False, "outer_s": outer, "reward": result["reward"]}


# --- reporting ---------------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    out = {}
    for name in ("math-verify", "sympy", "latex2sympy2_extended", "antlr4-python3-runtime"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def rate(count: int, seconds: float | None) -> float | None:
    return None if not seconds else count / seconds


def fmt(value: float | None, digits: int = 2, none: str = "n/a") -> str:
    return none if value is None else f"{value:.{digits}f}"


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}" if value < 10_000 else f"{value:.3g}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def short(text: str, limit: int = 70) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def final_section(text: str) -> str:
    return text.rpartition("</think>")[2]


def classify_disagreements(
    samples: Sequence[Sample], ours: Sequence[float | None], base: Sequence[float], base_gold_empty: Sequence[bool]
) -> tuple[dict[str, int], list[int]]:
    counts = {"total": 0, "baseline_unparseable_gold": 0, "openrs_unparseable_gold": 0, "other": 0}
    others: list[int] = []
    for i, (o, b) in enumerate(zip(ours, base, strict=True)):
        if o == b:
            continue
        counts["total"] += 1
        if base_gold_empty[i]:
            counts["baseline_unparseable_gold"] += 1
        elif o is None:
            counts["openrs_unparseable_gold"] += 1
        else:
            counts["other"] += 1
            others.append(i)
    return counts, others


def describe_other(sample: Sample, ours: float | None, base: float, verdict: Verdict) -> list[str]:
    """One disagreement, with what each side parsed (computed here, untimed)."""
    base_gold = parse(sample.gold, extraction_mode="first_match", extraction_config=[LatexExtractionConfig()])
    base_answer = parse(sample.text, extraction_config=COMPLETION_EXTRACTION_CONFIG, extraction_mode="first_match")
    return [
        f"  [{sample.source}] openrs {ours} ({verdict.name}) vs baseline {base}; intended "
        f"{'correct' if sample.intended_correct else 'wrong'}",
        f"    gold: {short(sample.gold, 100)!r}",
        f"    final answer: {short(sample.final_answer, 100)!r}",
        f"    openrs parsed gold {short(repr(parse_gold(sample.gold)), 80)} answer "
        f"{short(repr(parse_completion(sample.text)), 80)}",
        f"    baseline parsed gold {short(repr(base_gold), 80)} answer {short(repr(base_answer), 80)}",
    ]


def latency_summary(latencies: Sequence[float | None], cap: float = math.inf) -> dict[str, Any]:
    """Worst, p50 (the higher middle value) and items/s of per-item seconds; ``None`` is "over the cap" (infinite).

    With capped items ``items_per_s`` is None and ``items_per_s_at_most`` an upper bound (capped items count as
    ``cap`` seconds).
    """
    values = sorted(math.inf if s is None else s for s in latencies)
    capped = sum(1 for s in latencies if s is None)
    at_most = sum(min(v, cap) for v in values)
    return {
        "worst_s": values[-1],
        "p50_s": values[len(values) // 2],
        "capped": capped,
        "items_per_s": len(values) / at_most if not capped and at_most else None,
        "items_per_s_at_most": len(values) / at_most if capped and at_most else None,
    }


def finite(obj: Any) -> Any:
    """``obj`` with infinite floats (items over the cap) as ``None``, for strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def fmt_latency(value: float | None, cap: float) -> str:
    if value is None:
        return "n/a"
    return f"> {cap:g}" if math.isinf(value) else f"{value:.3f}"


# --- main --------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=512, help="completions of the realistic workload (default 512)")
    parser.add_argument("--workers", type=int, default=None, help="openrs workers (default: default_workers())")
    parser.add_argument("--timeout-s", type=float, default=5.0, help="openrs per-item limit (default 5)")
    parser.add_argument(
        "--baseline-cap", type=float, default=60.0, help="outer cap per baseline adversarial item, s (default 60)"
    )
    parser.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure openrs only")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"training data (default {DATA_DIR})")
    parser.add_argument("--json", type=Path, default=None, help="also write every number as JSON here")
    parser.add_argument("--baseline-item", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n < 1 or args.timeout_s <= 0 or args.baseline_cap <= 0 or (args.workers is not None and args.workers < 1):
        parser.error("--n and --workers must be >= 1, --timeout-s and --baseline-cap > 0")
    return args


def realistic(args: argparse.Namespace, workers: int, result: dict[str, Any]) -> None:
    if (args.data_dir / "deepscaler_aime.jsonl").is_file() and (args.data_dir / "deepscaler_math.jsonl").is_file():
        samples, origin = realistic_from_data(args.n, args.seed, args.data_dir), f"real data from {args.data_dir}"
    else:
        samples, origin = realistic_synthetic(args.n, args.seed), f"SYNTHETIC ({args.data_dir} not found)"
    texts, golds = [s.text for s in samples], [s.gold for s in samples]
    lengths = sorted(len(t) for t in texts)
    sources = {src: sum(1 for s in samples if s.source == src) for src in sorted({s.source for s in samples})}
    print(f"\n== realistic: {len(samples)} completions, {len(set(golds))} distinct golds, {origin}")
    print(
        f"   chars min/median/max {lengths[0]}/{lengths[len(lengths) // 2]}/{lengths[-1]}; "
        f"intended correct {sum(s.intended_correct for s in samples)}; golds by source {sources}",
        flush=True,
    )
    reward = get_reward(REWARD, timeout_s=args.timeout_s, workers=workers)
    startup = fresh_pool(workers)
    first_parse = prime(reward, workers, "$1$", 0)  # another gold: the workload's verdicts are not cached
    cold = run_openrs(reward, texts, golds)
    cold.kills = get_pool(workers).kills
    warm = run_openrs(reward, texts, golds)
    verdicts = judge_completions(texts, golds, REWARD, timeout_s=args.timeout_s, workers=workers)  # cached: per item
    data: dict[str, Any] = {
        "n": len(samples),
        "origin": origin,
        "distinct_golds": len(set(golds)),
        "sources": sources,
        "startup_s": startup,
        "first_parse_s": first_parse,
        "openrs_cold": {"seconds": cold.seconds, "per_s": rate(len(texts), cold.seconds), **cold.counts()},
        "openrs_warm": {"seconds": warm.seconds, "per_s": rate(len(texts), warm.seconds), **warm.counts()},
        "openrs_kills": cold.kills,
    }
    # sanity: each completion was built correct (the gold's answer) or wrong (a perturbed one)
    off = [i for i, r in enumerate(cold.rewards) if r is not None and (r == 1.0) != samples[i].intended_correct]
    distinct_off: dict[tuple[str, str], int] = {}
    for i in off:
        distinct_off.setdefault((samples[i].gold, samples[i].final_answer), i)
    data["openrs_vs_construction"] = {
        "judged": sum(1 for r in cold.rewards if r is not None),
        "differs": len(off),
        "examples": [
            {"gold": samples[i].gold[-300:], "final_answer": samples[i].final_answer,
             "intended_correct": samples[i].intended_correct, "verdict": verdicts[i].name}
            for i in distinct_off.values()
        ],
    }  # fmt: skip
    base_rewards: list[float] | None = None
    if not args.skip_baseline:
        baseline_warm_up()
        start = time.perf_counter()
        base_rewards, base_gold_empty = baseline_accuracy(texts, golds)
        base_s = time.perf_counter() - start
        data["baseline"] = {
            "seconds": base_s,
            "per_s": rate(len(texts), base_s),
            "rewarded_1": sum(1 for r in base_rewards if r == 1.0),
            "rewarded_0": sum(1 for r in base_rewards if r == 0.0),
            "unparseable_gold": sum(base_gold_empty),
        }
        data["ratio_cold"] = ratio(data["openrs_cold"]["per_s"], data["baseline"]["per_s"])
        data["ratio_warm"] = ratio(data["openrs_warm"]["per_s"], data["baseline"]["per_s"])
        disagreements, others = classify_disagreements(samples, cold.rewards, base_rewards, base_gold_empty)
        data["disagreements"] = disagreements
        judged = [i for i, empty in enumerate(base_gold_empty) if not empty]
        if judged:  # the baseline skips the completion when the gold is unparseable: compare on the same work too
            sub_texts, sub_golds = [texts[i] for i in judged], [golds[i] for i in judged]
            base_off = [i for i in judged if (base_rewards[i] == 1.0) != samples[i].intended_correct]
            data["baseline_vs_construction"] = {"judged": len(judged), "differs": len(base_off)}
            data["same_work_startup_s"] = fresh_pool(workers)
            prime(reward, workers, "$1$", 1)
            sub = run_openrs(reward, sub_texts, sub_golds)
            start = time.perf_counter()
            baseline_accuracy(sub_texts, sub_golds)
            sub_base_s = time.perf_counter() - start
            data["same_work"] = {
                "n": len(judged),
                "openrs_seconds": sub.seconds,
                "openrs_per_s": rate(len(judged), sub.seconds),
                "baseline_seconds": sub_base_s,
                "baseline_per_s": rate(len(judged), sub_base_s),
                "ratio": ratio(rate(len(judged), sub.seconds), rate(len(judged), sub_base_s)),
            }
        data["other_examples"] = [
            {"index": i, "gold": samples[i].gold[:300], "final_answer": samples[i].final_answer,
             "openrs": cold.rewards[i], "verdict": verdicts[i].name, "baseline": base_rewards[i]}
            for i in others
        ]  # fmt: skip
    result["realistic"] = data

    base = data.get("baseline", {})
    print(
        f"   openrs pool start-up ({workers} workers) {startup:.2f} s + first parse in each worker "
        f"{data['first_parse_s']:.2f} s, both untimed below"
    )
    print(f"   {'':24}{'wall s':>9}{'compl/s':>10}{'ratio':>8}  verdicts (wrong = all 0.0, incl. the next three)")
    for label, run in (("openrs cold", data["openrs_cold"]), ("openrs warm (cache)", data["openrs_warm"])):
        counts = " ".join(f"{k}={run[k]}" for k in ("correct", "wrong", "no_answer", "timeouts", "errors"))
        counts += f" unparseable_gold={run['unparseable_gold']}"
        r = ratio(run["per_s"], base.get("per_s"))
        print(f"   {label:<24}{run['seconds']:>9.2f}{fmt_rate(run['per_s']):>10}{fmt(r):>8}  {counts}")
    if base:
        print(
            f"   {'baseline (sequential)':<24}{base['seconds']:>9.2f}{fmt_rate(base['per_s']):>10}{'1.00':>8}  "
            f"rewarded 1.0={base['rewarded_1']} 0.0={base['rewarded_0']} (gold unparseable -> 1.0: "
            f"{base['unparseable_gold']})"
        )
        if "same_work" in data:
            w = data["same_work"]
            print(
                f"   same work, the {w['n']} items whose gold the baseline parses (fresh pool): openrs "
                f"{w['openrs_seconds']:.2f} s ({fmt_rate(w['openrs_per_s'])}/s), "
                f"baseline {w['baseline_seconds']:.2f} s ({fmt_rate(w['baseline_per_s'])}/s), ratio {fmt(w['ratio'])}"
            )
        d = data["disagreements"]
        print(
            f"   disagreements openrs cold vs baseline: {d['total']} = baseline unparseable gold (1.0) "
            f"{d['baseline_unparseable_gold']} + openrs unparseable gold (None) {d['openrs_unparseable_gold']} "
            f"+ other {d['other']}"
        )
        for example in data["other_examples"][:5]:
            i = example["index"]
            print("\n".join(describe_other(samples[i], cold.rewards[i], base_rewards[i], verdicts[i])))
    c = data["openrs_vs_construction"]
    line = f"   judged unlike built (correct/perturbed answer): openrs {c['differs']} of {c['judged']}"
    if "baseline_vs_construction" in data:
        bc = data["baseline_vs_construction"]
        line += f", baseline {bc['differs']} of {bc['judged']} with a parsed gold"
    print(line + (f"; openrs's {len(c['examples'])} distinct (gold, answer) pairs:" if c["examples"] else ""))
    for example in c["examples"][:5]:
        print(
            f"    built {'correct' if example['intended_correct'] else 'wrong'}, openrs {example['verdict']}: "
            f"gold ...{short(example['gold'][-60:], 60)!r} final answer {short(example['final_answer'], 60)!r}"
        )
    if data["openrs_kills"]:
        print(f"   note: {data['openrs_kills']} openrs worker(s) killed for overrunning on the realistic workload")


def adversarial(args: argparse.Namespace, workers: int, result: dict[str, Any]) -> None:
    items = adversarial_items(args.seed)
    print(f"\n== adversarial: {len(items)} single completions vs gold {ADVERSARIAL_GOLD!r}", flush=True)
    reward = get_reward(REWARD, timeout_s=args.timeout_s, workers=workers)
    startup = fresh_pool(workers)
    pool = get_pool(workers)
    rows: list[dict[str, Any]] = []
    for name, text in items:
        pool.warm_up()  # replace a worker killed by the previous item, untimed
        prime(reward, workers, ADVERSARIAL_GOLD, len(rows))  # every worker parses the gold now, untimed
        kills = pool.kills
        run = run_openrs(reward, [text], [ADVERSARIAL_GOLD])
        labels = {"no_answer": "no answer", "timeouts": "TIMEOUT", "errors": "ERROR", "unparseable_gold": "gold?"}
        verdict = next((label for k, label in labels.items() if run.counts()[k]), None)
        verdict = verdict or ("correct" if run.rewards[0] == 1.0 else "wrong")
        row = {
            "item": name,
            "chars": len(text),
            "openrs_s": run.seconds,
            "openrs_verdict": verdict,
            "openrs_reward": run.rewards[0],
            "openrs_killed": pool.kills - kills,
        }
        if not args.skip_baseline:
            with tempfile.TemporaryDirectory(prefix="openrs-bench-rewards-") as tmp:
                b = baseline_item(ADVERSARIAL_GOLD, text, args.baseline_cap, Path(tmp))
            row.update(baseline_s=b["seconds"], baseline_reward=b["reward"], baseline_capped=b["capped"])
            if "crash" in b:
                row.update(baseline_crash=b["crash"], baseline_err=b["err"])
        rows.append(row)
        base_text = ""
        if not args.skip_baseline:
            seconds = math.inf if row["baseline_capped"] else row["baseline_s"]
            base_text = f"  baseline {fmt_latency(seconds, args.baseline_cap)} s reward {row['baseline_reward']}"
            if "baseline_crash" in row:
                base_text += f" CRASHED rc={row['baseline_crash']}"
        print(
            f"   {name:<24} openrs {run.seconds:7.3f} s {verdict}"
            + (" (worker killed)" if row["openrs_killed"] else "")
            + base_text,
            flush=True,
        )
    # the same items as one batch, in a fresh pool (no cached verdicts)
    startup2 = fresh_pool(workers)
    batch = run_openrs(reward, [t for _, t in items], [ADVERSARIAL_GOLD] * len(items))
    data: dict[str, Any] = {
        "gold": ADVERSARIAL_GOLD,
        "startup_s": [startup, startup2],
        "items": rows,
        "openrs": latency_summary([r["openrs_s"] for r in rows]),
        "openrs_batch": {"seconds": batch.seconds, "kills": get_pool(workers).kills, **batch.counts()},
        "over_limit": [r["item"] for r in rows if r["openrs_s"] > args.timeout_s],
    }
    if not args.skip_baseline:
        data["baseline"] = latency_summary(
            [None if r["baseline_capped"] else r["baseline_s"] for r in rows], args.baseline_cap
        )
        data["ratio"] = ratio(data["openrs"]["items_per_s"], data["baseline"]["items_per_s"])
        data["ratio_at_least"] = ratio(data["openrs"]["items_per_s"], data["baseline"]["items_per_s_at_most"])
    result["adversarial"] = data

    o, b = data["openrs"], data.get("baseline")
    cap = args.baseline_cap
    adv_ratio = f">{data['ratio_at_least']:.2f}" if data.get("ratio_at_least") else fmt(data.get("ratio"))
    print(f"   openrs pool start-ups (untimed): {startup:.2f} s, {startup2:.2f} s")
    print(f"   {'':24}{'worst s':>9}{'p50 s':>9}{'items/s':>9}{'ratio':>8}")
    print(f"   {'openrs':<24}{o['worst_s']:>9.3f}{o['p50_s']:>9.3f}{fmt(o['items_per_s']):>9}{adv_ratio:>8}")
    if b:
        per_s = fmt(b["items_per_s"]) if not b["capped"] else f"<{b['items_per_s_at_most']:.2f}"
        worst, p50 = fmt_latency(b["worst_s"], cap), fmt_latency(b["p50_s"], cap)
        print(f"   {'baseline':<24}{worst:>9}{p50:>9}{per_s:>9}{'1.00':>8}")
        if b["capped"]:
            print(f"   ({b['capped']} baseline item(s) over the {cap:g} s cap, killed, counted as {cap:g} s)")
    bt = data["openrs_batch"]
    print(
        f"   openrs, all {len(items)} items in one call: {bt['seconds']:.2f} s, {bt['kills']} worker(s) killed, "
        + " ".join(f"{k}={bt[k]}" for k in ("correct", "wrong", "no_answer", "timeouts", "errors"))
    )
    if data["over_limit"]:
        print(f"   NOTE: openrs took longer than --timeout-s {args.timeout_s:g} s on: {', '.join(data['over_limit'])}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.baseline_item is not None:
        return run_baseline_item_child(args.baseline_item)
    workers = args.workers if args.workers is not None else default_workers()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    meta = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "usable_cpus": usable,
        "loadavg_start": os.getloadavg(),
        "versions": versions(),
        "workers": workers,
        "timeout_s": args.timeout_s,
        "baseline_cap_s": args.baseline_cap,
        "seed": args.seed,
    }
    print(f"command: {meta['command']}")
    print(
        f"python {meta['python']}, {meta['cpus']} CPUs ({usable} usable), load average "
        f"{' '.join(f'{x:.2f}' for x in meta['loadavg_start'])}; "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    )
    print(
        f"openrs: workers={workers} timeout_s={args.timeout_s:g}; baseline cap {args.baseline_cap:g} s; "
        f"seed {args.seed}"
    )
    result: dict[str, Any] = {"meta": meta}
    try:
        realistic(args, workers, result)
        adversarial(args, workers, result)
    finally:
        shutdown_pools()
    meta["loadavg_end"] = os.getloadavg()
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in meta['loadavg_end'])}")
    if args.json:
        text = json.dumps(finite(result), indent=2, default=str, allow_nan=False)
        args.json.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
