"""The prepared GPU check (issue 10 §5): everything through openrs, no network, one JSON to quote.

Parts, each in its own process with its own time limit, each recorded even when another fails:

1. `preflight`: the machine as openrs sees it (GPU name and count) and what the pre-flight says to the paper's
   Exp3 here (it needs 3 + 1 GPUs: on one GPU it must refuse with the fix), and the dry-run plan.
2. `grpo_hf`: bf16 GRPO steps of a randomly initialised model with the real 1.5B Qwen2 shape (DeepSeek-R1-Distill-
   Qwen-1.5B's config: 28 layers, hidden 1536, 151,936-token vocabulary) and HF generation, on the GPU:
   seconds per step, generated tokens per second, peak GPU memory.
3. `accelerate_1gpu`: the same through `launcher=accelerate launcher.num_processes=1` (the launcher and rank path),
   with plain DDP (`launcher.accelerate_config=ddp`); `accelerate_zero2`: the same with the shipped default, DeepSpeed
   ZeRO-2 (the paper's; deepspeed travels as a wheel, see gpu_wheels.sh). Each training part also records the memory
   plan's estimate for its own overrides (`plan_peak_gib`) and its error against the measured peak (`plan_error`).
4. `eval_hf`: evaluation throughput of the same model (HF engine, bf16), tokens per second.
5. Issue 23's GPU-only paths, with 128-token completions: `master_weights` (2 bf16 steps on one GPU at the paper's
   lr 1e-6: the fraction of the weights that changed, `changed_fraction`, about 1 with float32 master weights and
   about 0.004 without), `zero2_float32` (a DeepSpeed ZeRO-2 start with 1 process and `model.dtype=float32`, which
   transformers refused while accelerate was told bf16), and `rollback_zero2` (a kl_explosion rollback under
   ZeRO-2: the rank ends and a new one resumes from the DeepSpeed checkpoint; `attempt_pids` differ).

`--smoke` runs the same parts on CPU with the tiny model's shape, so the script itself is tested without a GPU
(tests/test_gpu_check.py). The model's tokenizer is the tiny model's (768 tokens): the text is meaningless and
rewards are 0, which changes nothing measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PARTS = (
    "preflight",
    "grpo_hf",
    "accelerate_1gpu",
    "accelerate_zero2",
    "master_weights",
    "zero2_float32",
    "rollback_zero2",
    "eval_hf",
)
#: The issue-23 parts' completion budget: short, so the whole check stays under 8 minutes on one GPU.
SHORT = "length.max_completion_length=128"

#: DeepSeek-R1-Distill-Qwen-1.5B's config.json (the paper's model), weights left random.
QWEN2_1_5B = {
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 131072,
    "rope_theta": 10000,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
}


def build_model(out_dir: Path, shape: dict | None) -> Path:
    """A random-weight Qwen2 of `shape` (None: the tiny model itself) with the tiny model's tokenizer."""
    from openrs.tiny_model import ensure_tiny_model

    tiny = ensure_tiny_model()
    if shape is None:
        return tiny
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    special = {"bos_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
    config = Qwen2Config(**shape, **special, pad_token_id=tokenizer.pad_token_id, dtype="bfloat16")
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(**special, pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def run_part(name: str, argv: list[str], timeout_s: float, log_dir: Path) -> dict:
    """One part as a subprocess: exit code, seconds and the log's tail."""
    started = time.monotonic()
    log_path = log_dir / f"{name}.log"
    with log_path.open("w") as log:
        try:
            code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, cwd=REPO).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    tail = log_path.read_text(errors="replace")[-1500:]
    return {"exit_code": code, "seconds": round(time.monotonic() - started, 1), "log_tail": tail if code else None}


def train_overrides(model_dir: Path, run_dir: Path, smoke: bool, steps: int) -> list[str]:
    device = ["train.device=cpu", "model.dtype=float32"] if smoke else ["train.device=cuda", "model.dtype=bfloat16"]
    budget = 32 if smoke else 512
    return [
        f"model.name_or_path={model_dir}",
        *device,
        f"train.max_steps={steps}",
        "train.per_device_train_batch_size=8",
        "train.num_generations=8",
        f"length.max_completion_length={budget}",
        "length.max_prompt_length=192",
        "train.gradient_checkpointing=true",
        "train.save_steps=1000",
        "logger=none",
        "logger.sample_completions_every=0",
        f"hydra.run.dir={run_dir}",
        "resume=false",
    ]


def planned_peak(argv: list[str]) -> dict:
    """The memory plan's estimate for a training part's own overrides (issue 15): the largest phase of a training
    GPU, without the CUDA context and NCCL allowances, which `torch.cuda.max_memory_allocated` does not see."""
    from hydra import compose, initialize_config_dir

    from openrs.__main__ import CONF_DIR
    from openrs.config import OpenRSConfig, typed_config
    from openrs.memory.gpus import GIB, Gpu
    from openrs.memory.known import find_shape
    from openrs.memory.layout import layout_of
    from openrs.memory.plan import memory_plan

    overrides = [arg for arg in argv if "=" in arg and not arg.startswith(("hydra.", "resume="))]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = typed_config(compose("config", overrides=overrides), OpenRSConfig)
    shape = find_shape(str(cfg.model.name_or_path), online=False).shape
    plan = memory_plan(shape, layout_of(cfg), Gpu("any", 1 << 50))
    phases = {name: round(value / GIB, 3) for name, value in plan.training.phases.items()}
    return {"plan_peak_gib": max(phases.values()), "plan_phases_gib": phases}


def training_figures(run_dir: Path) -> dict:
    """Seconds per step (after the first), tokens per second and peak memory, from the run's own records."""
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [row for row in rows if "step_time" in row]
    later = steps[1:] or steps
    seconds = sum(row["step_time"] for row in later) / len(later)
    completion_tokens = sum(row["completions/mean_length"] * 8 for row in later) / len(later)
    return {
        "status": summary["status"],
        "processes": summary.get("processes"),
        "steps": summary["steps"],
        "s_per_step": round(seconds, 3),
        "generated_tokens_per_s": round(completion_tokens / seconds, 1),
        "peak_gpu_memory_gib": summary.get("peak_gpu_memory_gib"),
        "wall_time_s": summary["wall_time_s"],
    }


def training_parts(accelerate: list[str], steps: int, smoke: bool) -> list[tuple[str, list[str], int]]:
    """(name, overrides beyond train_overrides, steps) of each training part."""
    paper_lr = ["optimizer.learning_rate=1e-6", "optimizer.lr_scheduler_type=constant", "optimizer.warmup_ratio=0",
                "optimizer.min_lr_rate=null"]  # fmt: skip
    # a zero learning rate at step 1 (warmup), then the KL leaves 0 at step 3: the rollback goes to checkpoint-1,
    # and the restart's lr x 1e-4 keeps the KL under the threshold to the end
    rollback = ["guard=off", "guard.kl_explosion={action: rollback, threshold: 1e-5, window: 1, patience: 1}",
                "guard.rollback.lr_factor=1e-4", "train.save_steps=1", "train.save_total_limit=null",
                f"optimizer.learning_rate={1e-2 if smoke else 1e-4}", "optimizer.warmup_ratio=0.5"]  # fmt: skip
    return [
        ("grpo_hf", [], steps),
        ("accelerate_1gpu", [*accelerate, "launcher.accelerate_config=ddp"], 2),
        ("accelerate_zero2", accelerate, 2),  # the shipped default: DeepSpeed ZeRO-2, as in the paper
        ("master_weights", [*paper_lr, SHORT], 2),
        ("zero2_float32", [*accelerate, "model.dtype=float32", SHORT], 2),
        ("rollback_zero2", [*accelerate, *rollback, SHORT], 4),
    ]


def changed_fraction(before_dir: Path, after_dir: Path) -> float:
    """The fraction of the weights whose value differs between two saved models (in the trained model's dtype)."""
    from safetensors.torch import load_file

    def weights(folder: Path) -> dict:
        return {k: v for f in sorted(folder.glob("*.safetensors")) for k, v in load_file(str(f)).items()}

    before, after = weights(before_dir), weights(after_dir)
    changed = sum(int((before[k].to(v.dtype) != v).sum()) for k, v in after.items() if k in before)
    return changed / max(sum(v.numel() for k, v in after.items() if k in before), 1)


def issue23_figures(name: str, model_dir: Path, run_dir: Path) -> dict:
    """What the issue-23 parts check: the weights that moved, the rollback and its processes."""
    summary = json.loads((run_dir / "summary.json").read_text())
    if name == "master_weights":
        fraction = changed_fraction(model_dir, run_dir / "final_model")
        return {"changed_fraction": round(fraction, 4), "precision": read_precision(run_dir)}
    if name == "rollback_zero2":
        rollbacks = summary.get("guard", {}).get("rollbacks", [])
        return {"rollbacks": [Path(r["to"]).name for r in rollbacks],
                "attempt_pids": [a.get("pid") for a in summary.get("attempts", [])]}  # fmt: skip
    if name == "zero2_float32":
        return {"precision": read_precision(run_dir)}
    return {}


def read_precision(run_dir: Path) -> dict | None:
    """The plan's precision, from the dry run of the part's own config (config.yaml in its run dir)."""
    try:
        from omegaconf import OmegaConf

        from openrs.config import OpenRSConfig, typed_config
        from openrs.precision import training_precision

        return training_precision(typed_config(OmegaConf.load(run_dir / "config.yaml"), OpenRSConfig)).as_dict()
    except Exception as err:  # a figure, not a failure of the part
        return {"error": f"{type(err).__name__}: {err}"}


def preflight() -> dict:
    """The pre-flight's verdict on Exp3 on this machine (in-process: it loads nothing)."""
    import torch
    from hydra import compose, initialize_config_dir

    from openrs.__main__ import CONF_DIR
    from openrs.checks import check_config, check_machine
    from openrs.errors import ConfigError
    from openrs.provenance import hardware

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=exp3"])
    check_config(cfg)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    try:
        check_machine(cfg, torch.cuda.is_available(), gpus)
        verdict = "accepted"
    except ConfigError as err:
        verdict = str(err)
    return {"hardware": hardware(), "exp3_verdict": verdict}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "gpu_check" / "gpu_check.json")
    parser.add_argument("--work", type=Path, default=Path("/tmp/openrs-gpu-check"), help="run dirs, model, logs")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny shape: test the script without a GPU")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    args = parser.parse_args()
    parts = args.parts.split(",")
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "smoke": args.smoke, "parts": {}}
    started = time.monotonic()

    def save() -> None:
        report["total_s"] = round(time.monotonic() - started, 1)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")

    if "preflight" in parts:
        report["parts"]["preflight"] = preflight()
        save()
    model_dir = build_model(work / "qwen2-1.5b-random", None if args.smoke else QWEN2_1_5B)
    report["model"] = {"dir": str(model_dir), "shape": "tiny" if args.smoke else "qwen2-1.5b (random weights)"}
    openrs = [sys.executable, "-m", "openrs"]
    accelerate = ["launcher=accelerate", "launcher.num_processes=1"]
    for name, extra, steps in training_parts(accelerate, args.steps, args.smoke):
        if name not in parts:
            continue
        run_dir = work / name
        part = run_part(name, [*openrs, *train_overrides(model_dir, run_dir, args.smoke, steps), *extra], 240, work)
        if part["exit_code"] == 0:
            part.update(training_figures(run_dir))
            part.update(planned_peak(train_overrides(model_dir, run_dir, args.smoke, steps) + extra))
            if part.get("peak_gpu_memory_gib"):
                part["plan_error"] = round(part["plan_peak_gib"] / part["peak_gpu_memory_gib"] - 1, 3)
            part.update(issue23_figures(name, model_dir, run_dir))
        report["parts"][name] = part
        save()
    if "eval_hf" in parts:
        report["parts"]["eval_hf"] = evaluation_part(model_dir, work, args.smoke)
        save()
    print(json.dumps(report, indent=2, default=str))
    return 0 if all(p.get("exit_code", 0) == 0 for p in report["parts"].values()) else 1


def evaluation_part(model_dir: Path, work: Path, smoke: bool) -> dict:
    """Evaluation throughput through `python -m openrs.evaluate` (HF engine)."""
    eval_dir = work / "eval_hf"
    eval_args = [
        f"model.name_or_path={model_dir}", f"output_dir={eval_dir}", "eval.engine=hf", "eval.k=4",
        "eval.max_problems=32", f"eval.max_new_tokens={32 if smoke else 256}", "eval.batch_size=32",
        f"eval.dtype={'float32' if smoke else 'bfloat16'}",
    ]  # fmt: skip
    part = run_part("eval_hf", [sys.executable, "-m", "openrs.evaluate", *eval_args], 180, work)
    if part["exit_code"] == 0:
        results = json.loads((eval_dir / "results.json").read_text())
        part.update(tokens_per_s=results["tokens_per_s"], wall_time_s=results["wall_time_s"])
    return part


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "disabled")
    sys.exit(main())
