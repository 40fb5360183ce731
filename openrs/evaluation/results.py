"""From scored samples to `results.json`: per-benchmark statistics, their average, and what produced them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from openrs.config import EvalConfig
from openrs.errors import ConfigError
from openrs.evaluation.stats import average_stats, benchmark_stats
from openrs.evaluation.tasks import Item

__all__ = ["summarize"]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: list[dict[str, Any]], items: list[Item], eval_cfg: EvalConfig, k: int | None = None) -> dict:
    """Statistics per benchmark (problems with an unparseable gold are counted and left out) and their average."""
    k = k or eval_cfg.k
    by_benchmark: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_benchmark[item.benchmark].append(item)
    samples: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        samples[(record["benchmark"], str(record["id"]))].append(record)
    per_benchmark: dict[str, dict[str, Any]] = {}
    for benchmark, bench_items in by_benchmark.items():
        correct: dict[str, list[bool]] = {}
        answers: dict[str, list[str | None]] = {}
        unparseable = 0
        tokens: list[float] = []
        truncated: list[float] = []
        for item in bench_items:
            got = sorted(samples.get((benchmark, item.id), []), key=lambda r: r["sample"])
            if len(got) < k:
                raise ConfigError(
                    f"{benchmark}/{item.id} has {len(got)} scored samples of {k}: the evaluation is incomplete "
                    "(run the same command again to resume)."
                )
            got = got[:k]
            if any(r["correct"] is None for r in got):
                unparseable += 1
                continue
            correct[item.id] = [bool(r["correct"]) for r in got]
            answers[item.id] = [r.get("answer") for r in got]
            tokens += [r["tokens"] for r in got if r.get("tokens") is not None]
            truncated += [float(r["truncated"]) for r in got if r.get("truncated") is not None]
        if not correct:
            raise ConfigError(f"{benchmark}: no problem with a parseable gold answer ({unparseable} without).")
        stats = benchmark_stats(
            correct,
            answers,
            ks=None if eval_cfg.ks is None else [x for x in eval_cfg.ks if x <= k],
            n_boot=eval_cfg.n_boot,
            confidence=eval_cfg.confidence,
        )
        stats.update(unparseable_gold=unparseable, mean_tokens=_mean(tokens), truncated_rate=_mean(truncated))
        per_benchmark[benchmark] = stats
    return {"benchmarks": per_benchmark, "average": average_stats(per_benchmark)}


def results_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The logged metrics of one evaluation: pass@1 per benchmark and their average."""
    metrics = {f"benchmarks/{name}/pass@1": bench["pass@1"] for name, bench in results["benchmarks"].items()}
    metrics["benchmarks/average/pass@1"] = results["average"]["pass@1"]
    return metrics
