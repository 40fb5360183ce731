"""`python -m openrs.evaluate`: evaluate a model, a LoRA adapter, or every checkpoint of a training run.

One evaluation (one model) writes into its directory: `samples.jsonl` (streamed, resumable), `results.json` (the
statistics, the config, the model, engine versions, wall time, tokens/s) and `table.md` (the paper's Table 2 layout
with its published rows). A run directory gets one evaluation per checkpoint under `<run>/eval/<preset>/checkpoint-N/`
(plus `<run>/eval/validation/...` when the run held out a validation split), then `table.md`, `curves.json`, the
accuracy and length plots, and the best checkpoint chosen on the validation split.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openrs import provenance
from openrs.checks import require_gpus
from openrs.config import DType, EvalConfig, EvalEngine, EvaluateConfig, LoggerName, ModelConfig, plain_dict
from openrs.dir_search import DirSearch
from openrs.errors import ConfigError
from openrs.evaluation.engine import generate_samples, missing_samples
from openrs.evaluation.report import best_checkpoint, write_report
from openrs.evaluation.results import results_metrics, summarize
from openrs.evaluation.resume import claim_eval_dir, eval_settings, unfinished_evaluation
from openrs.evaluation.samples import SampleStore
from openrs.evaluation.scoring import read_completions_file, score_records
from openrs.evaluation.stats import paired_comparison
from openrs.evaluation.tasks import Item, load_items, load_validation_items
from openrs.models import resolve_model_path
from openrs.resume import complete_checkpoints, is_whole
from openrs.run_dir import read_summary

__all__ = ["evaluate", "evaluate_model", "find_checkpoints", "resolve_target"]

log = logging.getLogger(__name__)


def find_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """`checkpoint-N` dirs of a run whose weights are whole, by step; `final_model/` counts as the run's last step
    when it exists and is whole. Weights a kill or a full disk cut short are passed over with a warning saying why."""
    found = complete_checkpoints(run_dir, marker=None)
    final = run_dir / "final_model"
    if final.is_dir() and is_whole(final, marker=None):
        step = (read_summary(run_dir) or {}).get("steps")
        last = step if isinstance(step, int) else (found[-1][0] + 1 if found else 0)
        if not found or last > found[-1][0]:
            found.append((last, final))
    return found


def resolve_target(target: str | None, model_cfg: ModelConfig, cache_dir: str | None) -> tuple[str, str]:
    """(kind, path): `run` (a training run dir), `adapter` (a LoRA adapter dir) or `model` (a dir, hub id, tiny)."""
    if target is None:
        return "model", resolve_model_path(model_cfg.name_or_path, cache_dir, model_cfg.revision)
    path = Path(target).expanduser()
    if not path.exists():
        raise ConfigError(f"target={target} does not exist: give a run dir, a checkpoint/model dir or an adapter dir.")
    if (path / "adapter_config.json").exists():
        return "adapter", str(path)
    if (path / "config.json").exists():
        return "model", str(path)
    if find_checkpoints(path):
        return "run", str(path)
    raise ConfigError(
        f"target={target} is neither a model dir (config.json), a LoRA adapter (adapter_config.json) nor a run dir "
        "(checkpoint-N/ or final_model/)."
    )


def merge_adapter(adapter_dir: str, out_dir: Path) -> str:
    """A LoRA adapter merged into its base model (saved to `out_dir`), so every engine loads it like any model."""
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = PeftConfig.from_pretrained(adapter_dir)
    base = resolve_model_path(adapter.base_model_name_or_path, revision=adapter.revision)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter_dir)
    model.merge_and_unload().save_pretrained(out_dir)
    tokenizer_source = adapter_dir if (Path(adapter_dir) / "tokenizer_config.json").exists() else base
    AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(out_dir)
    log.info("merged the LoRA adapter %s into its base %s", adapter_dir, base)
    return str(out_dir)


@contextmanager
def loadable_model(path: str) -> Iterator[str]:
    """A model dir every engine can load: the dir itself, or a LoRA adapter (a LoRA run's checkpoints and final
    model) merged into its base in a temporary dir for the duration."""
    if not (Path(path) / "adapter_config.json").exists():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="openrs-merged-") as merged:
        yield merge_adapter(path, Path(merged))


def _engine_versions() -> dict[str, Any]:
    versions = provenance.package_versions()
    return {name: versions.get(name) for name in ("torch", "transformers", "vllm", "math-verify") if name in versions}


def generation_dtype(eval_cfg: EvalConfig, model_cfg: ModelConfig | None) -> DType:
    """`eval.dtype`; its `auto` takes the model group's half dtype (R1-Distill's bfloat16, also on CPU), else it is
    bfloat16 on a GPU and float32 on CPU (the tiny model, and a run dir evaluated with the default model group)."""
    if eval_cfg.dtype == DType.auto and model_cfg is not None and model_cfg.dtype.mixed_precision:
        return model_cfg.dtype
    return eval_cfg.dtype


def _load_generator(model_path: str, eval_cfg: EvalConfig, model_cfg: ModelConfig | None = None) -> Any:
    """The evaluation engine for one model: eval.* settings, and the model group's attention and remote code."""
    from openrs.generation import load_generator

    return load_generator(
        eval_cfg.engine.value,
        model_path,
        batch_size=eval_cfg.batch_size,
        dtype=generation_dtype(eval_cfg, model_cfg).value,
        attn_implementation=model_cfg.attn_implementation.value if model_cfg else "sdpa",
        trust_remote_code=model_cfg.trust_remote_code if model_cfg else False,
        gpu_memory_utilization=eval_cfg.gpu_memory_utilization,
        tensor_parallel_size=eval_cfg.tensor_parallel_size,
        seed=int(eval_cfg.seeds[0]),
        max_model_length=eval_cfg.max_model_length,
    )


