"""The paper's recipes, pinned through the dry-run plan (Open-RS, arXiv 2503.16219; open-rs recipes/grpo.yaml)."""

from __future__ import annotations

import dataclasses
import time

import pytest
from trl import GRPOConfig

from openrs.config import R1_SYSTEM_PROMPT
from openrs.plan import build_plan
from tests.conftest import compose_config, dry_run

PLAN_KEYS = {"grpo", "rewards", "model", "dataset", "length", "peft", "rollout", "launcher", "logger"}

PAPER_GRPO = {
    "learning_rate": 1e-6,
    "lr_scheduler_type": "cosine_with_min_lr",
    "lr_scheduler_kwargs": {"min_lr_rate": 0.1},
    "warmup_steps": 0.1,  # transformers 5 takes the warmup ratio as warmup_steps < 1
    "max_steps": 500,
    "save_steps": 50,
    "seed": 42,
    "num_generations": 6,
    "per_device_train_batch_size": 6,
    "gradient_accumulation_steps": 4,
    "gradient_checkpointing": True,
    "gradient_checkpointing_kwargs": {"use_reentrant": False},
    "temperature": 0.7,
    "bf16": True,
    "beta": 0.04,
    "loss_type": "grpo",
    "scale_rewards": "group",
    "epsilon": 0.2,
    "epsilon_high": None,
    "num_iterations": 1,
    "use_vllm": True,
    "vllm_mode": "server",
    "logging_steps": 1,
    "log_completions": True,
    "model_init_kwargs": {"dtype": "bfloat16", "attn_implementation": "flash_attention_2", "revision": "main"},
}

EXPERIMENTS = {
    "exp1": {
        "dataset": "knoveleng/open-s1",
        "rewards": [("accuracy", 1.0, {}), ("format", 1.0, {})],
        "max_completion_length": 4096,
    },
    "exp2": {
        "dataset": "knoveleng/open-rs",
        "rewards": [("accuracy", 1.0, {}), ("format", 1.0, {})],
        "max_completion_length": 3584,
    },
    "exp3": {
        "dataset": "knoveleng/open-rs",
        "rewards": [
            ("format", 1.0, {}),
            (
                "cosine",
                2.0,
                {
                    "max_len": 3584,
                    "min_value_wrong": 0.0,
                    "max_value_wrong": -0.5,
                    "min_value_correct": 0.5,
                    "max_value_correct": 1.0,
                    "mode": "faithful",
                },
            ),
        ],
        "max_completion_length": 3584,
    },
}
# exp3 with the cosine reward in "fixed" mode (tokens, clamped); max_len follows the 3584-token budget.
EXPERIMENTS["exp3_fixed"] = {
    **EXPERIMENTS["exp3"],
    "rewards": [
        EXPERIMENTS["exp3"]["rewards"][0],
        ("cosine", 2.0, {**EXPERIMENTS["exp3"]["rewards"][1][2], "mode": "fixed"}),
    ],
}


def plan_for(*overrides: str) -> dict:
    return build_plan(compose_config(*overrides), "/tmp/openrs-test-run")


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_experiment_matches_the_paper(experiment: str) -> None:
    expected = EXPERIMENTS[experiment]
    plan = plan_for(f"+experiment={experiment}")
    assert set(plan) >= PLAN_KEYS
    for key, value in PAPER_GRPO.items():
        assert plan["grpo"][key] == value, key
    assert plan["grpo"]["max_completion_length"] == expected["max_completion_length"]
    assert plan["grpo"]["reward_weights"] == [weight for _, weight, _ in expected["rewards"]]
    assert [(r["name"], r["weight"], r["params"]) for r in plan["rewards"]] == expected["rewards"]
    assert plan["model"] == {
        "name_or_path": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
        "revision": "main",
        "dtype": "bfloat16",
        "attn_implementation": "flash_attention_2",
    }
    assert plan["dataset"]["source"] == "hub"
    assert plan["dataset"]["path"] == expected["dataset"]
    assert plan["dataset"]["split"] == "train"
    assert (plan["dataset"]["prompt_column"], plan["dataset"]["answer_column"]) == ("problem", "solution")
    assert plan["dataset"]["system_prompt"] == R1_SYSTEM_PROMPT
    assert plan["length"]["max_prompt_length"] == 512
    assert plan["length"]["max_completion_length"] == expected["max_completion_length"]
    assert plan["length"]["vllm_max_model_length"] == 512 + expected["max_completion_length"]
    assert plan["grpo"]["vllm_max_model_length"] == 512 + expected["max_completion_length"]
    assert plan["rollout"]["gpu_memory_utilization"] == 0.7
    assert plan["launcher"]["name"] == "accelerate"
    assert plan["launcher"]["training_gpus"] == 3
    assert plan["launcher"]["vllm_server_gpus"] == 1
    assert plan["launcher"]["accelerate_config"].endswith("zero2.yaml")
    assert plan["peft"]["enabled"] is False


