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


#: Splits of the expression space: `eval` holds one expression in 8 (a fixed rule on the operands and operator),
#: `train` the other seven, so the `arithmetic` benchmark shares no expression with any synthetic training set.
SPLITS = (None, "train", "eval")
_HELD_OUT_MODULUS = 8


def in_eval_split(a: int, op: str, b: int) -> bool:
    """True for the expressions held out for evaluation (one in 8, spread over every operator and operand)."""
    return (7 * a + 3 * b + _VALID_OPERATIONS.index(op)) % _HELD_OUT_MODULUS == 0


def _expressions_in_split(max_operand: int, ops: list[str], split: str | None) -> int:
    """How many `a op b` expressions (operands in [0, max_operand]) the split admits, counted in closed form."""
    total = (max_operand + 1) ** 2 * len(ops)
    if split is None:
        return total
    held_out = 0
    for op in ops:
        for a in range(max_operand + 1):
            # the b with 3b = -(7a + k) (mod 8), as 3 is its own inverse mod 8
            residue = (-3 * (7 * a + _VALID_OPERATIONS.index(op))) % _HELD_OUT_MODULUS
            held_out += (max_operand - residue) // _HELD_OUT_MODULUS + 1 if residue <= max_operand else 0
    return held_out if split == "eval" else total - held_out


def make_arithmetic_dataset(
    num_rows: int,
    seed: int = 0,
    max_operand: int = 20,
    operations: str = "+-*",
    unique: bool = False,
    split: str | None = None,
) -> list[dict[str, str]]:
    """Generate ``num_rows`` binary arithmetic problems with operands in ``[0, max_operand]``.

    Args:
        num_rows: Number of rows to generate (>= 1).
        seed: Random seed; the same seed always yields the same rows.
        max_operand: Largest operand value (>= 1).
        operations: Non-empty subset of ``"+-*"`` to draw operators from.
        unique: Redraw a problem whose text was already generated, so no two rows share a problem.
        split: ``"train"`` or ``"eval"`` draws only from that part of the expression space (:func:`in_eval_split`),
            so the two never share an expression; None draws from all of it.

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

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")

    ops = sorted(set(operations), key=_VALID_OPERATIONS.index)
    expressions = _expressions_in_split(max_operand, ops, split)
    if expressions == 0:
        raise ValueError(f"split={split!r} admits no expression for max_operand={max_operand} and {operations!r}")
    distinct = expressions * len(_PROBLEM_TEMPLATES)
    if unique and num_rows > distinct:
        raise ValueError(f"unique=True allows at most {distinct} rows for these operands and operations")
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(rows) < num_rows:
        a = rng.randint(0, max_operand)
        b = rng.randint(0, max_operand)
        op = rng.choice(ops)
        if split is not None and in_eval_split(a, op, b) != (split == "eval"):
            continue
        expr = f"{a} {op} {b}"
        answer = str(_apply(a, op, b))
        problem = rng.choice(_PROBLEM_TEMPLATES).format(expr=expr)
        solution = rng.choice(_SOLUTION_TEMPLATES).format(expr=expr, answer=answer)
        if unique and problem in seen:
            continue
        seen.add(problem)
        rows.append({"problem": problem, "solution": solution, "answer": answer})
    return rows
