"""The CPU study with a real model: `+experiment=smollm2_arith` over seeds (and settings), each run alone.

Each run is the user's one command (evaluation before, GRPO, evaluation after, the paired comparison), timed from
launch to exit. Printed per run: wall time, held-out pass@1 before and after, the paired difference with its 95%
interval; then `python -m openrs.compare` over the runs writes the table and the accuracy and length curves (PNG)
into --out.

    python benchmarks/smollm2_study.py --seeds 0 1 2 --out benchmarks/smollm2_study
    python benchmarks/smollm2_study.py --seeds 0 1 2 --setting lr5e-5=optimizer.learning_rate=5e-5 ...

A setting is `label=override[,override...]`; without --setting the recipe runs as shipped. Runs go under
outputs/smollm2_study/<label>/seed<N>; a finished one is reused (delete it to run again). `--jobs 2` runs two at a
time with one torch thread each: the accuracies stand, the wall times do not (the table marks them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run_one(label: str, overrides: list[str], seed: int, root: Path, jobs: int = 1) -> dict:
    run_dir = root / label / f"seed{seed}"
    summary_path = run_dir / "summary.json"
    if not (summary_path.exists() and json.loads(summary_path.read_text()).get("eval", {}).get("comparison")):
        command = [sys.executable, "-m", "openrs", "+experiment=smollm2_arith", "logger=none",
                   f"train.seed={seed}", f"hydra.run.dir={run_dir}", *overrides]  # fmt: skip
        print("$", " ".join(command[1:]), flush=True)
        env = dict(os.environ, OMP_NUM_THREADS="1") if jobs > 1 else None
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        alone = "alone" if jobs == 1 else f"{jobs} at a time"
        (run_dir / "wall_s.txt").write_text(f"{time.perf_counter() - start:.1f} {alone}\n")
    summary = json.loads(summary_path.read_text())
    comparison = summary["eval"]["comparison"]
    wall = (run_dir / "wall_s.txt").read_text().split(maxsplit=1) if (run_dir / "wall_s.txt").exists() else None
    return {
        "label": label, "seed": seed, "dir": str(run_dir),
        "wall_s": float(wall[0]) if wall else None, "timed": wall[1].strip() if wall else None,
        "train_s": summary["wall_time_s"],
        "before": comparison["pass@1_a"], "after": comparison["pass@1_b"],
        "difference": comparison["difference"], "ci": comparison["ci"],
        "excludes_zero": comparison["distinguishable"],
    }  # fmt: skip


def compare_settings(rows: list[dict], first: str, second: str) -> dict:
    """The final models of two settings on the held-out problems, paired by problem, each seed's samples pooled."""
    from openrs.evaluation.runner import per_problem
    from openrs.evaluation.stats import paired_comparison

    pooled: dict[str, dict[str, list[bool]]] = {first: {}, second: {}}
    for row in rows:
        if row["label"] in pooled:
            for problem, flags in per_problem(Path(row["dir"]) / "eval" / "smollm2_arith" / "final").items():
                pooled[row["label"]].setdefault(problem, []).extend(flags)
    return paired_comparison(pooled[first], pooled[second], names=(first, second))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (each with one torch thread when > 1)")
    parser.add_argument("--setting", action="append", default=[], help="label=override[,override...]")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "smollm2_study" / "compare")
    parser.add_argument("--root", type=Path, default=REPO / "outputs" / "smollm2_study")
    args = parser.parse_args()
    settings = [(label, [o for o in overrides.split(",") if o]) for label, _, overrides in
                (text.partition("=") for text in args.setting)] or [("recipe", [])]  # fmt: skip
    runs = [(label, overrides, seed) for label, overrides in settings for seed in args.seeds]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(lambda run: run_one(*run, args.root, args.jobs), runs))
    print("\n| setting | seed | wall (min) | training (min) | before | after | difference [95% CI] |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        wall = "—" if row["wall_s"] is None else f"{row['wall_s'] / 60:.1f} ({row['timed']})"
        lo, hi = row["ci"]
        print(f"| {row['label']} | {row['seed']} | {wall} | {row['train_s'] / 60:.1f} | {row['before']:.3f} | "
              f"{row['after']:.3f} | {row['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] |")  # fmt: skip
    for label, _ in settings[1:]:
        print(f"\n{label} vs {settings[0][0]} (final evaluations, every seed's samples pooled per problem): "
              f"{compare_settings(rows, settings[0][0], label)['verdict']}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "study.json").write_text(json.dumps(rows, indent=2) + "\n")
    subprocess.run([sys.executable, "-m", "openrs.compare", *[row["dir"] for row in rows], "--out", str(args.out)],
                   cwd=REPO, check=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
