"""Curation speed: rows/s of every step on ~40k problems, and ratios against naive baselines in the same process.

Data: the team's raw sets in ``../shared/data/train`` (8,449 AIME + MATH problems, beside the checkout), grown to about
40k rows by adding four variants of every row -- a fifth of them whitespace/case copies (exact duplicates after
normalisation), the rest the same text with every number changed (different problems that share most of their
text, the hard case for near-duplicate detection). Benchmarks for decontamination: ``../shared/data/eval``.

Each step runs on the full set (difficulty: a sample, with the tiny model on CPU; and the whole set through
``reuse_existing``). Baselines, on a sample small enough for them:

* dedupe -- all pairs, exact Jaccard of the same shingles, greedy in input order (what MinHash-LSH avoids);
* decontaminate -- every row against every benchmark problem, same n-gram sets (what the inverted index avoids);
* verifiable -- every gold parsed in this process, one after another, repeats included (what the pool avoids).

    python benchmarks/curate.py [--copies 4] [--baseline-rows 2000] [--difficulty-rows 128] [--json out.json]

Nothing is asserted about times; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from openrs.benchmarks import BENCHMARKS, load_benchmark  # noqa: E402
from openrs.data.curation.decontaminate import decontaminate, ngrams, tokenize  # noqa: E402
from openrs.data.curation.dedupe import dedupe, jaccard, normalize_problem, numbers, shingles  # noqa: E402
from openrs.data.curation.difficulty import difficulty  # noqa: E402
from openrs.data.curation.mix import mix  # noqa: E402
from openrs.data.curation.normalize import normalize  # noqa: E402
from openrs.data.curation.verifiable import verifiable  # noqa: E402
from openrs.rewards.math_verify_utils import parse_gold  # noqa: E402
from openrs.rewards.verify_pool import default_workers, get_pool  # noqa: E402

DIGITS = re.compile(r"\d+")


def load_rows(data_dir: Path, copies: int, seed: int) -> list[dict[str, Any]]:
    base = []
    for path in sorted(data_dir.glob("*.jsonl")):
        source = path.stem
        for line in path.read_text().splitlines():
            record = json.loads(line)
            base.append({**record, "id": str(record["id"]), "source": source})
    rng = random.Random(seed)
    rows = list(base)
    for copy in range(1, copies + 1):
        for row in base:
            if rng.random() < 0.2:
                problem = "  " + row["problem"].upper() + " "  # an exact duplicate after normalisation
            else:
                problem = DIGITS.sub(lambda m, shift=copy: str(int(m.group()) + shift), row["problem"])
            rows.append({**row, "id": f"{row['id']}~{copy}", "problem": problem})
    return rows


def timed(func, *args, **kwargs) -> tuple[Any, float]:
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started


def naive_dedupe(rows: list[dict[str, Any]], threshold: float = 0.9, ngram: int = 5) -> int:
    kept: list[tuple[frozenset[str], list[str], str]] = []
    removed = 0
    for row in rows:
        key = normalize_problem(row["problem"])
        grams, nums = shingles(key, ngram), numbers(key)
        if any(k == key or (jaccard(grams, g) >= threshold and n == nums) for g, n, k in kept):
            removed += 1
        else:
            kept.append((grams, nums, key))
    return removed


def naive_decontaminate(
    rows: list[dict[str, Any]], bench: dict[str, list[dict]], n: int = 8, threshold: float = 0.5
) -> int:
    bench_grams = [ngrams(tokenize(b["problem"]), n) for rows_ in bench.values() for b in rows_]
    hits = 0
    for row in rows:
        grams = ngrams(tokenize(row["problem"]), n)
        for other in bench_grams:
            if grams and other and len(grams & other) / min(len(grams), len(other)) >= threshold:
                hits += 1
                break
    return hits


def naive_verifiable(rows: list[dict[str, Any]]) -> int:
    return sum(1 for row in rows if row.get("answer") and parse_gold(row["answer"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "train")
    parser.add_argument("--eval-dir", type=Path, default=REPO.parent / "shared" / "data" / "eval")
    parser.add_argument("--copies", type=int, default=4, help="variants added per real row (4: about 42k rows)")
    parser.add_argument("--baseline-rows", type=int, default=2000)
    parser.add_argument("--difficulty-rows", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"no data at {args.data_dir}: this benchmark needs the team's ../shared/data (see docs/DATA.md)")
        return 1
    workers = default_workers()
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"{os.cpu_count()} CPUs, {workers} verification workers, load average {os.getloadavg()}")
    rows = load_rows(args.data_dir, args.copies, args.seed)
    bench = {name: load_benchmark(name, str(args.eval_dir)) for name in BENCHMARKS}
    print(f"{len(rows)} rows ({args.copies} variants per real row); {sum(map(len, bench.values()))} benchmark problems")
    get_pool(workers).warm_up()
    results: dict[str, Any] = {"rows": len(rows), "workers": workers, "steps": {}}

    def record(name: str, rows_in: int, seconds: float, rows_out: int, **extra: Any) -> None:
        results["steps"][name] = {"rows_in": rows_in, "rows_out": rows_out, "seconds": seconds, **extra}
        print(f"  {name:<24} {rows_in:>7} -> {rows_out:<7} {seconds:8.2f} s  {rows_in / seconds:>10.0f} rows/s")

    print("openrs steps on the full set:")
    out, seconds = timed(normalize, rows)
    record("normalize", len(rows), seconds, len(out.rows))
    out, seconds = timed(dedupe, out.rows)
    record("dedupe", len(rows), seconds, len(out.rows), removed=dict(out.extra, examples=None))
    deduped = out.rows
    out, seconds = timed(verifiable, deduped, workers=workers)
    record("verifiable", len(deduped), seconds, len(out.rows))
    verified = out.rows
    out, seconds = timed(decontaminate, verified, benchmarks=bench)
    record("decontaminate", len(verified), seconds, len(out.rows), per_benchmark=out.extra["per_benchmark"])
    clean = out.rows
    sample = clean[: args.difficulty_rows]
    out, seconds = timed(difficulty, sample, model="openrs-tiny", k=2, max_new_tokens=32, verify_workers=workers)
    record("difficulty (tiny, k=2)", len(sample), seconds, len(out.rows), tokens_per_s=out.extra.get("tokens_per_s"))
    rated = [{**row, "pass_rate": random.Random(i).random()} for i, row in enumerate(clean)]
    out, seconds = timed(difficulty, rated, model="unused", band=[0.2, 0.8])
    record("difficulty (reuse rates)", len(rated), seconds, len(out.rows))
    draws = [
        {"source": "deepscaler_aime", "count": 1000},
        {"source": "deepscaler_math", "count": 3000, "band": [0.5, 1]},
    ]
    out, seconds = timed(mix, out.rows, draws=draws, seed=0)
    record("mix", len(rated) and len(out.rows) + len(out.removed), seconds, len(out.rows))

    print(f"naive baselines on the first {args.baseline_rows} rows (openrs on the same rows):")
    part = rows[: args.baseline_rows]
    comparisons = {}
    differing: list[str] = []
    for name, ours, naive in (
        ("dedupe", lambda: len(dedupe(part).removed), lambda: naive_dedupe(part)),
        (
            "decontaminate",
            lambda: len(decontaminate(part, benchmarks=bench).removed),
            lambda: naive_decontaminate(part, bench),
        ),
        ("verifiable", lambda: len(verifiable(part, workers=workers).rows), lambda: naive_verifiable(part)),
    ):
        our_result, our_s = timed(ours)
        naive_result, naive_s = timed(naive)
        comparisons[name] = {"openrs_s": our_s, "naive_s": naive_s, "openrs_result": our_result,
                             "naive_result": naive_result,
                             "speedup": naive_s / our_s if our_result == naive_result else None}  # fmt: skip
        if our_result == naive_result:
            speed = f"speed-up {naive_s / our_s:6.1f}x  (same result: {our_result})"
        else:  # the premise fails: a ratio between two different computations measures nothing
            differing.append(name)
            speed = f"NO SPEED-UP: results differ (openrs {our_result}, naive {naive_result})"
        print(f"  {name:<14} openrs {our_s:7.2f} s  naive {naive_s:7.2f} s  {speed}")
    results["baselines"] = comparisons
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