def _shard_env(index: int, eval_cfg: EvalConfig) -> dict[str, str]:
    """The visible GPUs `[index * tp, (index + 1) * tp)` for shard `index`, as ids of the GPUs this process was given
    (`CUDA_VISIBLE_DEVICES=4,5,6,7` of a Slurm allocation: shard 0 gets 4), none on a CPU machine."""
    import torch

    from openrs.launch import visible_gpu_ids

    env = dict(os.environ)
    if torch.cuda.is_available():
        tp = eval_cfg.tensor_parallel_size
        visible = visible_gpu_ids(torch.cuda.device_count())
        env["CUDA_VISIBLE_DEVICES"] = ",".join(visible[index * tp : (index + 1) * tp])
    return env


def shard_commands(config_path: Path, shards: int) -> list[list[str]]:
    """One `python -m openrs.evaluation.shard <config> <index>` per data-parallel shard."""
    return [[sys.executable, "-m", "openrs.evaluation.shard", str(config_path), str(i)] for i in range(shards)]


def _run_shards(
    model_path: str, eval_cfg: EvalConfig, out_dir: Path, items: list[Item], model_cfg: ModelConfig | None
) -> None:
    """Generate with `data_parallel_size` processes, each on its share of the problems; merge their samples."""
    import torch

    shards = eval_cfg.data_parallel_size
    if torch.cuda.is_available():
        require_gpus(
            shards * eval_cfg.tensor_parallel_size,
            torch.cuda.device_count(),
            f"eval.data_parallel_size={shards} x eval.tensor_parallel_size={eval_cfg.tensor_parallel_size}",
            "Lower eval.data_parallel_size (model copies) or eval.tensor_parallel_size (GPUs per copy).",
        )
    config_path = out_dir / "shard_config.yaml"
    spec = {"model_path": model_path, "out_dir": str(out_dir), "eval": plain_dict(eval_cfg),
            "model": plain_dict(model_cfg) if model_cfg else None}  # fmt: skip
    spec["items"] = [item.__dict__ for item in items]
    config_path.write_text(json.dumps(spec, ensure_ascii=False))
    processes = [
        subprocess.Popen(command, env=_shard_env(i, eval_cfg))
        for i, command in enumerate(shard_commands(config_path, shards))
    ]
    codes = [process.wait() for process in processes]
    if any(codes):
        raise ConfigError(f"data-parallel evaluation shards failed with exit codes {codes}; run again to resume.")
    store = SampleStore(out_dir / "samples.jsonl")
    for i in range(shards):
        shard = SampleStore(out_dir / f"samples.shard-{i}.jsonl")
        store.append(r for r in shard.records() if (r["benchmark"], r["id"], r["sample"]) not in store.done)


