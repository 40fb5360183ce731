"""Evaluation speed.

**Scoring (any machine):** k completions per problem for Table 2's five benchmarks (``../shared/data/eval``: 1,517
problems), each a few thousand characters of reasoning ending in the lighteval answer line, half with the gold answer
and half with a wrong one. openrs scores them in the verification pool (each benchmark's gold scheme, each gold parsed
once per worker, identical completions once); the baseline does what lighteval's extractive-match metric does for
each sample, in turn, in the main thread: parse the gold, parse the prediction, verify, with math-verify's signal
timeouts. Printed: completions/s of both, the ratio, and whether the verdicts agree.

**Generation (GPU machine, ``--generate MODEL``):** evaluates ``MODEL`` with ``eval=paper`` (or ``--preset``) through
openrs (vLLM, every benchmark's prompts in large batched calls, one model load) and prints the wall time and tokens/s
per run from ``results.json``. Not run on the 2-core CPU box of this repository's CI.

    python benchmarks/eval.py [--k 4] [--workers N] [--json out.json]
    python benchmarks/eval.py --generate deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --preset paper
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from math_verify import parse, verify  # noqa: E402

from openrs.benchmarks import load_benchmark  # noqa: E402
from openrs.evaluation.scoring import score_records  # noqa: E402
from openrs.evaluation.tasks import Item, scheme_for  # noqa: E402
from openrs.rewards.math_verify_utils import SCHEMES, parse_gold  # noqa: E402
from openrs.rewards.verify_pool import default_workers, get_pool  # noqa: E402

TABLE2 = ("aime24", "math500", "amc23", "minerva", "olympiadbench")
FINAL = "Therefore, the final answer is: $\\boxed{{{}}}$. I hope it is correct"
FILLER = [
    "Let me reconsider the constraint and rewrite the expression in a simpler form.",
    "Substituting the values back, the two sides agree, so the algebra is consistent.",
    "We can factor the quadratic and check both roots against the original condition.",
    "Wait, I should double-check the case where the variable is negative.",
]


def build(k: int, eval_dir: Path, seed: int) -> tuple[list[Item], list[dict]]:
    rng = random.Random(seed)
    items, records = [], []
    for name in TABLE2:
        for row in load_benchmark(name, str(eval_dir)):
            gold = row.get("answer") or row.get("solution")
            items.append(Item(name, str(row["id"]), row["problem"], gold, scheme_for(name, "paper")))
            answer = str(row.get("answer") or "0")
            for sample in range(k):
                reasoning = " ".join(rng.choice(FILLER) for _ in range(rng.randint(30, 60)))
                final = answer if sample % 2 == 0 else f"{answer}+1"
                records.append({"benchmark": name, "id": str(row["id"]), "sample": sample, "seed": 0,
                                "completion": f"{reasoning}\n</think>\n{FINAL.format(final)}"})  # fmt: skip
    return items, records


def baseline(items: dict[tuple[str, str], Item], records: list[dict]) -> list[bool]:
    """lighteval's extractive match per sample: gold and prediction parsed every time, signal timeouts. (The gold
    goes through openrs's gold parser, which reads bare answers as LaTeX: lighteval's MATH tasks parse a full solution
    with a box, which these benchmark files do not hold.)"""
    verdicts = []
    for record in records:
        item = items[(record["benchmark"], record["id"])]
        scheme = SCHEMES[item.scheme]
        try:
            gold = parse_gold(item.gold, scheme)
            pred = parse(record["completion"], extraction_config=list(scheme.completion_config),
                         extraction_mode="first_match")  # fmt: skip
            verdicts.append(bool(gold and pred and verify(gold, pred, float_rounding=scheme.float_rounding)))
        except Exception:
            verdicts.append(False)
    return verdicts


def generate(model: str, preset: str) -> int:
    command = [sys.executable, "-m", "openrs.evaluate", f"eval={preset}", f"model.name_or_path={model}"]
    out = REPO / "outputs" / "bench-eval" / time.strftime("%Y%m%d-%H%M%S")
    started = time.perf_counter()
    code = subprocess.run([*command, f"output_dir={out}"], check=False).returncode
    if code == 0:
        results = json.loads((out / "results.json").read_text())
        wall = time.perf_counter() - started
        print(f"{' '.join(command)}: wall {wall:.0f} s (evaluation {results['wall_time_s']} s), "
              f"{results['tokens_per_s']:.0f} tokens/s")  # fmt: skip
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=REPO.parent / "shared" / "data" / "eval")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--generate", metavar="MODEL", help="GPU: time a real evaluation of MODEL instead")
    parser.add_argument("--preset", default="paper")
    args = parser.parse_args(argv)
    if args.generate:
        return generate(args.generate, args.preset)
    if not args.eval_dir.is_dir():
        print(f"no benchmark files at {args.eval_dir} (the team's ../shared/data/eval)")
        return 1
    workers = args.workers or default_workers()
    items, records = build(args.k, args.eval_dir, args.seed)
    by_key = {(item.benchmark, item.id): item for item in items}
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    chars = sum(len(r["completion"]) for r in records) // len(records)
    print(f"{os.cpu_count()} CPUs, {workers} workers, load {os.getloadavg()}; {len(items)} problems x k={args.k} = "
          f"{len(records)} completions of {chars} chars on average")  # fmt: skip
    get_pool(workers).warm_up()
    started = time.perf_counter()
    scored = score_records([dict(r) for r in records], by_key, timeout_s=5.0, workers=workers)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    base = baseline(by_key, records)
    theirs = time.perf_counter() - started
    agree = sum(bool(r["correct"]) == b for r, b in zip(scored, base, strict=True))
    disagreements = [(r, b) for r, b in zip(scored, base, strict=True) if bool(r["correct"]) != b]
    for record, theirs_verdict in disagreements[:3]:
        print(f"  disagreement: {record['benchmark']}/{record['id']} gold {record['gold']!r}: openrs "
              f"{record['verdict']}, baseline {theirs_verdict}")  # fmt: skip
    print(f"openrs   {ours:8.2f} s  {len(records) / ours:8.1f} completions/s")
    print(f"baseline {theirs:8.2f} s  {len(records) / theirs:8.1f} completions/s   openrs / baseline speed: "
          f"{theirs / ours:.2f}x; verdicts agree on {agree} of {len(records)}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"completions": len(records), "openrs_s": ours, "baseline_s": theirs,
                                         "agree": agree, "workers": workers}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
