"""Drop training problems that overlap benchmark problems (step ``decontaminate``).

Texts are compared as sets of word n-grams. :func:`tokenize`: Unicode NFKC, ``casefold()``, every ``$`` removed (so
``$x$`` and ``x`` tokenise alike), then a token is a run of letters, a run of digits, or any other single non-space
character. So ``$x^2+10$`` gives ``x ^ 2 + 10`` and ``\\frac{3}{4}`` gives ``\\ frac { 3 } { 4 }``; whitespace only
separates tokens. A text's n-grams are the set of its runs of ``ngram`` consecutive tokens; a text with fewer than
``ngram`` tokens has one n-gram, all its tokens (so it only matches a text with exactly the same tokens); a text
with no tokens has none and matches nothing.

The overlap of a training problem T with a benchmark problem B is ``|T & B| / min(|T|, |B|)`` over their n-gram
sets: 1.0 when either is contained in the other, e.g. a benchmark problem quoted inside a longer training problem.
A row whose highest overlap with any benchmark problem is ``>= threshold`` is removed with reason
``"contaminated: <benchmark>"`` (that best match; on a tie, the first benchmark, and the first problem in it, in the
order given). An inverted index from n-gram to benchmark problems means each row only meets the benchmark problems
it shares an n-gram with.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from openrs.data.curation.base import Removal, Row, StepOutput, check_overlap_params

__all__ = ["decontaminate", "ngrams", "tokenize"]

REASON_PREFIX = "contaminated: "
_SNIPPET = 200
_TOKEN = re.compile(r"[^\W\d_]+|\d+|\S")

NGram = tuple[str, ...]


class _BenchmarkProblem(NamedTuple):
    """One benchmark problem as the overlap check needs it."""

    benchmark: str
    id: Any
    problem: str
    ngram_count: int


def tokenize(text: str) -> list[str]:
    """Lowercase tokens of ``text``: runs of letters, runs of digits, single other non-space characters (``$``
    dropped, after NFKC and casefolding)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold().replace("$", ""))


def ngrams(tokens: Sequence[str], n: int) -> set[NGram]:
    """The set of runs of ``n`` consecutive tokens; ``{all tokens}`` when there are fewer than ``n``, none when
    there are no tokens."""
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return set(zip(*(tokens[k:] for k in range(n)), strict=False))


def decontaminate(
    rows: Sequence[Row],
    *,
    benchmarks: Mapping[str, Sequence[Mapping[str, Any]]],
    ngram: int = 8,
    threshold: float = 0.5,
) -> StepOutput:
    """Remove rows whose ``problem`` overlaps a benchmark problem by ``>= threshold`` (see the module docstring).

    ``benchmarks`` maps a benchmark name (``"aime24"``) to its problems, mappings with ``id`` and ``problem``.
    ``extra["hits"]`` lists every (row, benchmark problem) pair at or above the threshold, not only each removed
    row's best match: ``{"id", "benchmark", "benchmark_id", "overlap"}``, in row order and, for one row, by overlap
    (highest first) then benchmark order. ``extra["per_benchmark"]`` counts the removed rows per benchmark (by best
    match; every benchmark is listed).
    """
    check_overlap_params(threshold, ngram)

    problems, index = _index_benchmarks(benchmarks, ngram)
    kept: list[Row] = []
    removed: list[Removal] = []
    hits: list[dict[str, Any]] = []
    per_benchmark = dict.fromkeys(benchmarks, 0)
    for row in rows:
        matches = _matches(ngrams(tokenize(row["problem"]), ngram), index, problems, threshold)
        if not matches:
            kept.append(row)
            continue
        hits.extend(_hit(row, problem, overlap) for problem, overlap in matches)
        best, overlap = matches[0]
        removed.append(_removal(row, best, overlap))
        per_benchmark[best.benchmark] += 1

    extra = {
        "input": len(rows),
        "kept": len(kept),
        "removed": len(removed),
        "ngram": ngram,
        "threshold": threshold,
        "benchmark_problems": {name: len(items) for name, items in benchmarks.items()},
        "per_benchmark": per_benchmark,
        "hits": hits,
    }
    return StepOutput(rows=kept, removed=removed, extra=extra)


def _index_benchmarks(
    benchmarks: Mapping[str, Sequence[Mapping[str, Any]]], ngram: int
) -> tuple[list[_BenchmarkProblem], dict[NGram, list[int]]]:
    """The benchmark problems, numbered in the order given, and an inverted index from n-gram to their numbers."""
    problems: list[_BenchmarkProblem] = []
    index: dict[NGram, list[int]] = {}
    for name, items in benchmarks.items():
        for position, item in enumerate(items):
            if "id" not in item or "problem" not in item:
                raise ValueError(f"benchmark {name!r} problem {position} needs 'id' and 'problem' (has {sorted(item)})")
            grams = ngrams(tokenize(item["problem"]), ngram)
            b = len(problems)
            problems.append(_BenchmarkProblem(name, item["id"], item["problem"], len(grams)))
            for gram in grams:
                index.setdefault(gram, []).append(b)
    return problems, index


def _matches(
    grams: set[NGram], index: dict[NGram, list[int]], problems: list[_BenchmarkProblem], threshold: float
) -> list[tuple[_BenchmarkProblem, float]]:
    """``(problem, overlap)`` for every benchmark problem overlapping ``grams`` by ``>= threshold``, best first
    (ties in the order given)."""
    shared: Counter[int] = Counter()
    for gram in grams:
        postings = index.get(gram)
        if postings:
            shared.update(postings)
    ranked = []
    for b, count in shared.items():
        overlap = count / min(len(grams), problems[b].ngram_count)
        if overlap >= threshold:
            ranked.append((-overlap, b))
    ranked.sort()
    return [(problems[b], -neg_overlap) for neg_overlap, b in ranked]


def _hit(row: Row, problem: _BenchmarkProblem, overlap: float) -> dict[str, Any]:
    """The ``extra["hits"]`` record of one (row, benchmark problem) pair."""
    return {
        "id": row["id"],
        "benchmark": problem.benchmark,
        "benchmark_id": problem.id,
        "overlap": round(overlap, 3),
    }


def _removal(row: Row, problem: _BenchmarkProblem, overlap: float) -> Removal:
    """The removal of ``row`` as contaminated by its best match ``problem``."""
    detail = {
        "benchmark": problem.benchmark,
        "benchmark_id": problem.id,
        "overlap": round(overlap, 3),
        "benchmark_problem": str(problem.problem)[:_SNIPPET],
    }
    return Removal(row, REASON_PREFIX + problem.benchmark, detail)
