"""`verifiable`: keep problems whose final answer math-verify can check.

The gold is the row's `answer`; when it is missing it is taken from the solution's last `\\boxed{...}` (or
`\\fbox{...}`, braces matched) and stored in `answer`. A row is removed when there is no gold (`no answer`), when
`require_boxed_solution` is set and the solution has no box (`no boxed solution`: the Open-RS filter for s1), or when
math-verify parses no answer from the gold (`unparseable answer`; parsed in worker processes under a time limit, as
the training reward does).
"""

from __future__ import annotations

from openrs.data.curation.base import Removal, Row, StepOutput
from openrs.rewards.verify_pool import DEFAULT_TIMEOUT_S, check_golds

__all__ = ["last_boxed", "verifiable"]

_BOX_COMMANDS = ("\\boxed", "\\fbox")


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` / `\\fbox{...}` in `text` (nested braces matched), else None."""
    start = max(text.rfind(command) for command in _BOX_COMMANDS)
    while start >= 0:
        brace = text.find("{", start)
        if brace < 0:
            return None
        depth = 0
        for index in range(brace, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    content = text[brace + 1 : index].strip()
                    return content or None
        start = max(text.rfind(command, 0, start) for command in _BOX_COMMANDS)  # unclosed: try an earlier box
    return None


def verifiable(
    rows: list[Row],
    *,
    require_boxed_solution: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
) -> StepOutput:
    """Rows with a gold answer math-verify parses (see the module docstring)."""
    candidates: list[Row] = []
    removed: list[Removal] = []
    extracted = 0
    for row in rows:
        boxed = last_boxed(row["solution"]) if row.get("solution") else None
        if require_boxed_solution and boxed is None:
            removed.append(Removal(row, "no boxed solution"))
            continue
        answer = row.get("answer") or boxed
        if not answer:
            removed.append(Removal(row, "no answer"))
            continue
        if not row.get("answer"):
            extracted += 1
        candidates.append({**row, "answer": answer})
    parses = check_golds([row["answer"] for row in candidates], timeout_s=timeout_s, workers=workers)
    kept = []
    for row, parsed in zip(candidates, parses, strict=True):
        if parsed:
            kept.append(row)
        else:
            removed.append(Removal(row, "unparseable answer", {"answer": row["answer"][:200]}))
    return StepOutput(kept, removed, {"answers_taken_from_solution": extracted})