def evaluate_model(
    model_path: str | None,
    eval_cfg: EvalConfig,
    out_dir: Path,
    items: list[Item] | None = None,
    *,
    label: str | None = None,
    generator: Any = None,
    max_new_tokens: int | None = None,
    model_info: dict[str, Any] | None = None,
    model_cfg: ModelConfig | None = None,
) -> dict[str, Any]:
    """Evaluate one model on `items` (default: the preset's benchmarks); write samples, results and table. Samples
    already in `out_dir` are kept when they were drawn with the same settings (openrs.evaluation.resume)."""
    claim_eval_dir(out_dir, eval_settings(eval_cfg, label, model_info))
    items = items if items is not None else load_items(eval_cfg)
    started = time.time()
    store = SampleStore(out_dir / "samples.jsonl")
    k = None  # each benchmark's eval.samples_for
    tokens_per_s = backend = None
    if eval_cfg.completions_file:
        store, k = score_completions_file(eval_cfg, items, out_dir)
    elif missing_samples(items, eval_cfg, store.done):
        if eval_cfg.data_parallel_size > 1 and generator is None:
            _run_shards(str(model_path), eval_cfg, out_dir, items, model_cfg)
            store = SampleStore(out_dir / "samples.jsonl")
        elif generator is not None:  # the caller's (in-training evaluation): it stays open
            generate_samples(items, eval_cfg, generator, store, max_new_tokens=max_new_tokens)
            tokens_per_s, backend = generator.stats.tokens_per_s, generator.name
        else:
            owned = _load_generator(str(model_path), eval_cfg, model_cfg)
            try:
                generate_samples(items, eval_cfg, owned, store, max_new_tokens=max_new_tokens)
                tokens_per_s, backend = owned.stats.tokens_per_s, owned.name
            finally:
                owned.close()  # an evaluation of many checkpoints holds one engine at a time
    generation = {"tokens_per_s": tokens_per_s, "backend": backend}
    return write_results(out_dir, store, items, eval_cfg, label=label, model_path=model_path, model_info=model_info,
                         started=started, k=k, generation=generation)  # fmt: skip


