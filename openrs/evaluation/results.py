"""From scored samples to `results.json`: per-benchmark statistics, their average, and what produced them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from openrs.config import EvalConfig
from openrs.errors import ConfigError
from openrs.evaluation.stats import average_stats, benchmark_stats, seed_spread
from openrs.evaluation.tasks import Item

__all__ = ["summarize"]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: list[dict[str, Any]], items: list[Item], eval_cfg: EvalConfig, k: int | None = None) -> dict:
    """Statistics per benchmark (problems with an unparseable gold are counted and left out) and their average.

    Each benchmark is scored on its first `k` samples per problem (default: `eval_cfg.samples_for(benchmark)`)."""
    by_benchmark: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_benchmark[item.benchmark].append(item)
    samples: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        samples[(record["benchmark"], str(record["id"]))].append(record)
    per_benchmark = {
        benchmark: _benchmark_summary(benchmark, bench_items, samples, eval_cfg, k or eval_cfg.samples_for(benchmark))
        for benchmark, bench_items in by_benchmark.items()
    }
    return {"benchmarks": per_benchmark, "average": average_stats(per_benchmark)}


def _benchmark_summary(
    benchmark: str,
    items: list[Item],
    samples: dict[tuple[str, str], list[dict[str, Any]]],
    eval_cfg: EvalConfig,
    k: int,
) -> dict[str, Any]:
    """One benchmark's statistics from its first k samples per problem, and the spread of pass@1 over seeds."""
    kept: dict[str, list[dict[str, Any]]] = {}
    unparseable = 0
    for item in items:
        got = sorted(samples.get((benchmark, item.id), []), key=lambda r: r["sample"])
        if len(got) < k:
            raise ConfigError(
                f"{benchmark}/{item.id} has {len(got)} scored samples of {k}: the evaluation is incomplete "
                "(run the same command again to resume)."
            )
        if any(r["correct"] is None for r in got[:k]):
            unparseable += 1
        else:
            kept[item.id] = got[:k]
    if not kept:
        raise ConfigError(f"{benchmark}: no problem with a parseable gold answer ({unparseable} without).")
    stats = benchmark_stats(
        {pid: [bool(r["correct"]) for r in got] for pid, got in kept.items()},
        {pid: [r.get("answer") for r in got] for pid, got in kept.items()},
        ks=None if eval_cfg.ks is None else [x for x in eval_cfg.ks if x <= k],
        n_boot=eval_cfg.n_boot,
        confidence=eval_cfg.confidence,
    )
    rows = [r for got in kept.values() for r in got]
    stats.update(
        unparseable_gold=unparseable,
        mean_tokens=_mean([r["tokens"] for r in rows if r.get("tokens") is not None]),
        truncated_rate=_mean([float(r["truncated"]) for r in rows if r.get("truncated") is not None]),
    )
    spread = seed_spread(_flags_by_seed(kept))
    if spread is not None:
        stats["seeds"] = spread
    return stats


def _flags_by_seed(kept: dict[str, list[dict[str, Any]]]) -> dict[int, dict[str, list[bool]]] | None:
    """Seed -> problem -> that seed's correctness flags; None when a sample has no seed (a scored completions file)."""
    by_seed: dict[int, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for pid, got in kept.items():
        for record in got:
            if record.get("seed") is None:
                return None
            by_seed[int(record["seed"])][pid].append(bool(record["correct"]))
    return by_seed


def results_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The logged metrics of one evaluation: pass@1 per benchmark and their average."""
    metrics = {f"benchmarks/{name}/pass@1": bench["pass@1"] for name, bench in results["benchmarks"].items()}
    metrics["benchmarks/average/pass@1"] = results["average"]["pass@1"]
    return metrics
