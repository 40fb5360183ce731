"""Tests for openrs.data.synthetic."""

from __future__ import annotations

import re

import pytest

from openrs.data.synthetic import make_arithmetic_dataset

_EXPR = re.compile(r"(\d+) ([+\-*]) (\d+)")


def _expression(problem: str) -> tuple[int, str, int]:
    match = _EXPR.search(problem)
    assert match is not None, problem
    return int(match.group(1)), match.group(2), int(match.group(3))


def test_row_schema_and_count() -> None:
    rows = make_arithmetic_dataset(50, seed=3)
    assert len(rows) == 50
    for row in rows:
        assert set(row) == {"problem", "solution", "answer"}
        assert all(isinstance(v, str) and v for v in row.values())


def test_deterministic_for_seed() -> None:
    assert make_arithmetic_dataset(100, seed=7) == make_arithmetic_dataset(100, seed=7)


def test_different_seeds_differ() -> None:
    assert make_arithmetic_dataset(100, seed=0) != make_arithmetic_dataset(100, seed=1)


def test_answers_are_correct_and_boxed() -> None:
    rows = make_arithmetic_dataset(500, seed=11)
    for row in rows:
        a, op, b = _expression(row["problem"])
        expected = eval(f"{a} {op} {b}")  # input is regex-restricted to "<int> <op> <int>"
        assert int(row["answer"]) == expected
        assert row["answer"] == str(expected)
        assert f"\\boxed{{{row['answer']}}}" in row["solution"]
        assert f"{a} {op} {b} = {row['answer']}" in row["solution"]


def test_negative_answers_occur_only_with_subtraction() -> None:
    rows = make_arithmetic_dataset(500, seed=5)
    negatives = [row for row in rows if row["answer"].startswith("-")]
    assert negatives, "expected some negative answers with '-' enabled"
    assert all(_expression(row["problem"])[1] == "-" for row in negatives)
    assert not any(row["answer"].startswith("-") for row in make_arithmetic_dataset(300, operations="+*"))


@pytest.mark.parametrize("operations", ["+", "-", "*", "+*", "-+"])
def test_operations_respected(operations: str) -> None:
    ops = {_expression(row["problem"])[1] for row in make_arithmetic_dataset(200, seed=2, operations=operations)}
    assert ops == set(operations)


def test_max_operand_respected() -> None:
    for row in make_arithmetic_dataset(300, seed=4, max_operand=5):
        a, _, b = _expression(row["problem"])
        assert 0 <= a <= 5
        assert 0 <= b <= 5


def test_phrasing_varies() -> None:
    rows = make_arithmetic_dataset(300, seed=9)
    problem_stems = {_EXPR.sub("X", row["problem"]) for row in rows}
    solution_stems = {re.sub(r"-?\d+", "N", row["solution"]) for row in rows}
    assert len(problem_stems) >= 2
    assert len(solution_stems) >= 2


def test_single_row() -> None:
    assert len(make_arithmetic_dataset(1)) == 1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_rows": 0}, "num_rows"),
        ({"num_rows": -3}, "num_rows"),
        ({"num_rows": 2.5}, "num_rows"),
        ({"num_rows": 5, "max_operand": 0}, "max_operand"),
        ({"num_rows": 5, "operations": ""}, "operations"),
        ({"num_rows": 5, "operations": "+/"}, "operations"),
        ({"num_rows": 5, "operations": "x"}, "operations"),
    ],
)
def test_argument_validation(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        make_arithmetic_dataset(**kwargs)


def test_train_and_eval_splits_never_share_an_expression() -> None:
    """Disjoint by construction, whatever the seed: the `arithmetic` benchmark is never trained on."""
    eval_rows = make_arithmetic_dataset(100, seed=3, max_operand=9, unique=True, split="eval")
    eval_exprs = {_expression(row["problem"]) for row in eval_rows}
    for seed in range(5):
        train_rows = make_arithmetic_dataset(700, seed=seed, max_operand=9, unique=True, split="train")
        assert not eval_exprs & {_expression(row["problem"]) for row in train_rows}
    every = {_expression(row["problem"]) for row in make_arithmetic_dataset(2000, seed=0, max_operand=9)}
    assert len(eval_exprs) >= 30 and len(every) == 300  # the eval split is a real part of the space


def test_the_default_training_data_and_the_arithmetic_benchmark_are_disjoint() -> None:
    from openrs.data.prepare import load_raw
    from openrs.evaluation.tasks import load_items
    from tests.conftest import compose_config

    cfg = compose_config()
    trained = {_expression(problem) for problem in load_raw(cfg.dataset)["problem"]}
    benchmark = {_expression(item.problem) for item in load_items(cfg.eval)}
    assert len(benchmark) >= 20 and not trained & benchmark