def write_results(
    out_dir: Path,
    store: SampleStore,
    items: list[Item],
    eval_cfg: EvalConfig,
    *,
    label: str | None,
    started: float,
    model_path: str | None = None,
    model_info: dict[str, Any] | None = None,
    k: int | None = None,
    generation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Summarize the samples of `store` into `results.json` and `table.md` in `out_dir`, log one line, return them.

    `generation`: what generated the samples (`backend`: the engine, None when resumed or scored; `tokens_per_s`; an
    in-training evaluation adds the samples each rank drew)."""
    results = summarize(store.records(), items, eval_cfg, k=k)
    results.update(
        model={"name_or_path": model_path, "label": label, **(model_info or {})},
        eval=plain_dict(eval_cfg),
        engine=_engine_versions(),
        samples_file=str(out_dir / "samples.jsonl"),
        wall_time_s=round(time.time() - started, 3),
        **{"tokens_per_s": None, "backend": None, **(generation or {})},
    )
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    write_report(out_dir, [(label or str(model_path), results)])
    _log_summary(label or str(model_path), results)
    return results


def score_completions_file(eval_cfg: EvalConfig, items: list[Item], out_dir: Path) -> tuple[SampleStore, int]:
    """`eval.completions_file`: grade its completions (every problem needs one) into a fresh samples.jsonl; k is the
    smallest number of completions any problem has."""
    records = read_completions_file(Path(eval_cfg.completions_file).expanduser(), items)
    counts = Counter((r["benchmark"], r["id"]) for r in records)
    missing = [f"{i.benchmark}/{i.id}" for i in items if (i.benchmark, i.id) not in counts]
    if missing:
        raise ConfigError(f"eval.completions_file has no completion for {len(missing)} problems, e.g. {missing[:5]}.")
    (out_dir / "samples.jsonl").unlink(missing_ok=True)
    store = SampleStore(out_dir / "samples.jsonl")
    by_key = {(item.benchmark, item.id): item for item in items}
    store.append(score_records(records, by_key, timeout_s=eval_cfg.timeout_s, workers=eval_cfg.workers))
    return store, min(counts.values()) if counts else 0


def _log_summary(label: str, results: dict[str, Any]) -> None:
    parts = [f"{name} {b['pass@1'] * 100:.1f}" for name, b in results["benchmarks"].items()]
    log.info("%s: %s; average %.1f", label, ", ".join(parts), results["average"]["pass@1"] * 100)


def evaluate_run(run_dir: Path, cfg: EvaluateConfig) -> dict[str, Any]:
    """Every checkpoint of a training run on the preset (and on the run's validation split), then the report."""
    eval_cfg = cfg.eval
    items = load_items(eval_cfg)
    validation_file = run_dir / "validation.jsonl"
    validation = (
        load_validation_items(validation_file, eval_cfg.scoring.value)
        if eval_cfg.validation and validation_file.exists()
        else None
    )
    rows = []
    for step, checkpoint in find_checkpoints(run_dir):
        name = f"checkpoint-{step}"
        with loadable_model(str(checkpoint)) as model_path:
            info = {"checkpoint": str(checkpoint), "lora_merged": model_path != str(checkpoint)}
            out_dir = run_dir / "eval" / eval_cfg.name / name
            results = evaluate_model(
                model_path, eval_cfg, out_dir, items, label=name, model_info=info, model_cfg=cfg.model
            )
            results["model"]["step"] = step
            rows.append((name, results))
            if validation is not None:
                out_dir = run_dir / "eval" / "validation" / name
                evaluate_model(
                    model_path, eval_cfg, out_dir, validation, label=name, model_info=info, model_cfg=cfg.model
                )
    paths = write_report(run_dir / "eval" / eval_cfg.name, rows, run_dir=run_dir, eval_name=eval_cfg.name)
    best = best_checkpoint(run_dir) if validation is not None else None
    if best:
        log.info("best checkpoint on the validation split: step %s (%.1f)", best["step"], best["score"] * 100)
    report = {k: str(v) for k, v in paths.items()}
    return {"checkpoints": [name for name, _ in rows], "report": report, "best": best, "results": [r for _, r in rows]}


def per_problem(results_dir: Path) -> dict[str, list[bool]]:
    samples = SampleStore(results_dir / "samples.jsonl").records()
    if not samples:
        raise ConfigError(f"compare_with={results_dir}: no samples.jsonl there.")
    grouped: dict[str, list[bool]] = {}
    for record in samples:
        if record.get("correct") is not None:
            grouped.setdefault(f"{record['benchmark']}/{record['id']}", []).append(bool(record["correct"]))
    return grouped


def log_to_wandb(cfg: EvaluateConfig, output_dir: Path, rows: list[tuple[int | None, str, dict[str, Any]]]) -> None:
    """Results to W&B (`logger=wandb`): pass@1 per benchmark (by training step for a run), and a results table."""
    import wandb

    from openrs.tracking import init_wandb

    config = {"openrs_evaluate": plain_dict(cfg)}
    group = cfg.logger.group or f"eval-{cfg.eval.name}"
    tags = ["eval", *cfg.logger.tags]
    run = init_wandb(cfg.logger, output_dir, f"eval-{cfg.eval.name}", group, config, tags, job_type="eval")
    table = wandb.Table(columns=["model", "step", "benchmark", "pass@1", "ci_low", "ci_high", "maj@k", "k"])
    for step, label, results in rows:
        run.log(results_metrics(results), **({"step": step} if step is not None else {}))
        for name, bench in results["benchmarks"].items():
            ci = bench.get("ci") or [None, None]
            table.add_data(label, step, name, bench["pass@1"], ci[0], ci[1], bench.get("maj@k"), bench["k"])
    run.log({"openrs/eval_results": table})
    run.finish()


def evaluate(cfg: EvaluateConfig, output_dir: Path, search: DirSearch | None = None) -> dict[str, Any]:
    """The whole `python -m openrs.evaluate` job. When `output_dir` was written with a part that changes between
    launches (the default's time stamp; `search`, openrs.dir_search), an unfinished evaluation of the same settings
    in a dir of the same pattern is continued instead."""
    if cfg.eval.engine == EvalEngine.vllm and not cfg.eval.completions_file:
        from openrs.generation import require_vllm

        require_vllm(cfg.eval.tensor_parallel_size)  # a GPU-only engine fails here, before any download or load
    kind, path = resolve_target(cfg.target, cfg.model, cfg.cache_dir)
    if kind == "run":
        outcome = evaluate_run(Path(path), cfg)
        rows = [(r["model"].get("step"), r["model"]["label"], r) for r in outcome.pop("results")]
    else:
        with loadable_model(path) as model_path:
            info = {"revision": cfg.model.revision} if cfg.target is None else {"target": cfg.target, "kind": kind}
            label = cfg.target or cfg.eval.completions_file or cfg.model.name_or_path  # what was scored
            if search is not None and not search.fixed:
                settings = eval_settings(cfg.eval, label, info)
                output_dir = unfinished_evaluation(output_dir, settings, search.candidates()) or output_dir
            outcome = evaluate_model(
                model_path, cfg.eval, output_dir, label=label, model_info=info, model_cfg=cfg.model
            )
        rows = [(None, outcome["model"]["label"], outcome)]
    if cfg.logger.name == LoggerName.wandb:
        log_to_wandb(cfg, output_dir, rows)
    if cfg.compare_with:
        comparison = paired_comparison(per_problem(Path(cfg.compare_with)), per_problem(output_dir))
        (output_dir / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
        log.info("compared with %s: %s", cfg.compare_with, comparison["verdict"])
        outcome = {"results": outcome, "comparison": comparison}
    return outcome
