"""Bad input gets a clear error naming the key and the fix, before any model or dataset is loaded."""

from __future__ import annotations

import json
import time

import pytest
import torch

from openrs.checks import check_config, check_machine
from openrs.data.prepare import prepare_dataset
from openrs.errors import ConfigError
from tests.conftest import compose_config, run_openrs


def failing(*overrides: str, tmp_path) -> str:
    """Run the command, assert it fails, return what it printed on stderr."""
    result = run_openrs(*overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip()  # the explanation goes to stderr (stdout may carry library notices)
    return result.stderr


def test_unknown_key_names_the_key(tmp_path) -> None:
    err = failing("model.nme_or_path=x", tmp_path=tmp_path)
    assert "nme_or_path" in err and "model.nme_or_path" in err


def test_unknown_key_added_with_plus_is_rejected_by_the_schema(tmp_path) -> None:
    err = failing("+train.lerning_rate=1", tmp_path=tmp_path)
    assert "lerning_rate" in err and "TrainConfig" in err


def test_wrong_type_names_the_key(tmp_path) -> None:
    err = failing("train.max_steps=many", tmp_path=tmp_path)
    assert "train.max_steps" in err and "many" in err


def test_invalid_choice_lists_the_valid_ones(tmp_path) -> None:
    err = failing("model.dtype=float8", tmp_path=tmp_path)
    assert "model.dtype" in err and "bfloat16" in err


def test_unknown_group_option_lists_the_available_ones(tmp_path) -> None:
    err = failing("algorithm=ppo", tmp_path=tmp_path)
    assert "grpo_2025" in err and "dr_grpo" in err


def test_typo_inside_a_group_yaml_is_caught(tmp_path) -> None:
    (tmp_path / "extra" / "model").mkdir(parents=True)
    (tmp_path / "extra" / "model" / "typo.yaml").write_text("name_or_path: x\nattn_impl: sdpa\n")
    err = failing(f"hydra.searchpath=[file://{tmp_path / 'extra'}]", "model=typo", tmp_path=tmp_path)
    assert "attn_impl" in err


def test_local_dataset_needs_a_path(tmp_path) -> None:
    err = failing("dataset=jsonl", tmp_path=tmp_path)
    assert "dataset.path" in err


def test_indivisible_generation_batch_is_explained(tmp_path) -> None:
    err = failing("train.num_generations=3", tmp_path=tmp_path)
    assert "train.num_generations=3" in err and "divisible" in err


def test_one_generation_is_not_a_group() -> None:
    cfg = compose_config("train.num_generations=1", "train.per_device_train_batch_size=1")
    with pytest.raises(ConfigError, match="at least 2"):
        check_config(cfg)


def test_bad_reward_param_names_the_reward() -> None:
    cfg = compose_config("reward=format_cosine", "reward.functions.1.params.mode=bogus")
    with pytest.raises(ConfigError, match=r"reward.functions\[1\] \(cosine\)"):
        check_config(cfg)


def test_unknown_reward_lists_available() -> None:
    cfg = compose_config("reward.functions=[{name: acuracy}]")
    with pytest.raises(ConfigError, match="accuracy"):
        check_config(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
@pytest.mark.parametrize("experiment", ["exp1", "exp2", "exp3"])
def test_gpu_experiment_on_cpu_stops_fast_before_downloading(experiment: str, tmp_path) -> None:
    started = time.time()
    result = run_openrs(f"+experiment={experiment}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert time.time() - started < 60
    assert result.returncode == 2
    assert "needs a CUDA GPU" in result.stderr
    assert "python -m openrs" in result.stderr and "dry_run=true" in result.stderr
    assert "Traceback" not in result.stderr
    # nothing but Hydra's own record was written: no model, data or W&B files
    assert {p.name for p in (tmp_path / "run").iterdir()} <= {".hydra", "__main__.log"}


def test_gpu_requirements_name_each_offending_key() -> None:
    cfg = compose_config("+experiment=exp3")
    with pytest.raises(ConfigError) as info:
        check_machine(cfg, cuda_available=False)
    for key in ("rollout=vllm_server", "model.dtype=bfloat16", "launcher=accelerate"):
        assert key in str(info.value)
    check_machine(compose_config("+experiment=exp3", "launcher.accelerate_config=ddp"), cuda_available=True)  # a GPU


def test_missing_dataset_column_lists_present_columns(tmp_path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps({"question": f"What is {i}+1?", "answer": str(i + 1)}) for i in range(3)))
    cfg = compose_config("dataset=jsonl", f"dataset.path={data}")
    with pytest.raises(ConfigError) as info:
        prepare_dataset(cfg, tokenizer=None)
    message = str(info.value)
    assert "dataset.prompt_column='problem'" in message
    assert "['question', 'answer']" in message


def test_missing_dataset_column_via_the_command(tmp_path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"problem": "What is 1+1?", "answer": "2"}) + "\n")
    err = failing("dataset=jsonl", f"dataset.path={data}", "logger=none", tmp_path=tmp_path)
    assert "dataset.answer_column='solution'" in err and "['problem', 'answer']" in err
    assert "Traceback" not in err
