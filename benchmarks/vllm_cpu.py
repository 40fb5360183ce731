"""vLLM's CPU build against HF generation, through openrs, in one command (run in the vLLM environment):

    OMP_NUM_THREADS=1 .venv-vllm/bin/python benchmarks/vllm_cpu.py

1. Generation: the same prompts (the `arithmetic` benchmark's 32 problems x 4 samples, temperature 1.0, at most
   64 new tokens, float32) through `HFGenerator` and `VLLMGenerator` (engine start timed apart): tokens per second.
2. GRPO: `python -m openrs` with `rollout=hf` and with `rollout=vllm_colocate` (same data, 16 completions of at most
   32 tokens a step, 6 steps): mean `step_time` of steps 2-6 from each run's metrics.jsonl, and the wall time.

Two models with random weights: the tiny default (117k parameters, where fixed costs dominate) and a wider one
(hidden 512, 8 layers, 26M parameters, the tiny tokenizer). One run of each; ratios are vLLM over HF.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMALL = {"hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 8, "num_attention_heads": 8,
         "num_key_value_heads": 2}  # fmt: skip


def build_small(out_dir: Path) -> Path:
    import torch
    from transformers import AutoConfig, AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from openrs.tiny_model import ensure_tiny_model

    tiny = ensure_tiny_model()
    base = AutoConfig.from_pretrained(tiny)
    tokens = {k: getattr(base, k) for k in ("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id")}
    config = Qwen2Config(**SMALL, **tokens, tie_word_embeddings=True, max_position_embeddings=2048)
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(out_dir)
    (out_dir / "generation_config.json").write_text((tiny / "generation_config.json").read_text())
    return out_dir


def generation(model: str) -> dict:
    """tokens/s of each backend on the same prompts (one call each, after the engine is built)."""
    from openrs.config import EvalConfig
    from openrs.evaluation.tasks import load_items, render_prompt
    from openrs.generation import HFGenerator, Sampling, VLLMGenerator

    eval_cfg = EvalConfig()  # the default preset: the arithmetic benchmark
    sampling = Sampling(temperature=1.0, top_p=1.0, max_new_tokens=64, seed=0)
    figures = {}
    for name, build in (("hf", lambda: HFGenerator(model, batch_size=32, dtype="float32")),
                        ("vllm", lambda: VLLMGenerator(model, dtype="float32"))):  # fmt: skip
        started = time.perf_counter()
        generator = build()
        load_s = time.perf_counter() - started
        prompts = [render_prompt(item, eval_cfg, generator.tokenizer) for item in load_items(eval_cfg)]
        completions = generator.generate_detailed(prompts, 4, sampling)
        figures[name] = {"load_s": round(load_s, 1), "tokens": generator.stats.tokens,
                         "completions": sum(len(group) for group in completions),
                         "generate_s": round(generator.stats.seconds, 2),
                         "tokens_per_s": round(generator.stats.tokens_per_s, 1)}  # fmt: skip
        generator.close()
    return figures


def grpo(model: str, work: Path) -> dict:
    figures = {}
    for rollout in ("hf", "vllm_colocate"):
        run_dir = work / f"grpo-{rollout}-{Path(model).name}"
        args = [f"model.name_or_path={model}", f"rollout={rollout}", "train.device=cpu", "train.max_steps=6",
                "train.save_steps=1000", "logger=none", "logger.sample_completions_every=0",
                f"hydra.run.dir={run_dir}", "resume=false"]  # fmt: skip
        started = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        result = subprocess.run([sys.executable, "-m", "openrs", *args], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode:
            figures[rollout] = {"error": result.stderr[-1500:]}
            continue
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        steps = [row["step_time"] for row in rows if "step_time" in row][1:]
        summary = json.loads((run_dir / "summary.json").read_text())
        figures[rollout] = {"step_time_s": round(sum(steps) / len(steps), 3), "wall_s": round(wall, 1),
                            "steps": summary["steps"], "data_fingerprint": summary["data"]["fingerprint"]}  # fmt: skip
    return figures


def same_work(gen: dict, step: dict) -> tuple[bool, bool]:
    """(generation, GRPO): whether both sides did the same work, the premise of each ratio: as many completions of
    the same prompts; the same number of steps on the same data (fingerprint)."""
    generation_same = gen["hf"]["completions"] == gen["vllm"]["completions"]
    runs = [step.get(rollout, {}) for rollout in ("hf", "vllm_colocate")]
    grpo_same = (
        all("step_time_s" in run for run in runs) and len({(r["steps"], r["data_fingerprint"]) for r in runs}) == 1
    )
    return generation_same, grpo_same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "vllm_cpu.json")
    args = parser.parse_args()
    from openrs.tiny_model import ensure_tiny_model

    report = {}
    with tempfile.TemporaryDirectory() as work:
        models = {"tiny": str(ensure_tiny_model()), "small": str(build_small(Path(work) / "small"))}
        for name, model in models.items():
            report[name] = {"generation": generation(model), "grpo": grpo(model, Path(work))}
            gen, step = report[name]["generation"], report[name]["grpo"]
            generation_same, grpo_same = same_work(gen, step)  # no ratio between different work (None, and said so)
            report[name]["ratios"] = {
                "generation_tokens_per_s_vllm_over_hf": round(gen["vllm"]["tokens_per_s"] / gen["hf"]["tokens_per_s"],
                                                              2) if generation_same else None,  # fmt: skip
                "grpo_step_time_vllm_over_hf": round(step["vllm_colocate"]["step_time_s"] / step["hf"]["step_time_s"],
                                                     2) if grpo_same else None,  # fmt: skip
                "premise": {"same_completions": generation_same, "same_steps_and_data": grpo_same},
            }  # fmt: skip
            print(json.dumps({name: report[name]}, indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
