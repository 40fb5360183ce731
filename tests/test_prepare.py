"""Data preparation: conversational prompts, drop reasons counted, over-budget prompts dropped (never truncated)."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from openrs.data.prepare import prepare_dataset
from openrs.errors import ConfigError
from openrs.tiny_model import ensure_tiny_model
from tests.conftest import compose_config


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(ensure_tiny_model())


def write_rows(path, rows) -> str:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return str(path)


def test_rows_become_system_plus_user_prompts_with_the_gold(tokenizer) -> None:
    dataset, report = prepare_dataset(compose_config(), tokenizer)
    assert report.rows_read == report.rows_kept == 256
    row = dataset[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][0]["content"].startswith("A conversation between User and Assistant.")
    assert "\\boxed{" in row["solution"]
    assert set(dataset.column_names) == {"prompt", "solution"}


def test_every_drop_reason_is_counted(tmp_path, tokenizer) -> None:
    rows = [
        {"problem": "What is 2 + 2?", "solution": "\\boxed{4}"},
        {"problem": "   ", "solution": "\\boxed{1}"},
        {"problem": "What is 3 + 3?", "solution": ""},
        {"problem": "What is 1 + 1? " + "Think hard about it. " * 60, "solution": "\\boxed{2}"},
    ]
    cfg = compose_config("dataset=jsonl", f"dataset.path={write_rows(tmp_path / 'd.jsonl', rows)}")
    dataset, report = prepare_dataset(cfg, tokenizer)
    assert report.rows_read == 4 and report.rows_kept == 1
    assert report.dropped == {
        "empty or missing problem": 1,
        "empty or missing gold answer": 1,
        "prompt over length.max_prompt_length=192 tokens": 1,
    }
    assert dataset[0]["prompt"][-1]["content"] == "What is 2 + 2?"  # kept rows are whole, never truncated
    assert report.max_prompt_tokens <= 192


def test_custom_columns_and_no_system_prompt(tmp_path, tokenizer) -> None:
    path = write_rows(tmp_path / "d.jsonl", [{"question": "What is 5 * 5?", "answer": "25"}])
    cfg = compose_config(
        "dataset=jsonl",
        f"dataset.path={path}",
        "dataset.prompt_column=question",
        "dataset.answer_column=answer",
        "dataset.system_prompt=null",
    )
    dataset, _ = prepare_dataset(cfg, tokenizer)
    assert dataset[0]["prompt"] == [{"role": "user", "content": "What is 5 * 5?"}]
    assert dataset[0]["solution"] == "25"


def test_max_rows_subsamples_reproducibly(tokenizer) -> None:
    first, _ = prepare_dataset(compose_config("dataset.max_rows=10"), tokenizer)
    second, report = prepare_dataset(compose_config("dataset.max_rows=10"), tokenizer)
    assert len(first) == 10 and first["prompt"] == second["prompt"]
    assert report.rows_read == 10


def test_nothing_left_is_an_error(tokenizer) -> None:
    with pytest.raises(ConfigError, match="No usable rows"):
        prepare_dataset(compose_config("length.max_prompt_length=5"), tokenizer)


def test_fingerprint_changes_with_the_data(tokenizer) -> None:
    _, a = prepare_dataset(compose_config(), tokenizer)
    _, b = prepare_dataset(compose_config("dataset.synthetic.seed=1"), tokenizer)
    assert len(a.fingerprint) == 64 and a.fingerprint != b.fingerprint


def test_cache_dir_option_places_the_tiny_model(tmp_path) -> None:
    from openrs.train import resolve_model_path

    path = resolve_model_path(compose_config(f"cache_dir={tmp_path}"))
    assert path.startswith(str(tmp_path)) and (tmp_path / path).is_dir()
