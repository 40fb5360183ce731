"""The memory plan as users meet it: in the dry run's JSON, as the pre-flight's lines, as the error that stops a
run that cannot fit before any download, and as the fixes it offers (each re-planned from its own overrides)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from openrs.accelerate_files import accelerate_config_path, deepspeed_settings
from openrs.errors import ConfigError
from openrs.memory.gpus import GIB, known_gpu
from openrs.memory.known import KNOWN_CONFIGS, find_shape
from openrs.memory.layout import layout_of
from openrs.memory.plan import Verdict, memory_plan
from openrs.memory.report import check_memory, gpu_of, memory_section
from tests.conftest import compose_config, run_openrs


def plan_of(*overrides: str, gpu: str = "A40"):
    cfg = compose_config(*overrides)
    shape = find_shape(str(cfg.model.name_or_path), online=False).shape
    return memory_plan(shape, layout_of(cfg), known_gpu(gpu))


def test_the_dry_run_says_exp3_fits_on_four_a40s(tmp_path: Path) -> None:
    result = run_openrs("+experiment=exp3", "dry_run=true", "cost.gpu_type=A40", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    memory = json.loads(result.stdout)["memory"]
    assert memory["verdict"] == "fits"
    assert memory["gpu"] == {"type": "A40", "memory_gib": 44.99, "from": "cost.gpu_type"}
    training = memory["training_gpu"]
    assert training["count"] == 3 and training["verdict"] == "fits" and training["peak_gib"] < 0.9 * 44.99
    assert training["parts_gib"]["reference"] == training["parts_gib"]["weights"] > 3  # beta 0.04: a frozen copy
    assert training["activations_without_checkpointing_gib"] > 44.99 > training["activations_with_checkpointing_gib"]
    server = memory["vllm_server_gpu"]
    assert server["count"] == 1 and server["verdict"] == "fits" and server["sequences_at_once"] >= 6
    assert memory["model"]["parameters"] == 1_777_088_000 and memory["fixes"] == []


def test_without_a_gpu_type_the_dry_run_says_how_to_judge(tmp_path: Path) -> None:
    result = run_openrs("+experiment=exp3", "dry_run=true", cwd=tmp_path, timeout=120)
    memory = json.loads(result.stdout)["memory"]
    assert memory["verdict"] == "not judged" and "cost.gpu_type=A40" in memory["why"]


def test_an_unknown_card_needs_its_memory() -> None:
    cfg = compose_config("+experiment=exp3", "cost.gpu_type=B300")
    assert gpu_of(cfg)[0] is None and "memory.gpu_memory_gib" in gpu_of(cfg)[1]
    gpu, source = gpu_of(compose_config("+experiment=exp3", "cost.gpu_type=B300", "memory.gpu_memory_gib=268"))
    assert gpu.memory == 268 * GIB and "memory.gpu_memory_gib" in source


def test_card_names_match_their_longest_entry() -> None:
    assert known_gpu("NVIDIA A100-SXM4-80GB").memory == 80 * GIB
    assert known_gpu("A100").memory == 40 * GIB
    assert known_gpu("NVIDIA L40S").memory == known_gpu("A40").memory == 46068 << 20
    assert known_gpu("L4").memory < known_gpu("L40").memory
    assert known_gpu("NVIDIA GeForce RTX 4090").memory == 24564 << 20 and known_gpu("B300") is None
    # a key is a whole model number: not A40 in RTX A4000 (16 GB) nor A100 in RTX A1000 (8 GB)
    assert known_gpu("NVIDIA RTX A4000") is None and known_gpu("NVIDIA RTX A1000") is None
    assert known_gpu("NVIDIA H100 80GB HBM3").memory == 81559 << 20


def test_checkpointing_is_what_exp3_needs_on_a40s() -> None:
    plan = plan_of("+experiment=exp3", "train.gradient_checkpointing=false", "cost.gpu_type=A40")
    assert plan.verdict == Verdict.does_not_fit
    cfg = compose_config("+experiment=exp3", "train.gradient_checkpointing=false", "cost.gpu_type=A40")
    fixes = memory_section(cfg, online=False)["fixes"]
    assert fixes[0]["overrides"][0] == "train.per_device_train_batch_size=2"  # without checkpointing, 2 x 4096 fit
    assert fixes[1]["overrides"] == ["train.gradient_checkpointing=true"]
    assert all(fix["verdict"] == "fits" for fix in fixes)


@pytest.mark.parametrize("gpu", ["RTX 4090", "T4"])
def test_each_fix_fits_when_its_overrides_are_applied(gpu: str) -> None:
    """The fixes' overrides, composed as a user would type them, give the plan the fix promised."""
    cfg = compose_config("+experiment=exp3", f"cost.gpu_type={gpu}")
    section = memory_section(cfg, online=False)
    assert section["verdict"] == "does not fit" and section["fixes"]
    for fix in section["fixes"]:
        again = plan_of("+experiment=exp3", *fix["overrides"], gpu=gpu)
        assert again.verdict == Verdict.fits and round(again.training.peak / GIB, 2) == fix["training_peak_gib"]
    if gpu == "T4":  # no single change is enough on 15 GiB: the first pair of kinds that is, mildest variants first
        assert len(section["fixes"]) == 1 and ";" in section["fixes"][0]["change"]
        assert section["fixes"][0]["overrides"] == [
            "train.per_device_train_batch_size=3", "train.gradient_accumulation_steps=8", "peft=lora"
        ]  # fmt: skip


