"""Training precision (openrs.precision): float32 weights for the optimizer in every layout, and a mixed precision that
follows model.dtype into accelerate whatever the accelerate config file says."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrs.errors import ConfigError
from openrs.precision import training_precision
from tests.conftest import compose_config


@pytest.mark.parametrize(
    ("overrides", "load", "mixed", "master"),
    [
        (["+experiment=exp3"], "bfloat16", "bf16", "deepspeed"),  # 3 ranks under ZeRO-2
        (["+experiment=exp3", "launcher.accelerate_config=ddp"], "float32", "bf16", "policy"),
        (["+experiment=exp3", "rollout=vllm_colocate", "launcher=local"], "float32", "bf16", "policy"),
        (["+experiment=exp3", "rollout=vllm_server", "launcher=local"], "float32", "bf16", "policy"),
        (["+experiment=exp3_lora", "launcher.accelerate_config=ddp"], "bfloat16", "bf16", "lora_adapters"),
        (["+experiment=exp3", "train.device=cpu"], "float32", "bf16", "policy"),  # zero2 becomes ddp on CPU
        ([], "float32", "no", "float32"),  # the tiny default
    ],
    ids=["zero2", "ddp", "colocate", "server", "lora", "cpu", "tiny"],
)
def test_every_layout_keeps_float32_weights_for_the_optimizer(overrides, load, mixed, master) -> None:
    cfg = compose_config(*overrides)
    precision = training_precision(cfg)
    assert (precision.load_dtype, precision.mixed_precision, precision.master_weights) == (load, mixed, master)
    from openrs.plan import build_plan

    plan = build_plan(cfg, "out")
    assert plan["grpo"]["model_init_kwargs"]["dtype"] == load and plan["grpo"]["bf16"] == (mixed == "bf16")
    assert plan["precision"] == precision.as_dict()


def test_training_refuses_an_undecided_dtype() -> None:
    from openrs.checks import check_config

    with pytest.raises(ConfigError, match="model.dtype=auto: training needs a definite precision. Set model.dtype="):
        check_config(compose_config("model.dtype=auto"))


def accelerate_env(argv: list[str]) -> dict[str, str]:
    """The environment `accelerate launch` gives the ranks for our command line: accelerate's own parser, its
    validation against the config file, and its DeepSpeed environment (what the ranks' TrainingArguments read)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(argv[3:])
    args, defaults, from_config = _validate_launch_command(args)
    if not args.use_deepspeed:
        return prepare_multi_gpu_env(args)
    fields = list(defaults.deepspeed_config) + (["mixed_precision"] if from_config else [])
    args.deepspeed_fields_from_accelerate_config = ",".join(fields)
    return prepare_deepspeed_cmd_env(args)[1]


@pytest.mark.parametrize(("dtype", "expected"), [("float32", "no"), ("bfloat16", "bf16"), ("float16", "fp16")])
@pytest.mark.parametrize("config", ["zero2", "zero3", "user"])
def test_accelerate_gets_the_mixed_precision_of_the_model(tmp_path: Path, dtype: str, expected: str,
                                                           config: str) -> None:  # fmt: skip
    """zero2/zero3 say `mixed_precision: bf16`, a user's file may say fp16: a float32 model then started DeepSpeed in
    bf16 while the trainer's bf16 flag was off, and transformers refused the start (fill_match). The command line's
    --mixed_precision now wins over the file."""
    from openrs.launch import accelerate_argv

    if config == "user":
        user = tmp_path / "mine.yaml"
        user.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: DEEPSPEED\nmixed_precision: fp16\n"
                        "deepspeed_config:\n  zero_stage: 1\nnum_machines: 1\nuse_cpu: false\n")  # fmt: skip
        config = str(user)
    cfg = compose_config("+experiment=exp3", f"model.dtype={dtype}", f"launcher.accelerate_config={config}")
    env = accelerate_env(accelerate_argv(cfg, [], tmp_path))
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert env["ACCELERATE_MIXED_PRECISION"] == expected
    assert "mixed_precision" not in env["ACCELERATE_CONFIG_DS_FIELDS"].split(",")  # not taken from the file