def test_system_prompt_is_the_recipes_verbatim() -> None:
    assert "\\boxed{{}} ." in R1_SYSTEM_PROMPT  # the original never formatted the doubled braces
    assert R1_SYSTEM_PROMPT.endswith("Note that respond by English, NOT use other languages.")
    assert "  " not in R1_SYSTEM_PROMPT


@pytest.mark.parametrize("experiment", [None, "exp1", "exp2", "exp3", "exp3_fixed"])
def test_every_grpo_argument_is_a_trl_field(experiment: str | None) -> None:
    plan = plan_for(*([f"+experiment={experiment}"] if experiment else []))
    fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    assert set(plan["grpo"]) <= fields, set(plan["grpo"]) - fields


def test_tiny_plan_builds_a_real_grpo_config(tmp_path) -> None:
    plan = plan_for()
    args = GRPOConfig(**dict(plan["grpo"], output_dir=str(tmp_path)))
    assert args.loss_type == "grpo" and args.beta == 0.04 and args.num_generations == 8
    assert args.use_vllm is False


def test_dry_run_command_prints_one_json_object_fast(tmp_path) -> None:
    started = time.time()
    plan = dry_run("+experiment=exp3", "algorithm=dr_grpo", "peft=lora", "train.seed=7", tmp_path=tmp_path)
    assert time.time() - started < 60  # generous: the point is that nothing is loaded or downloaded
    assert plan["name"] == "exp3"
    assert plan["grpo"]["loss_type"] == "dr_grpo" and plan["grpo"]["scale_rewards"] == "none"
    assert plan["grpo"]["beta"] == 0.0 and plan["grpo"]["seed"] == 7
    assert plan["peft"]["enabled"] is True and plan["peft"]["r"] == 32
    assert plan["grpo"]["run_name"] == "exp3-algorithm=dr_grpo,peft=lora,train.seed=7"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("grpo_2025", {"loss_type": "grpo", "beta": 0.04, "scale_rewards": "group", "epsilon_high": None}),
        ("dr_grpo", {"loss_type": "dr_grpo", "beta": 0.0, "scale_rewards": "none"}),
        ("dapo", {"loss_type": "dapo", "epsilon_high": 0.28, "mask_truncated_completions": True, "beta": 0.0}),
        ("gspo", {"importance_sampling_level": "sequence", "epsilon": 3e-4, "epsilon_high": 4e-4}),
    ],
)
def test_algorithm_options_map_to_trl(algorithm: str, expected: dict) -> None:
    grpo = plan_for("+experiment=exp3", f"algorithm={algorithm}")["grpo"]
    for key, value in expected.items():
        assert grpo[key] == value, key


def test_length_budget_derives_vllm_context_and_respects_explicit_value() -> None:
    assert plan_for("+experiment=exp3", "length=l8192")["grpo"]["vllm_max_model_length"] == 512 + 8192
    explicit = plan_for("+experiment=exp3", "length.vllm_max_model_length=4608")
    assert explicit["grpo"]["vllm_max_model_length"] == 4608


def test_colocated_vllm_passes_memory_and_parallel_settings() -> None:
    grpo = plan_for("+experiment=exp3", "rollout=vllm_colocate", "launcher=local")["grpo"]
    assert grpo["vllm_mode"] == "colocate"
    assert grpo["vllm_gpu_memory_utilization"] == 0.3
    assert grpo["vllm_tensor_parallel_size"] == 1
    assert "vllm_server_port" not in grpo


def test_device_option_reaches_trl_and_the_machine_check() -> None:
    from openrs.checks import check_machine
    from openrs.errors import ConfigError

    assert plan_for("train.device=cpu")["grpo"]["use_cpu"] is True
    assert plan_for()["grpo"]["use_cpu"] is False  # auto: CUDA when available
    with pytest.raises(ConfigError, match="train.device=cuda"):
        check_machine(compose_config("train.device=cuda"), cuda_available=False)
