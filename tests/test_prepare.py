"""Data preparation: conversational prompts, every drop reason counted with its first rows, limits, the split."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from openrs.data.prepare import DROP_REASONS, prepare_dataset
from openrs.data.synthetic import make_arithmetic_dataset
from openrs.errors import ConfigError
from openrs.tiny_model import ensure_tiny_model
from tests.conftest import compose_config


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(ensure_tiny_model())


def write_rows(path, rows) -> str:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return str(path)


def local(tmp_path, rows, *overrides: str):
    return compose_config("dataset=jsonl", f"dataset.path={write_rows(tmp_path / 'd.jsonl', rows)}", *overrides)


def test_rows_become_system_plus_user_prompts_with_the_gold(tokenizer) -> None:
    data = prepare_dataset(compose_config(), tokenizer)
    report = data.report
    assert report.rows_read == report.rows_kept == 256 and not report.dropped
    row = data.train[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][0]["content"].startswith("A conversation between User and Assistant.")
    assert "\\boxed{" in row["solution"]
    assert set(data.train.column_names) == {"prompt", "solution"}
    assert data.validation is None


MIXED_ROWS = [
    {"problem": "What is 2 + 2?", "solution": "\\boxed{4}"},  # kept
    {"problem": "   ", "solution": "\\boxed{1}"},  # missing_problem
    {"problem": "What is 3 + 3?", "solution": ""},  # missing_gold
    {"problem": "What is 1 + 1? " + "Think hard about it. " * 60, "solution": "\\boxed{2}"},  # over_length
    {"problem": "What  is 2 +\n2?", "solution": "\\boxed{4}"},  # duplicate of row 0 (whitespace differs)
    {"problem": "Draw the figure.", "solution": "See the figure above."},  # unparseable_gold
    {"problem": "What is 5 + 5?", "solution": "10"},  # kept: a bare gold parses
]


def test_every_drop_reason_is_counted_with_its_first_rows(tmp_path, tokenizer) -> None:
    data = prepare_dataset(local(tmp_path, MIXED_ROWS, "dataset.drop_limits.total=1.0"), tokenizer)
    report = data.report
    assert report.rows_read == 7 and report.rows_kept == 2
    assert report.dropped == {reason: 1 for reason in DROP_REASONS}
    assert {reason: [e["row"] for e in examples] for reason, examples in report.examples.items()} == {
        "missing_problem": [1],
        "missing_gold": [2],
        "over_length": [3],
        "duplicate": [4],
        "unparseable_gold": [5],
    }
    assert report.examples["over_length"][0]["tokens"] > 192
    assert report.examples["unparseable_gold"][0]["gold"] == "See the figure above."
    assert [row["prompt"][-1]["content"] for row in data.train] == ["What is 2 + 2?", "What is 5 + 5?"]
    assert report.max_prompt_tokens <= 192  # kept rows are whole, never truncated
    screen = report.render()
    assert screen.splitlines()[0] == "data: read 7 rows, kept 2"
    assert "gold answer math-verify cannot parse (unparseable_gold); first rows 5 -- row 5: gold 'See the" in screen
    assert len(screen.splitlines()) == 7  # one screen: a header, a line per reason, a footer


def test_too_many_drops_is_an_error_that_shows_the_report_and_the_fix(tmp_path, tokenizer) -> None:
    with pytest.raises(ConfigError) as info:
        prepare_dataset(local(tmp_path, MIXED_ROWS), tokenizer)  # 5 of 7 dropped > the default 10%
    message = str(info.value)
    assert "71.4% of all rows (dataset.drop_limits.total=0.1)" in message
    assert "data: read 7 rows, kept 2" in message and "dataset.drop_limits.total=0.5" in message


def test_a_limit_per_reason(tmp_path, tokenizer) -> None:
    rows = [{"problem": f"What is {i} + 1?", "solution": str(i + 1)} for i in range(19)]
    rows.append({"problem": "Draw the figure.", "solution": "See the figure above."})
    data = prepare_dataset(local(tmp_path, rows), tokenizer)  # 5% dropped: within the default limits
    assert data.report.dropped == {"unparseable_gold": 1}
    with pytest.raises(ConfigError, match=r"5.0% for unparseable_gold \(dataset.drop_limits.unparseable_gold=0.0\)"):
        prepare_dataset(local(tmp_path, rows, "dataset.drop_limits.unparseable_gold=0"), tokenizer)


def test_checks_can_be_switched_off(tmp_path, tokenizer) -> None:
    rows = MIXED_ROWS[:1] + MIXED_ROWS[4:6]
    data = prepare_dataset(
        local(tmp_path, rows, "dataset.dedupe=false", "dataset.check_gold=false", "dataset.drop_limits.total=1"),
        tokenizer,
    )
    assert data.report.rows_kept == 3 and not data.report.dropped


def test_validation_split_is_held_out_reproducibly(tokenizer) -> None:
    data = prepare_dataset(compose_config("dataset.validation_size=0.25"), tokenizer)
    assert (len(data.train), len(data.validation)) == (192, 64)
    assert data.report.validation_rows == 64 and data.report.as_dict()["train_rows"] == 192
    train_problems = {row["prompt"][-1]["content"] for row in data.train}
    assert not train_problems & {row["prompt"][-1]["content"] for row in data.validation}
    again = prepare_dataset(compose_config("dataset.validation_size=0.25"), tokenizer)
    assert again.validation["prompt"] == data.validation["prompt"]
    assert len(prepare_dataset(compose_config("dataset.validation_size=10"), tokenizer).validation) == 10
    with pytest.raises(ConfigError, match="leaves no training rows"):
        prepare_dataset(compose_config("dataset.validation_size=256"), tokenizer)


def test_validation_turns_on_evaluation_at_every_save() -> None:
    from openrs.plan import build_plan

    grpo = build_plan(compose_config("dataset.validation_size=0.1"), "/tmp/x")["grpo"]
    assert (grpo["eval_strategy"], grpo["eval_steps"]) == ("steps", 20)
    assert build_plan(compose_config(), "/tmp/x")["grpo"]["eval_strategy"] == "no"


def test_custom_columns_and_no_system_prompt(tmp_path, tokenizer) -> None:
    path = write_rows(tmp_path / "d.jsonl", [{"question": "What is 5 * 5?", "answer": "25"}])
    cfg = compose_config(
        "dataset=jsonl",
        f"dataset.path={path}",
        "dataset.prompt_column=question",
        "dataset.answer_column=answer",
        "dataset.system_prompt=null",
    )
    data = prepare_dataset(cfg, tokenizer)
    assert data.train[0]["prompt"] == [{"role": "user", "content": "What is 5 * 5?"}]
    assert data.train[0]["solution"] == "25"


@pytest.mark.parametrize("suffix", ["jsonl", "parquet", "csv"])
def test_local_formats(tmp_path, tokenizer, suffix: str) -> None:
    from datasets import Dataset

    path = tmp_path / f"d.{suffix}"
    rows = [{"problem": "What is 5 * 5?", "solution": "25"}, {"problem": "What is 1 + 5?", "solution": "6"}]
    getattr(Dataset.from_list(rows), {"jsonl": "to_json", "parquet": "to_parquet", "csv": "to_csv"}[suffix])(str(path))
    data = prepare_dataset(compose_config("dataset=jsonl", f"dataset.path={path}"), tokenizer)
    assert [row["solution"] for row in data.train] == ["25", "6"]


def test_missing_column_suggests_the_likely_one(tmp_path, tokenizer) -> None:
    cfg = local(tmp_path, [{"question": "What is 5 * 5?", "answer": "25"}])
    with pytest.raises(
        ConfigError, match=r"its columns are \['question', 'answer'\]. Set dataset.prompt_column=question"
    ):
        prepare_dataset(cfg, tokenizer)


def test_hub_dataset_offline_is_an_actionable_error(tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    # No hub here: HF_DATASETS_OFFLINE is set by the test session, so only the local cache could answer.
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    cfg = compose_config("dataset=open_rs")
    with pytest.raises(ConfigError) as info:
        prepare_dataset(cfg, tokenizer)
    message = str(info.value)
    assert "dataset.path='knoveleng/open-rs'" in message and "offline mode" in message
    assert "dataset=jsonl dataset.path=" in message


def test_max_rows_subsamples_reproducibly(tokenizer) -> None:
    first = prepare_dataset(compose_config("dataset.max_rows=10"), tokenizer)
    second = prepare_dataset(compose_config("dataset.max_rows=10"), tokenizer)
    assert len(first.train) == 10 and first.train["prompt"] == second.train["prompt"]
    assert second.report.rows_read == 10


def test_nothing_left_is_an_error(tokenizer) -> None:
    with pytest.raises(ConfigError, match="No usable rows"):
        prepare_dataset(compose_config("length.max_prompt_length=5"), tokenizer)


def test_fingerprint_changes_with_the_data(tokenizer) -> None:
    a = prepare_dataset(compose_config(), tokenizer).report
    b = prepare_dataset(compose_config("dataset.synthetic.seed=1"), tokenizer).report
    assert len(a.fingerprint) == 64 and a.fingerprint != b.fingerprint


def test_synthetic_rows_are_unique_by_default() -> None:
    rows = make_arithmetic_dataset(256, seed=0, max_operand=9, unique=True)
    assert len({row["problem"] for row in rows}) == 256
    with pytest.raises(ValueError, match="at most 12 rows"):
        make_arithmetic_dataset(13, max_operand=1, operations="+", unique=True)


def test_cache_dir_option_places_the_tiny_model(tmp_path) -> None:
    from openrs.train import resolve_model_path

    path = resolve_model_path(compose_config(f"cache_dir={tmp_path}"))
    assert path.startswith(str(tmp_path)) and (tmp_path / path).is_dir()
