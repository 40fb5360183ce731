"""Drop exact and near-duplicate problems (step ``dedupe``).

Both checks compare the problem text after :func:`normalize_problem`: Unicode NFKC, ``casefold()``, every ``$``
removed (so ``$x+1$`` and ``x+1`` compare equal), every run of whitespace turned into one space, and the ends
stripped. Nothing else is touched (LaTeX commands, braces and punctuation stay as they are).

* **Exact duplicates**: rows whose normalised problems are equal. The first occurrence is kept; each later one is
  removed with reason ``"exact duplicate"`` and detail ``{"duplicate_of": <kept id>}``.
* **Near duplicates** (``near=True``): the Jaccard similarity of the sets of character ``ngram``-shingles of the
  normalised problems (a problem shorter than ``ngram`` characters is the single shingle of its whole text).
  Candidate pairs come from MinHash + LSH (``datasketch``); every candidate is then confirmed with the exact Jaccard
  of the two shingle sets, so the reported similarity is exact and an LSH false positive never removes a row. Rows
  are visited in input order and compared with the rows kept so far: a row whose similarity with a kept row is
  ``>= threshold`` is removed with reason ``"near duplicate"`` and detail ``{"duplicate_of": id, "similarity": j}``
  (the most similar kept row; on a tie, the earliest), otherwise it is kept.

The LSH bands are not datasketch's default for ``threshold`` (which finds only about 40% of the pairs that sit
exactly at a threshold of 0.8); they are chosen so that a pair at the threshold becomes a candidate with probability
at least 99% (see :func:`lsh_params`). The extra candidates cost one exact set comparison each.

With ``same_numbers`` (the default) a pair is a near duplicate only if both problems also contain the same numbers
(the same multiset of digit runs): in math, ``-16t^2+80t+21`` and ``-16t^2+64t+31`` are different problems although
their texts are 90% alike (on DeepScaleR's AIME+MATH rows, most pairs between 0.8 and 0.9 were such siblings).

A later exact copy of a row that was removed as a near duplicate is reported as a near duplicate of the same kept
row, with the same similarity, so ``duplicate_of`` always names a kept row.
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from openrs.data.curation.base import Removal, Row, StepOutput, check_overlap_params

__all__ = ["dedupe", "jaccard", "lsh_params", "normalize_problem", "shingle_hashes", "shingles"]

EXACT = "exact duplicate"
NEAR = "near duplicate"
_MAX_EXAMPLES = 5
_SNIPPET = 200
_LSH_RECALL = 0.99
_WHITESPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_HASH_BASE = np.uint64(0x100000001B3)  # the 64-bit FNV prime, as a polynomial base


def normalize_problem(text: str) -> str:
    """The comparison key of a problem: NFKC, casefolded, ``$`` removed, whitespace collapsed to single spaces,
    stripped."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("$", "")
    return _WHITESPACE.sub(" ", text).strip()


def numbers(text: str) -> list[str]:
    """The numbers (digit runs, with decimals) in ``text``, sorted: equal lists mean the same numbers."""
    return sorted(_NUMBER.findall(text))


