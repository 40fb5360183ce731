r"""Synthetic integer-arithmetic problems for smoke tests and tokenizer training.

Every row has a ``problem`` (the question), a ``solution`` (a worked answer ending in ``\boxed{...}``)
and an ``answer`` (the integer result as a string). Generation is fully deterministic for a given seed.
"""

from __future__ import annotations

import random

_VALID_OPERATIONS = "+-*"

_PROBLEM_TEMPLATES: tuple[str, ...] = (
    "What is {expr}?",
    "Compute {expr}.",
    "Calculate the value of {expr}.",
)

_SOLUTION_TEMPLATES: tuple[str, ...] = (
    "{expr} = {answer}. The answer is \\boxed{{{answer}}}.",
    "We compute {expr} = {answer}. So the answer is \\boxed{{{answer}}}.",
    "Evaluating the expression gives {expr} = {answer}. The final answer is \\boxed{{{answer}}}.",
)


def _apply(a: int, op: str, b: int) -> int:
    """Evaluate ``a op b`` for a single supported operator."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    raise ValueError(f"unsupported operation {op!r}")


def make_arithmetic_dataset(
    num_rows: int,
    seed: int = 0,
    max_operand: int = 20,
    operations: str = "+-*",
    unique: bool = False,
) -> list[dict[str, str]]:
    """Generate ``num_rows`` binary arithmetic problems with operands in ``[0, max_operand]``.

    Args:
        num_rows: Number of rows to generate (>= 1).
        seed: Random seed; the same seed always yields the same rows.
        max_operand: Largest operand value (>= 1).
        operations: Non-empty subset of ``"+-*"`` to draw operators from.
        unique: Redraw a problem whose text was already generated, so no two rows share a problem.

    Returns:
        A list of dicts with string keys ``problem``, ``solution`` and ``answer``.

    Raises:
        ValueError: If an argument is out of range.
    """
    if isinstance(num_rows, bool) or not isinstance(num_rows, int) or num_rows < 1:
        raise ValueError(f"num_rows must be an integer >= 1, got {num_rows!r}")
    if isinstance(max_operand, bool) or not isinstance(max_operand, int) or max_operand < 1:
        raise ValueError(f"max_operand must be an integer >= 1, got {max_operand!r}")
    if not isinstance(operations, str) or not operations or any(op not in _VALID_OPERATIONS for op in operations):
        raise ValueError(f"operations must be a non-empty subset of {_VALID_OPERATIONS!r}, got {operations!r}")

    ops = sorted(set(operations), key=_VALID_OPERATIONS.index)
    distinct = (max_operand + 1) ** 2 * len(ops) * len(_PROBLEM_TEMPLATES)
    if unique and num_rows > distinct:
        raise ValueError(f"unique=True allows at most {distinct} rows for these operands and operations")
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(rows) < num_rows:
        a = rng.randint(0, max_operand)
        b = rng.randint(0, max_operand)
        op = rng.choice(ops)
        expr = f"{a} {op} {b}"
        answer = str(_apply(a, op, b))
        problem = rng.choice(_PROBLEM_TEMPLATES).format(expr=expr)
        solution = rng.choice(_SOLUTION_TEMPLATES).format(expr=expr, answer=answer)
        if unique and problem in seen:
            continue
        seen.add(problem)
        rows.append({"problem": problem, "solution": solution, "answer": answer})
    return rows
