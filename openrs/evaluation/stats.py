"""Statistics over sampled completions: pass@k, maj@k, bootstrap confidence intervals and paired comparisons.

Evaluation samples ``k`` completions per problem and marks each one correct or not (a problem whose gold answer
cannot be parsed is dropped before these functions see it). The unit of resampling everywhere is the *problem*: the
``k`` samples of one problem are not independent of each other, the problems are (approximately) independent draws
from the benchmark's population, so standard errors and bootstrap intervals are taken over per-problem means.

* :func:`pass_at_k`: the unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on
  Code", arXiv:2107.03374, section 2.1): ``1 - C(n-c, k) / C(n, k)`` for ``n`` samples of which ``c`` are correct.
* :func:`majority_correct`: maj@k (self-consistency, Wang et al. 2022, arXiv:2203.11171) for one problem.
* :func:`bootstrap_ci`: percentile bootstrap (Efron & Tibshirani 1993, ch. 13) of the mean over problems.
* :func:`benchmark_stats`, :func:`average_stats`: the numbers reported per benchmark and for the "Avg" column.
* :func:`paired_comparison`: two models on the same problems, with a paired bootstrap of the difference.

Every returned dict holds only ``int``, ``float``, ``str``, ``bool``, ``list`` and ``dict`` values (JSON-serialisable).
Problems are ordered by id before resampling, so the results do not depend on the order of a mapping's keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "average_stats",
    "benchmark_stats",
    "bootstrap_ci",
    "majority_correct",
    "paired_comparison",
    "pass_at_k",
]

# Upper bound on the memory of one chunk of bootstrap work: the int64 index matrix plus the float64 values gathered
# through it (16 bytes per element).
_CHUNK_BYTES = 100_000_000
_BYTES_PER_ELEMENT = 16


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples, ``c`` of them correct (Chen et al. 2021, eq. 1).

    ``pass@k = 1 - C(n-c, k) / C(n, k)``: the probability that ``k`` samples drawn without replacement from the ``n``
    include at least one correct one. Computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (the numerically stable form
    of the paper's Figure 3), and exactly ``1.0`` when ``n - c < k`` (every ``k``-subset holds a correct sample).

    Raises ``ValueError`` when ``k < 1``, ``k > n``, ``c < 0`` or ``c > n``.
    """
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"pass_at_k: {name} must be an integer, got {value!r}")
    n, c, k = int(n), int(c), int(k)
    if n < 0 or c < 0:
        raise ValueError(f"pass_at_k: n and c must be non-negative, got n={n}, c={c}")
    if k < 1:
        raise ValueError(f"pass_at_k: k must be at least 1, got k={k}")
    if k > n:
        raise ValueError(f"pass_at_k: k={k} is larger than the number of samples n={n}")
    if c > n:
        raise ValueError(f"pass_at_k: c={c} correct samples out of only n={n}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def majority_correct(answers: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """maj@k for one problem: whether the most frequent extracted answer is a correct one.

    ``answers[i]`` is the answer key of sample ``i`` (``None`` when no answer could be extracted) and ``correct[i]``
    whether that sample was graded correct. ``None`` answers do not vote. The most frequent answer wins; on a tie
    the answer whose first occurrence comes earliest wins. All samples sharing an answer key share correctness, so
    the first sample with the winning key decides. No answer at all gives ``False``.
    """
    if len(answers) != len(correct):
        raise ValueError(f"majority_correct: {len(answers)} answers but {len(correct)} correctness flags")
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        counts[answer] = counts.get(answer, 0) + 1
        first.setdefault(answer, i)
    if not counts:
        return False
    # dicts keep insertion order (= order of first occurrence) and max() returns the first maximal item.
    winner = max(counts, key=counts.__getitem__)
    return bool(correct[first[winner]])


def _check_bootstrap_args(n_boot: int, confidence: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")


def _bootstrap_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` means of ``values`` resampled with replacement (vectorised, chunked to about ``_CHUNK_BYTES``)."""
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _CHUNK_BYTES // (_BYTES_PER_ELEMENT * n))
    means = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, rows_per_chunk):
        rows = min(rows_per_chunk, n_boot - start)
        index = rng.integers(0, n, size=(rows, n))
        means[start : start + rows] = values[index].mean(axis=1)
    return means