def shingles(text: str, ngram: int) -> frozenset[str]:
    """The set of character ``ngram``-shingles of ``text`` (``{text}`` when it is shorter than ``ngram``)."""
    if len(text) < ngram:
        return frozenset((text,))
    return frozenset(text[i : i + ngram] for i in range(len(text) - ngram + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Exact Jaccard similarity ``|a & b| / |a | b|`` (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def lsh_params(threshold: float, num_perm: int, recall: float = _LSH_RECALL) -> tuple[int, int]:
    """LSH ``(bands, rows per band)`` with ``bands * rows <= num_perm`` and at least 2 bands.

    The band size is the largest for which a pair of Jaccard similarity ``threshold`` shares at least one band (and
    so becomes a candidate) with probability ``>= recall``: larger bands mean fewer low-similarity candidates. If no
    band size reaches ``recall``, the one with the highest probability is used.
    """
    if num_perm < 2:
        raise ValueError(f"num_perm must be at least 2, got {num_perm}")
    best: tuple[float, int, int] | None = None
    for rows in range(num_perm // 2, 0, -1):
        bands = num_perm // rows
        p = 1.0 - (1.0 - threshold**rows) ** bands
        if p >= recall:
            return bands, rows
        if best is None or p > best[0]:
            best = (p, bands, rows)
    assert best is not None
    return best[1], best[2]


def shingle_hashes(text: str, ngram: int) -> list[int]:
    """A 32-bit hash of every character ``ngram``-shingle of ``text`` (one hash of the whole text when it is shorter
    than ``ngram``), for the MinHash sketches.

    Computed with numpy (a polynomial hash of the code points, folded to 32 bits) rather than one Python call per
    shingle: deterministic across runs, unlike ``hash``, and the MinHash ``affine32`` scheme re-mixes it with the
    MurmurHash3 finalizer before permuting. A collision can only add an LSH candidate or lose one; it never decides a
    removal, which uses the exact shingle sets.
    """
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = min(ngram, len(points))
    count = len(points) - n + 1
    h = points[:count].copy()
    for k in range(1, n):
        h *= _HASH_BASE
        h += points[k : k + count]
    h ^= h >> np.uint64(32)
    return (h & np.uint64(0xFFFFFFFF)).tolist()


@contextmanager
def _gc_paused() -> Iterator[None]:
    # The LSH index allocates one small set per band and row; with the cyclic GC on, its full collections over the
    # growing heap made the index ~5x slower (9 s instead of 2 s for 40k rows). Nothing here creates cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _snippet(text: Any) -> str:
    return str(text)[:_SNIPPET]


def dedupe(
    rows: Sequence[Row],
    *,
    near: bool = True,
    threshold: float = 0.9,
    same_numbers: bool = True,
    ngram: int = 5,
    num_perm: int = 128,
    seed: int = 0,
) -> StepOutput:
    """Remove exact duplicates and (``near``) near duplicates of the ``problem`` text, keeping first occurrences.

    ``threshold``: the Jaccard similarity (of character ``ngram``-shingles) at or above which a row is a near
    duplicate of a kept row; ``same_numbers``: only if both also contain the same numbers. ``num_perm`` and
    ``seed``: the MinHash permutations (more permutations, fewer missed pairs). ``extra`` has the counts, the LSH
    parameters, how many LSH candidates were checked and rejected, and a few example pairs per reason.
    """
    check_overlap_params(threshold, ngram, num_perm)

    keys = [normalize_problem(row["problem"]) for row in rows]
    first_of = _first_occurrences(keys)
    firsts = sorted(first_of.values())

    # verdict[i] for a first occurrence i: None (kept) or (index of the kept row it duplicates, similarity).
    verdict: dict[int, tuple[int, float] | None] = dict.fromkeys(firsts)
    extra: dict[str, Any] = {"near": near, "candidates_checked": 0, "candidates_rejected": 0}
    if near:
        with _gc_paused():
            extra.update(
                _near_pass(
                    firsts,
                    keys,
                    verdict,
                    threshold=threshold,
                    same_numbers=same_numbers,
                    ngram=ngram,
                    num_perm=num_perm,
                    seed=seed,
                )
            )

    kept, removed, examples = _apply_verdicts(rows, keys, first_of, verdict)
    extra.update(_counts(rows, kept, removed))
    extra.update(threshold=threshold, same_numbers=same_numbers, ngram=ngram, examples=examples)
    return StepOutput(rows=kept, removed=removed, extra=extra)


def _first_occurrences(keys: list[str]) -> dict[str, int]:
    """Each key -> index of the row that first had it (that row is the representative of the key)."""
    first_of: dict[str, int] = {}
    for i, key in enumerate(keys):
        first_of.setdefault(key, i)
    return first_of


def _apply_verdicts(
    rows: Sequence[Row],
    keys: list[str],
    first_of: dict[str, int],
    verdict: dict[int, tuple[int, float] | None],
) -> tuple[list[Row], list[Removal], dict[str, list[dict[str, Any]]]]:
    """Split the rows into kept and removed (exact or near duplicates), with a few example pairs per reason."""
    kept: list[Row] = []
    removed: list[Removal] = []
    examples: dict[str, list[dict[str, Any]]] = {EXACT: [], NEAR: []}
    for i, (row, key) in enumerate(zip(rows, keys, strict=True)):
        rep = first_of[key]
        v = verdict[rep]
        if rep == i and v is None:
            kept.append(row)
            continue
        if v is None:  # a later copy of a kept row
            of, reason, detail = rep, EXACT, {"duplicate_of": rows[rep]["id"]}
        else:  # a near duplicate, or a later copy of one: same kept row, same similarity
            of, reason = v[0], NEAR
            detail = {"duplicate_of": rows[of]["id"], "similarity": round(v[1], 3)}
        removed.append(Removal(row, reason, detail))
        if len(examples[reason]) < _MAX_EXAMPLES:
            examples[reason].append(
                {"id": row["id"], **detail, "problem": _snippet(row["problem"]), "kept": _snippet(rows[of]["problem"])}
            )
    return kept, removed, examples


def _counts(rows: Sequence[Row], kept: list[Row], removed: list[Removal]) -> dict[str, int]:
    """The step's row counts: input, kept, and removed as exact and as near duplicates."""
    return {
        "input": len(rows),
        "kept": len(kept),
        "exact_duplicates": sum(r.reason == EXACT for r in removed),
        "near_duplicates": sum(r.reason == NEAR for r in removed),
    }


def _near_pass(
    firsts: list[int],
    keys: list[str],
    verdict: dict[int, tuple[int, float] | None],
    *,
    threshold: float,
    same_numbers: bool,
    ngram: int,
    num_perm: int,
    seed: int,
) -> dict[str, Any]:
    """Greedy near-duplicate pass over the first occurrences (in input order); fills ``verdict``."""
    from datasketch import MinHash, MinHashLSH  # imported here: it costs ~0.3 s and only this pass needs it

    bands, band_rows = lsh_params(threshold, num_perm)
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, band_rows))
    sets: dict[int, frozenset[str]] = {}  # exact shingle sets, built only for rows in a candidate pair

    def shingle_set(i: int) -> frozenset[str]:
        if i not in sets:
            sets[i] = shingles(keys[i], ngram)
        return sets[i]

    # ``hashfunc=int``: the values fed to the sketches are already 32-bit hashes (see shingle_hashes).
    sketches = MinHash.generator(
        (shingle_hashes(keys[i], ngram) for i in firsts), num_perm=num_perm, seed=seed, hashfunc=int, scheme="affine32"
    )
    checked = rejected = 0
    for i, sketch in zip(firsts, sketches, strict=True):
        best: tuple[float, int] | None = None
        for j in lsh.query(sketch):
            checked += 1
            sim = jaccard(shingle_set(i), shingle_set(j))
            if sim < threshold or (same_numbers and numbers(keys[i]) != numbers(keys[j])):
                rejected += 1
            elif best is None or sim > best[0] or (sim == best[0] and j < best[1]):
                best = (sim, j)
        if best is None:
            lsh.insert(i, sketch, check_duplication=False)
        else:
            verdict[i] = (best[1], best[0])
    return {
        "num_perm": num_perm,
        "lsh_bands": bands,
        "lsh_band_rows": band_rows,
        "candidates_checked": checked,
        "candidates_rejected": rejected,
    }
