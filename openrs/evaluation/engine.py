"""Generating the samples: every benchmark's prompts x k samples, in large calls, written to disk as they finish.

A problem gets `eval.samples_for(benchmark)` samples (`eval.k_by_benchmark`, else `eval.k`). Sample `i` belongs to
seed `s = eval.seeds[i % len(eval.seeds)]` and is drawn from a random stream of its own, seeded from (s, benchmark,
problem id, i) (openrs.generation.request_seed): samples are independent across problems (the bootstrap over problems
assumes it) and do not depend on the chunk, batch or shard they are drawn in.
For each chunk of `eval.chunk_size` problems and each seed, one `generate` call draws that seed's samples of every
problem in the chunk (vLLM schedules the whole call itself; the hf engine batches it by `eval.batch_size`). Each
chunk is scored and appended to `samples.jsonl` before the next starts, so a killed evaluation loses at most one
chunk; on restart only the missing samples are generated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from openrs.config import EvalConfig
from openrs.evaluation.samples import SampleStore
from openrs.evaluation.scoring import score_records
from openrs.evaluation.tasks import Item, render_prompt
from openrs.generation import Generator, Sampling, request_seed

__all__ = ["missing_samples", "sample_seeds", "generate_samples"]

log = logging.getLogger(__name__)


def sample_seeds(k: int, seeds: list[int]) -> dict[int, list[int]]:
    """Seed -> the sample indices (0..k-1) it draws."""
    plan: dict[int, list[int]] = defaultdict(list)
    for index in range(k):
        plan[seeds[index % len(seeds)]].append(index)
    return dict(plan)


def missing_samples(items: list[Item], eval_cfg: EvalConfig, done: set[tuple[str, str, int]]) -> int:
    """Samples of `items` not in `done` (each benchmark has `eval_cfg.samples_for(benchmark)` per problem)."""
    wanted = ((item, i) for item in items for i in range(eval_cfg.samples_for(item.benchmark)))
    return sum(1 for item, i in wanted if (item.benchmark, item.id, i) not in done)


def _indices_by_seed(items: list[Item], eval_cfg: EvalConfig) -> dict[int, dict[str, list[int]]]:
    """Seed -> benchmark -> the sample indices that seed draws for each problem of that benchmark."""
    seeds = list(eval_cfg.seeds)
    plan: dict[int, dict[str, list[int]]] = {seed: {} for seed in dict.fromkeys(seeds)}
    for benchmark in dict.fromkeys(item.benchmark for item in items):
        for seed, indices in sample_seeds(eval_cfg.samples_for(benchmark), seeds).items():
            plan[seed][benchmark] = indices
    return plan


def generate_samples(
    items: list[Item],
    eval_cfg: EvalConfig,
    generator: Generator,
    store: SampleStore,
    *,
    max_new_tokens: int | None = None,
) -> dict[str, Any]:
    """Generate, score and store every missing sample of `items`; returns what was generated."""
    by_key = {(item.benchmark, item.id): item for item in items}
    plan = _indices_by_seed(items, eval_cfg)
    budget = max_new_tokens or eval_cfg.max_new_tokens
    generated = 0
    for start in range(0, len(items), eval_cfg.chunk_size):
        chunk = items[start : start + eval_cfg.chunk_size]
        done = store.done
        records: list[dict[str, Any]] = []
        for seed, indices in plan.items():
            requests = [
                (item, i)
                for item in chunk
                for i in indices.get(item.benchmark, [])
                if (item.benchmark, item.id, i) not in done
            ]
            if not requests:
                continue
            rendered = {(item.benchmark, item.id): render_prompt(item, eval_cfg, generator.tokenizer) for item in chunk}
            prompts = [rendered[(item.benchmark, item.id)] for item, _ in requests]
            seeds = [request_seed(seed, item.benchmark, item.id, i) for item, i in requests]
            sampling = Sampling(eval_cfg.temperature, eval_cfg.top_p, budget, seed)
            outputs = generator.generate_detailed(prompts, 1, sampling, seeds=seeds)
            for (item, index), (completion,) in zip(requests, outputs, strict=True):
                records.append({"benchmark": item.benchmark, "id": item.id, "sample": index, "seed": seed,
                                "completion": completion.text, "tokens": completion.tokens,
                                "truncated": completion.truncated})  # fmt: skip
        if records:
            score_records(records, by_key, timeout_s=eval_cfg.timeout_s, workers=eval_cfg.workers)
            store.append(records)
            generated += len(records)
            log.info("evaluation: %d / %d problems done", min(start + len(chunk), len(items)), len(items))
    return {"generated": generated}
