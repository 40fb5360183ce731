"""Pre-flight checks on the machine, before any GPU is held: GPU count, disk space, W&B mode."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from openrs.checks import check_disk, check_machine, model_params
from openrs.errors import ConfigError
from tests.conftest import compose_config, free_port, run_openrs


def test_the_layout_needs_enough_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    import openrs.checks as checks

    monkeypatch.setattr(checks, "deepspeed_installed", lambda: True)  # it needs CUDA: cannot be installed here
    cfg = compose_config("+experiment=exp3")  # 3 training processes + 1 vLLM server GPU
    # GPU counts are parameters: this machine has none
    with pytest.raises(
        ConfigError,
        match=r"\(3 training \+ 1 for the vLLM server\) needs 4 GPUs and 2 are visible. Set launcher.num_processes=1",
    ):
        check_machine(cfg, cuda_available=True, gpu_count=2)
    check_machine(cfg, cuda_available=True, gpu_count=4)


def qwen2_params(*, tie_word_embeddings: bool) -> int:
    """The parameter count of the Qwen2-1.5B architecture (DeepSeek-R1-Distill-Qwen-1.5B and Qwen2.5-Math-1.5B share
    it; their config.json on the hub: vocab 151936, hidden 1536, MLP 8960, 28 layers, 12 heads, 2 KV heads; the
    distill unties the embeddings, Qwen2.5-Math ties them), counted by transformers on the meta device (no memory)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
        num_key_value_heads=2, tie_word_embeddings=tie_word_embeddings,
    )  # fmt: skip
    with torch.device("meta"):
        return Qwen2ForCausalLM(config).num_parameters()


@pytest.mark.parametrize(
    ("model", "tied"), [("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", False), ("Qwen/Qwen2.5-Math-1.5B", True)]
)
def test_disk_space_for_the_checkpoints_of_a_hub_model(tmp_path: Path, model: str, tied: bool) -> None:
    """A hub model is sized before any download (the hub is offline here) and the disk check refuses exactly when
    the checkpoints this run keeps would not fit: exp3 saves every 50 of 500 steps with no save_total_limit, so 10
    checkpoints of bf16 weights (2 bytes) plus Adam's two fp32 moments (8 bytes) per parameter, then the bf16 final
    model."""
    cfg = compose_config("+experiment=exp3", f"model.name_or_path={model}")
    params = model_params(cfg)
    assert params == qwen2_params(tie_word_embeddings=tied)
    need = 10 * params * (2 + 8) + params * 2
    with pytest.raises(ConfigError, match=f"About {need / 1e9:.1f} GB of checkpoints .* would not fit"):
        check_disk(cfg, tmp_path, params, free_bytes=need - 1)
    check_disk(cfg, tmp_path, params, free_bytes=need)
    lora = compose_config("+experiment=exp3", f"model.name_or_path={model}", "peft=lora")
    need_lora = 10 * params * 2 + params * 2  # LoRA: no Adam moments; bf16 weights per checkpoint (an upper bound)
    with pytest.raises(ConfigError, match="would not fit"):
        check_disk(lora, tmp_path, model_params(lora), free_bytes=need_lora - 1)
    check_disk(lora, tmp_path, model_params(lora), free_bytes=need_lora)


def test_tiny_model_size_is_read_from_its_weights() -> None:
    from openrs.tiny_model import ensure_tiny_model

    cfg = compose_config(f"model.name_or_path={ensure_tiny_model()}")
    assert 10_000 < model_params(cfg) < 10_000_000


def test_online_wandb_that_cannot_work_falls_back_to_offline(tmp_path: Path) -> None:
    """WANDB_MODE=online (or logger.mode=online) without a key, or with a key and no reachable server (a bogus key,
    no network: W&B itself waits about 100 s, then fails): one line, then the run trains and logs offline."""
    no_server = {"HOME": str(tmp_path), "WANDB_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    cases = [
        ({**no_server, "WANDB_MODE": "online", "WANDB_API_KEY": ""}, [], "WANDB_MODE=online asks", "no W&B API key"),
        ({**no_server, "WANDB_API_KEY": "bogus" * 8}, ["logger.mode=online"], "logger.mode=online asks",
         "cannot be reached"),
    ]  # fmt: skip
    for env, overrides, asked, problem in cases:
        run_dir = tmp_path / f"run{len(overrides)}"
        started = time.time()
        result = run_openrs("train.max_steps=1", *overrides, f"hydra.run.dir={run_dir}", cwd=tmp_path, env=env,
                            timeout=300)  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert asked in result.stderr and problem in result.stderr and "logging offline instead" in result.stderr
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["wandb"]["mode"] == "offline" and summary["status"] == "completed"
        assert time.time() - started < 120  # no 100 s wait for a server that is not there


def test_a_wandb_mode_that_does_not_exist_is_named(tmp_path: Path) -> None:
    result = run_openrs("train.max_steps=1", cwd=tmp_path, env={"WANDB_MODE": "onlin"})
    assert result.returncode == 2
    assert "WANDB_MODE=onlin is not a W&B mode; use one of online, run, offline, dryrun, disabled" in result.stderr


def test_cpu_runs_say_threads_and_dtype_and_warn_on_emulated_bf16(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    import openrs.provenance as provenance
    from openrs.train import say_cpu_choices

    assert provenance.cpu_has_bf16() in (True, False)  # this Linux machine has /proc/cpuinfo
    assert provenance.hardware()["torch_threads"] == torch.get_num_threads()
    # the CPU's flags are a fact of the machine: which one this is cannot be chosen, so both answers are faked
    monkeypatch.setattr(provenance, "cpu_has_bf16", lambda: False)
    with caplog.at_level("INFO", logger="openrs.train"):
        say_cpu_choices(compose_config("model.dtype=bfloat16", "train.device=cpu"))
    assert f"CPU run: {torch.get_num_threads()} torch threads per process (OMP_NUM_THREADS), computing in bfloat16" in (
        caplog.text
    )
    assert "model.dtype=float32 is faster on this machine" in caplog.text
    caplog.clear()
    monkeypatch.setattr(provenance, "cpu_has_bf16", lambda: True)
    with caplog.at_level("INFO", logger="openrs.train"):
        say_cpu_choices(compose_config("model.dtype=bfloat16", "train.device=cpu"))
    assert "computing in bfloat16" in caplog.text and "faster on this machine" not in caplog.text
