"""Generating the samples: every benchmark's prompts x k samples, in large calls, written to disk as they finish.

Sample `i` of a problem is drawn with seed `eval.seeds[i % len(eval.seeds)]`: for each chunk of `eval.chunk_size`
problems and each seed, one `generate` call samples that seed's share for every problem in the chunk (vLLM schedules
the whole call itself; the hf engine batches it by `eval.batch_size`). Each chunk is scored and appended to
`samples.jsonl` before the next starts, so a killed evaluation loses at most one chunk; on restart only the missing
samples are generated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from openrs.config import EvalConfig
from openrs.evaluation.samples import SampleStore
from openrs.evaluation.scoring import score_records
from openrs.evaluation.tasks import Item, render_prompt
from openrs.generation import Generator, Sampling

__all__ = ["missing_samples", "sample_seeds", "generate_samples"]

log = logging.getLogger(__name__)


def sample_seeds(k: int, seeds: list[int]) -> dict[int, list[int]]:
    """Seed -> the sample indices (0..k-1) it draws."""
    plan: dict[int, list[int]] = defaultdict(list)
    for index in range(k):
        plan[seeds[index % len(seeds)]].append(index)
    return dict(plan)


def missing_samples(items: list[Item], k: int, seeds: list[int], done: set[tuple[str, str, int]]) -> int:
    return sum(1 for item in items for i in range(k) if (item.benchmark, item.id, i) not in done)


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
    plan = sample_seeds(eval_cfg.k, list(eval_cfg.seeds))
    budget = max_new_tokens or eval_cfg.max_new_tokens
    generated = 0
    for start in range(0, len(items), eval_cfg.chunk_size):
        chunk = items[start : start + eval_cfg.chunk_size]
        done = store.done
        records: list[dict[str, Any]] = []
        for seed, indices in plan.items():
            # problems grouped by which of this seed's samples they still need (all of them, unless resumed)
            needs: dict[tuple[int, ...], list[Item]] = defaultdict(list)
            for item in chunk:
                missing = tuple(i for i in indices if (item.benchmark, item.id, i) not in done)
                if missing:
                    needs[missing].append(item)
            for missing, group in needs.items():
                prompts = [render_prompt(item, eval_cfg, generator.tokenizer) for item in group]
                sampling = Sampling(eval_cfg.temperature, eval_cfg.top_p, budget, seed)
                outputs = generator.generate_detailed(prompts, len(missing), sampling)
                for item, completions in zip(group, outputs, strict=True):
                    for index, completion in zip(missing, completions, strict=True):
                        records.append({"benchmark": item.benchmark, "id": item.id, "sample": index, "seed": seed,
                                        "completion": completion.text, "tokens": completion.tokens,
                                        "truncated": completion.truncated})  # fmt: skip
        if records:
            score_records(records, by_key, timeout_s=eval_cfg.timeout_s, workers=eval_cfg.workers)
            store.append(records)
            generated += len(records)
            log.info("evaluation: %d / %d problems done", min(start + len(chunk), len(items)), len(items))
    return {"generated": generated}