def _as_values(values: np.ndarray | Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"expected a non-empty 1-d array of per-problem values, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("per-problem values must be finite")
    return array


def _percentile_interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def bootstrap_ci(
    values: np.ndarray | Sequence[float], n_boot: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values`` (one value per problem).

    Problems are resampled with replacement ``n_boot`` times (``rng.integers`` index matrix, ``rng =
    np.random.default_rng(seed)``); the interval is the ``(1-confidence)/2`` and ``(1+confidence)/2`` quantiles of
    the resampled means (Efron & Tibshirani 1993, eq. 13.5). Deterministic for a given seed. A single problem gives a
    zero-width interval: the bootstrap cannot see variation that one problem does not show.
    """
    _check_bootstrap_args(n_boot, confidence)
    array = _as_values(values)
    return _percentile_interval(_bootstrap_means(array, int(n_boot), seed), confidence)


def _flags(problem: str, samples: Sequence[bool]) -> list[bool]:
    flags = [bool(x) for x in samples]
    if not flags:
        raise ValueError(f"problem {problem!r} has no samples")
    return flags


def _default_ks(k: int) -> list[int]:
    ks = []
    power = 1
    while power <= k:
        ks.append(power)
        power *= 2
    if ks[-1] != k:
        ks.append(k)
    return ks


def benchmark_stats(
    correct: Mapping[str, Sequence[bool]],
    answers: Mapping[str, Sequence[str | None]] | None = None,
    ks: Sequence[int] | None = None,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Scores of one benchmark from per-sample correctness keyed by problem id (``k`` samples per problem).

    Returns a JSON-serialisable dict:

    * ``n_problems``, ``k`` (samples per problem), ``samples`` (``n_problems * k``);
    * ``pass@1``: the mean over problems of the fraction of correct samples (the unbiased pass@1 estimator);
    * ``se``: standard error of that mean over problems, ``std(per-problem means, ddof=1) / sqrt(n_problems)``
      (``0.0`` for one problem);
    * ``ci`` = ``[lo, hi]`` and ``confidence``: percentile bootstrap interval of ``pass@1`` (:func:`bootstrap_ci`);
    * ``pass@k``: ``{str(j): mean over problems of pass_at_k(k, c, j)}`` for each ``j`` in ``ks`` (default: the
      powers of two up to ``k``, plus ``k``);
    * ``maj@k``: the fraction of problems whose majority answer (:func:`majority_correct`) is correct; only when
      ``answers`` is given (same ids and the same number of samples per problem as ``correct``).

    Raises ``ValueError`` on empty input, on a problem with no samples or a different number of samples than the
    others (naming it), and on ``ks`` outside ``1..k``.
    """
    _check_bootstrap_args(n_boot, confidence)
    ids, flags, k = _same_size_samples(correct)
    ks = _default_ks(k) if ks is None else _checked_ks(ks, k)
    n_correct = np.array([sum(flags[pid]) for pid in ids])
    means = n_correct / k
    n = len(ids)
    result: dict = {
        "n_problems": n,
        "k": k,
        "samples": n * k,
        "pass@1": float(means.mean()),
        "se": float(means.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0,
        "ci": list(bootstrap_ci(means, n_boot=n_boot, confidence=confidence, seed=seed)),
        "confidence": float(confidence),
        "pass@k": {str(j): float(np.mean([pass_at_k(k, int(c), j) for c in n_correct])) for j in ks},
    }
    if answers is not None:
        result["maj@k"] = _majority_rate(answers, correct, ids, flags, k)
    return result


def _same_size_samples(correct: Mapping[str, Sequence[bool]]) -> tuple[list[str], dict[str, list[bool]], int]:
    """The sorted problem ids, each problem's flags and the common sample count ``k``; raises on a mismatch."""
    if not correct:
        raise ValueError("benchmark_stats: no problems")
    ids = sorted(correct)
    flags = {pid: _flags(pid, correct[pid]) for pid in ids}
    k = len(flags[ids[0]])
    for pid in ids:
        if len(flags[pid]) != k:
            raise ValueError(
                f"benchmark_stats: problem {pid!r} has {len(flags[pid])} samples but problem {ids[0]!r} has {k}; "
                "every problem needs the same number of samples"
            )
    return ids, flags, k


def _checked_ks(ks: Sequence[int], k: int) -> list[int]:
    """The requested pass@k sizes as ints, duplicates dropped in order; raises on any outside ``1..k``."""
    ks = list(dict.fromkeys(int(j) for j in ks))
    bad = [j for j in ks if not 1 <= j <= k]
    if bad:
        raise ValueError(f"benchmark_stats: ks {bad} outside 1..{k} (the number of samples per problem)")
    return ks


def _majority_rate(
    answers: Mapping[str, Sequence[str | None]],
    correct: Mapping[str, Sequence[bool]],
    ids: list[str],
    flags: dict[str, list[bool]],
    k: int,
) -> float:
    """maj@k: the share of problems whose majority answer is correct; raises when ``answers`` does not match."""
    if set(answers) != set(correct):
        raise ValueError(
            f"benchmark_stats: answers and correct cover different problems: {_id_mismatch(correct, answers)}"
        )
    votes = []
    for pid in ids:
        if len(answers[pid]) != k:
            raise ValueError(f"benchmark_stats: problem {pid!r} has {len(answers[pid])} answers but {k} samples")
        votes.append(majority_correct(answers[pid], flags[pid]))
    return float(np.mean(votes))


def seed_spread(flags_by_seed: Mapping[int, Mapping[str, Sequence[bool]]] | None) -> dict | None:
    """pass@1 of each seed on its own, and their mean and sample standard deviation (ddof=1): the "mean ± std over
    seeds" of "A Sober Look at Progress in LM Reasoning" (arXiv 2504.07086; its leaderboard's AIME24 cell 0.3 ± 1.1,
    one correct sample in 10 seeds of 30 problems, is this std with ddof=1, not 1.0 with ddof=0).

    ``flags_by_seed`` maps a seed to per-problem flags of that seed's samples. None when there are fewer than two
    seeds, or when some seed lacks a problem another seed has (its pass@1 would be over other problems).
    """
    if not flags_by_seed or len(flags_by_seed) < 2:
        return None
    problems = {seed: set(flags) for seed, flags in flags_by_seed.items()}
    if len({frozenset(ids) for ids in problems.values()}) != 1:
        return None
    per_seed = {
        str(seed): float(np.mean([np.mean(flags[pid]) for pid in sorted(flags)]))
        for seed, flags in sorted(flags_by_seed.items())
    }
    values = np.array(list(per_seed.values()))
    return {"n": len(values), "pass@1": per_seed, "mean": float(values.mean()), "std": float(values.std(ddof=1))}


def average_stats(per_benchmark: Mapping[str, dict]) -> dict:
    """The "Avg" column: the unweighted mean over benchmarks of their scores (each benchmark counts once).

    ``per_benchmark`` maps a benchmark name to its :func:`benchmark_stats` dict. Returns ``benchmarks`` (the names),
    ``pass@1``, ``pass@k`` for each key present in every benchmark, and ``maj@k`` when every benchmark has it with
    the same ``k`` (a mean of maj@4 and maj@8 would not be maj@anything, so it is left out then).
    """
    if not per_benchmark:
        raise ValueError("average_stats: no benchmarks")
    names = list(per_benchmark)
    stats = [per_benchmark[name] for name in names]
    result: dict = {"benchmarks": names, "pass@1": float(np.mean([s["pass@1"] for s in stats]))}
    common = [key for key in stats[0].get("pass@k", {}) if all(key in s.get("pass@k", {}) for s in stats)]
    result["pass@k"] = {key: float(np.mean([s["pass@k"][key] for s in stats])) for key in common}
    if all("maj@k" in s for s in stats) and len({s.get("k") for s in stats}) == 1:
        result["maj@k"] = float(np.mean([s["maj@k"] for s in stats]))
    return result


def _id_mismatch(a: Mapping[str, object], b: Mapping[str, object], show: int = 5) -> str:
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    parts = []
    for label, missing in (("only in the first", only_a), ("only in the second", only_b)):
        if missing:
            more = f" and {len(missing) - show} more" if len(missing) > show else ""
            parts.append(f"{len(missing)} {label} ({', '.join(map(repr, missing[:show]))}{more})")
    return "; ".join(parts)


def paired_comparison(
    a: Mapping[str, Sequence[bool]],
    b: Mapping[str, Sequence[bool]],
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    names: tuple[str, str] = ("A", "B"),
) -> dict:
    """Compare model B with model A on the same problems (paired by problem id; ``k`` may differ between them).
    ``names`` label A and B in the verdict.

    Per problem ``d_i = mean(b_i) - mean(a_i)``. Returns ``n_problems``, ``pass@1_a``, ``pass@1_b``, ``difference``
    (the mean of ``d``, i.e. ``pass@1_b - pass@1_a``), ``ci`` = ``[lo, hi]`` and ``confidence`` (percentile bootstrap
    of the mean of ``d``: problem indices are resampled once and used for both models, which is what resampling
    ``d`` does), ``p_value``, ``distinguishable`` (the interval excludes 0) and a one-sentence ``verdict``.

    ``p_value`` is the two-sided bootstrap p-value ``min(1, 2 * min(P*(mean <= 0), P*(mean >= 0)))`` where ``P*`` is
    the share of the ``n_boot`` bootstrap means (inverting the percentile interval: it is below ``1 - confidence``
    when the interval at that level excludes 0, up to quantile interpolation and ties at 0). Its resolution is
    ``1 / n_boot``; ``0.0`` means no bootstrap mean reached 0, i.e. ``p < 1 / n_boot``.

    Raises ``ValueError`` when the ids differ (listing a few on each side), on empty input, or on a problem with no
    samples.
    """
    _check_bootstrap_args(n_boot, confidence)
    if set(a) != set(b):
        raise ValueError(f"paired_comparison: the two runs cover different problems: {_id_mismatch(a, b)}")
    if not a:
        raise ValueError("paired_comparison: no problems")
    ids = sorted(a)
    mean_a = np.array([np.mean(_flags(pid, a[pid])) for pid in ids])
    mean_b = np.array([np.mean(_flags(pid, b[pid])) for pid in ids])
    d = mean_b - mean_a
    boot = _bootstrap_means(d, int(n_boot), seed)
    lo, hi = _percentile_interval(boot, confidence)
    p_value = min(1.0, 2.0 * min(float(np.mean(boot <= 0.0)), float(np.mean(boot >= 0.0))))
    difference = float(d.mean())
    distinguishable = bool(lo > 0.0 or hi < 0.0)
    return {
        "n_problems": len(ids),
        "pass@1_a": float(mean_a.mean()),
        "pass@1_b": float(mean_b.mean()),
        "difference": difference,
        "ci": [lo, hi],
        "confidence": float(confidence),
        "p_value": p_value,
        "distinguishable": distinguishable,
        "verdict": _verdict(difference, lo, hi, confidence, distinguishable, names),
    }


def _verdict(difference: float, lo: float, hi: float, confidence: float, distinguishable: bool,
             names: tuple[str, str] = ("A", "B")) -> str:  # fmt: skip
    """One sentence, in percentage points; the interval is given for the stated direction (B - A or A - B)."""
    a, b = names
    level = f"{confidence * 100:g}% CI"
    noise = "distinguishable from noise" if distinguishable else "not distinguishable from noise"
    if difference > 0:
        head, lo_pts, hi_pts = f"{b} is better than {a} by {difference * 100:.1f} points", lo * 100, hi * 100
    elif difference < 0:
        head, lo_pts, hi_pts = f"{b} is worse than {a} by {-difference * 100:.1f} points", -hi * 100, -lo * 100
    else:
        head, lo_pts, hi_pts = f"{b} and {a} score the same", lo * 100, hi * 100
    # + 0.0 turns -0.0 into 0.0 so that an interval touching 0 never prints as "-0.0".
    return f"{head} ({level} {lo_pts + 0.0:.1f} to {hi_pts + 0.0:.1f}): {noise}"