def test_a_smaller_micro_batch_keeps_the_completions_per_step() -> None:
    cfg = compose_config("+experiment=exp3", "cost.gpu_type=RTX 4090")
    first = memory_section(cfg, online=False)["fixes"][0]
    assert first["overrides"] == ["train.per_device_train_batch_size=3", "train.gradient_accumulation_steps=8"]


def test_a_colocated_vllm_is_offered_a_share_that_holds_a_group() -> None:
    """One H100 (full fine-tuning with float32 master weights takes 45 GiB before vLLM: on an A40 no share fits)."""
    overrides = ("+experiment=exp3", "rollout=vllm_colocate", "rollout.gpu_memory_utilization=0.6", "launcher=local",
                 "cost.gpu_type=H100")  # fmt: skip
    cfg = compose_config(*overrides)
    section = memory_section(cfg, online=False)
    assert section["verdict"] == "does not fit"
    share = [fix for fix in section["fixes"] if "vLLM share" in fix["change"]][0]
    value = float(share["overrides"][0].split("=")[1])
    assert value < 0.6
    plan = plan_of(*overrides, *share["overrides"], gpu="H100")
    assert plan.colocated.sequences >= 6 and plan.verdict == Verdict.fits


def test_a_server_too_small_for_one_sequence_does_not_fit() -> None:
    plan = plan_of("+experiment=exp3", "rollout.gpu_memory_utilization=0.08")
    assert plan.server.sequences < 1 and plan.server_verdict == Verdict.does_not_fit
    assert plan.training_verdict == Verdict.fits and plan.verdict == Verdict.does_not_fit


def test_the_shipped_accelerate_configs_are_read() -> None:
    assert deepspeed_settings(accelerate_config_path("zero2")).zero_stage == 2
    assert deepspeed_settings(accelerate_config_path("zero3")).zero_stage == 3
    assert deepspeed_settings(accelerate_config_path("ddp")).zero_stage is None
    zero3 = plan_of("+experiment=exp3", "launcher.accelerate_config=zero3")
    zero2 = plan_of("+experiment=exp3")
    assert zero3.training.parts["weights"] * 3 == pytest.approx(zero2.training.parts["weights"], abs=3)


def test_lora_drops_the_reference_and_the_full_optimizer() -> None:
    full, lora = plan_of("+experiment=exp3"), plan_of("+experiment=exp3_lora")
    assert lora.training.parts["reference"] == 0 and lora.training.parts["optimizer"] == 0
    assert 0 < lora.training.parts["adapter"] < full.training.parts["optimizer"] / 10


def test_the_known_shapes_are_the_built_models() -> None:
    from openrs.tiny_model import ensure_tiny_model

    built = json.loads((Path(ensure_tiny_model()) / "config.json").read_text())
    assert find_shape(str(ensure_tiny_model())).shape == find_shape("openrs-tiny").shape
    assert find_shape("openrs-tiny").shape.parameters() == 117_440 and built["model_type"] == "qwen2"


@pytest.mark.slow
def test_smollm2s_known_shape_is_the_converted_model(smollm2_dir: Path) -> None:
    assert find_shape(str(smollm2_dir)).shape == find_shape("smollm2-135m").shape