def test_a_ddp_launch_gets_the_mixed_precision_of_the_model(tmp_path: Path) -> None:
    from openrs.launch import accelerate_argv

    cfg = compose_config("+experiment=exp3", "model.dtype=float32", "launcher.accelerate_config=ddp")
    assert accelerate_env(accelerate_argv(cfg, [], tmp_path))["ACCELERATE_MIXED_PRECISION"] == "no"


def changed_fraction(before: dict, after: dict) -> float:
    """The fraction of weights whose value differs (in the trained dtype) between two state dicts."""
    changed = total = 0
    for name, new in after.items():
        old = before[name].to(new.dtype)
        changed += int((old != new).sum())
        total += new.numel()
    return changed / total


@pytest.mark.slow
def test_bf16_training_at_the_papers_lr_moves_the_weights_as_float32_does(smollm2_dir: Path, tmp_path: Path) -> None:
    """SmolLM2-135M, 2 GRPO steps at the paper's lr 1e-6 (constant), bf16 compute against float32. With bf16 weights
    updated in place, about 2% of the weights changed (most AdamW updates round away); with float32 master weights
    under bf16 autocast the same fraction changes as in a float32 run."""
    from safetensors.torch import load_file

    from openrs.train import train

    start = load_file(str(next(smollm2_dir.glob("*.safetensors"))))
    fractions = {}
    for dtype in ("float32", "bfloat16"):
        cfg = compose_config(
            "model=smollm2_135m", f"model.dtype={dtype}", "train.device=cpu", "logger=none", "guard=off",
            "reward.functions=[{name: 'tests.learning_rewards:digit_fraction'}]", "dataset.system_prompt=null",
            "optimizer.learning_rate=1e-6", "optimizer.lr_scheduler_type=constant", "optimizer.warmup_ratio=0",
            "optimizer.min_lr_rate=null", "train.max_steps=2", "train.save_steps=100",
            "train.per_device_train_batch_size=4", "train.gradient_accumulation_steps=1", "train.num_generations=4",
            "train.gradient_checkpointing=false", "length.max_prompt_length=64", "length.max_completion_length=16",
            "logger.sample_completions_every=0",
        )  # fmt: skip
        summary = train(cfg, tmp_path / dtype, dtype, "precision")
        assert summary["status"] == "completed", summary.get("error")
        trained = load_file(str(tmp_path / dtype / "final_model" / "model.safetensors"))
        fractions[dtype] = changed_fraction(start, trained)
    assert fractions["float32"] > 0.5, fractions
    assert fractions["bfloat16"] >= 0.9 * fractions["float32"], fractions


@pytest.mark.parametrize(("overrides", "expected"), [
    (["model.dtype=bfloat16"], "bfloat16"),  # float32 master policy: the frozen reference in the compute dtype
    (["model.dtype=float32"], "float32"),  # no mixed precision: nothing to cast
    (["model.dtype=bfloat16", "peft.enabled=true"], "bfloat16"),  # PEFT: the base loads in bf16, left as it is
], ids=["policy", "float32", "lora"])  # fmt: skip
def test_the_reference_model_runs_in_the_compute_dtype(overrides: list[str], expected: str) -> None:
    """train.cast_reference on a real (tiny) model loaded as the trainer loads it (float32 for a master-weight
    policy): the frozen reference, only ever run under autocast, would otherwise double its memory. The trainer is a
    stand-in holding that model: building TRL's trainer for this one attribute would add a minute of model loads."""
    from types import SimpleNamespace

    import torch
    from transformers import AutoModelForCausalLM

    from openrs.tiny_model import ensure_tiny_model
    from openrs.train import cast_reference

    cfg = compose_config(*overrides)
    load = getattr(torch, training_precision(cfg).load_dtype)
    trainer = SimpleNamespace(ref_model=AutoModelForCausalLM.from_pretrained(ensure_tiny_model(), dtype=load))
    cast_reference(cfg, trainer)
    assert {p.dtype for p in trainer.ref_model.parameters()} == {getattr(torch, expected)}
