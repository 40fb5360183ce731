"""Pre-flight checks on the machine, before any GPU is held: GPU count, disk space, W&B mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from openrs.checks import check_disk, check_machine, check_wandb, checkpoint_bytes, model_params
from openrs.errors import ConfigError
from tests.conftest import compose_config


def test_the_layout_needs_enough_gpus() -> None:
    cfg = compose_config("+experiment=exp3")  # 3 training processes + 1 vLLM server GPU
    # GPU counts are parameters: this machine has none
    with pytest.raises(ConfigError, match=r"needs 4 GPUs .* and 2 are visible. Set launcher.num_processes=1"):
        check_machine(cfg, cuda_available=True, gpu_count=2)
    check_machine(cfg, cuda_available=True, gpu_count=4)


def test_disk_space_for_the_checkpoints(tmp_path: Path) -> None:
    cfg = compose_config("+experiment=exp3")  # bf16 full fine-tuning, save_total_limit from the experiment
    params = model_params(cfg)
    assert params == 1_777_088_000
    per_checkpoint = checkpoint_bytes(cfg, params)
    assert per_checkpoint == params * (2 + 8)  # bf16 weights + two fp32 Adam moments
    with pytest.raises(ConfigError, match="would not fit in the 10.0 GB free"):
        check_disk(cfg, tmp_path, params, free_bytes=10 * 10**9)
    check_disk(cfg, tmp_path, params, free_bytes=10**13)
    lora = compose_config("+experiment=exp3", "peft=lora")
    assert checkpoint_bytes(lora, params) == params * 2


def test_tiny_model_size_is_read_from_its_weights() -> None:
    from openrs.tiny_model import ensure_tiny_model

    cfg = compose_config(f"model.name_or_path={ensure_tiny_model()}")
    assert 10_000 < model_params(cfg) < 10_000_000


def test_online_wandb_without_a_key_stops_before_training(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc with a key
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="logger.mode=online but no W&B API key"):
        check_wandb(compose_config("logger.mode=online"))
    check_wandb(compose_config("logger.mode=offline"))
    check_wandb(compose_config("logger=none"))