def test_an_unknown_model_offline_is_not_judged() -> None:
    found = find_shape("someone/unknown-model", online=True)  # HF_HUB_OFFLINE=1 in tests: the fetch fails at once
    assert found.shape is None and "could not be fetched" in found.source


def test_an_unsupported_family_says_which_are_known(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gemma3", "vocab_size": 10}))
    found = find_shape(str(tmp_path))
    assert found.shape is None and "qwen2" in found.source and "gemma3" in found.source


def gpu_machine(monkeypatch: pytest.MonkeyPatch, count: int = 4) -> None:
    """A CUDA machine with `count` GPUs and DeepSpeed, mocked: neither can exist on this CPU-only machine."""
    import torch

    import openrs.checks

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(openrs.checks, "deepspeed_installed", lambda: True)


def test_a_run_that_cannot_fit_stops_before_any_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from openrs.run import run

    gpu_machine(monkeypatch)
    downloads = []
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda *a, **k: downloads.append(a))
    cfg = compose_config("+experiment=exp3", "cost.gpu_type=RTX 4090", "logger=none")
    with pytest.raises(ConfigError) as refused:
        run(cfg, tmp_path / "run", ["+experiment=exp3"])
    message = str(refused.value)
    assert "nothing was downloaded" in message and "verdict: does not fit" in message
    assert "train.per_device_train_batch_size=3 train.gradient_accumulation_steps=8" in message
    assert "memory.check=warn" in message
    assert downloads == [] and not (tmp_path / "run").exists()


def test_warn_prints_the_plan_and_goes_on(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    cfg = compose_config("+experiment=exp3", "cost.gpu_type=RTX 4090", "memory.check=warn")
    with caplog.at_level(logging.INFO, logger="openrs.memory.report"):
        check_memory(cfg, cuda_available=True)
    text = caplog.text
    assert "Memory plan per GPU, RTX 4090" in text and "does not fit" in text and "Changes that make it fit" in text


def test_a_fitting_run_prints_its_plan_and_off_prints_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="openrs.memory.report"):
        check_memory(compose_config("+experiment=exp3", "cost.gpu_type=A40"), cuda_available=True)
        assert "verdict: fits" in caplog.text and "vLLM server GPU x1" in caplog.text
        caplog.clear()
        check_memory(compose_config("+experiment=exp3", "cost.gpu_type=T4", "memory.check=off"), cuda_available=True)
        check_memory(compose_config("+experiment=exp3", "cost.gpu_type=T4"), cuda_available=False)  # a CPU run
    assert caplog.text == ""


def test_the_known_configs_are_all_supported() -> None:
    for name in KNOWN_CONFIGS:
        assert find_shape(name, online=False).shape is not None, name


def test_a_hub_model_outside_the_table_is_read_from_its_config_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Online, only `config.json` is fetched (the hub is mocked: it cannot be reached from here)."""
    import huggingface_hub

    asked = []

    def fake_download(repo_id: str, filename: str, **kwargs) -> str:
        asked.append((repo_id, filename, kwargs.get("revision")))
        path = tmp_path / filename
        path.write_text(json.dumps({**KNOWN_CONFIGS["Qwen/Qwen2.5-Math-1.5B"], "model_type": "qwen2"}))
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    found = find_shape("someone/math-1.5b-variant", revision="v2", online=True)
    assert asked == [("someone/math-1.5b-variant", "config.json", "v2")]
    assert found.shape.parameters() == 1_543_714_304 and "hub's config.json" in found.source
    assert find_shape("someone/other", online=False).shape is None and len(asked) == 1  # offline: nothing asked


def test_a_gpu_memory_of_zero_is_refused_by_name(tmp_path: Path) -> None:
    result = run_openrs("memory.gpu_memory_gib=0", "dry_run=true", cwd=tmp_path, timeout=120)
    assert result.returncode != 0 and "memory.gpu_memory_gib=0.0" in result.stderr and "Traceback" not in result.stderr


def test_an_accelerate_file_with_an_unknown_zero_stage_is_named(tmp_path: Path) -> None:
    config = tmp_path / "my_zero.yaml"
    config.write_text("distributed_type: DEEPSPEED\ndeepspeed_config:\n  zero_stage: two\n")
    result = run_openrs("+experiment=exp3", f"launcher.accelerate_config={config}", "cost.gpu_type=A40",
                        "dry_run=true", cwd=tmp_path, timeout=120)  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{config}: deepspeed_config.zero_stage='two'" in result.stderr
