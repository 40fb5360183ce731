"""``openrs.evaluation.stats``: pass@k (Chen et al. 2021), maj@k, bootstrap intervals over problems, benchmark and
average scores, paired comparisons. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from openrs.evaluation import stats
from openrs.evaluation.stats import (
    average_stats,
    benchmark_stats,
    bootstrap_ci,
    majority_correct,
    paired_comparison,
    pass_at_k,
)

T, F = True, False

# --------------------------------------------------------------------------------------------------- pass@k


def test_pass_at_k_hand_values() -> None:
    # k=1: pass@1 = c/n = 3/10.
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7.
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    # No correct sample: C(4,2)/C(4,2) = 1, so 0.
    assert pass_at_k(4, 0, 2) == 0.0
    # n - c = 1 < k = 2: every pair holds a correct sample.
    assert pass_at_k(4, 3, 2) == 1.0
    # k = n: correct iff any sample is.
    assert pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(4, 0, 4) == 0.0


def test_pass_at_k_matches_comb_on_a_grid() -> None:
    for n in range(1, 17):
        for c in range(n + 1):
            for k in range(1, n + 1):
                expected = 1.0 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12), (n, c, k)


def test_pass_at_k_accepts_numpy_integers_and_is_stable_for_large_n() -> None:
    assert pass_at_k(np.int64(10), np.int64(3), np.int64(1)) == pytest.approx(0.3)
    # C(1000, 500) overflows a float; the product form does not: 1 - C(990,100)/C(1000,100).
    expected = 1.0 - math.comb(990, 100) / math.comb(1000, 100)
    assert pass_at_k(1000, 10, 100) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(3, 1, 4), (3, 1, 0), (3, 4, 1), (-1, 0, 1), (3, -1, 1), (3, 1, -2), (3.0, 1, 1), (3, True, 1)],
)
def test_pass_at_k_errors(n, c, k) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


# --------------------------------------------------------------------------------------------------- maj@k


def test_majority_clear_winner() -> None:
    assert majority_correct(["4", "5", "4", "4"], [T, F, T, T]) is True
    assert majority_correct(["5", "4", "5", "5"], [F, T, F, F]) is False


def test_majority_tie_goes_to_the_earliest_first_occurrence() -> None:
    # "3" and "2" both have 2 votes; "3" appears first (index 0) -> its correctness (False).
    assert majority_correct(["3", "2", "2", "3"], [F, T, T, F]) is False
    # Same votes, "2" first -> True.
    assert majority_correct(["2", "3", "3", "2"], [T, F, F, T]) is True


def test_majority_none_answers_do_not_vote() -> None:
    # Three None beat nothing: "7" (1 vote) beats "8" (1 vote, later).
    assert majority_correct([None, None, "7", None, "8"], [F, F, T, F, F]) is True
    # None is not an answer even when most frequent.
    assert majority_correct([None, None, None, "8"], [F, F, F, F]) is False


def test_majority_all_none_or_empty_is_false() -> None:
    assert majority_correct([None, None, None], [F, F, F]) is False
    assert majority_correct([], []) is False


def test_majority_length_mismatch() -> None:
    with pytest.raises(ValueError, match="2 answers but 3"):
        majority_correct(["1", "2"], [T, F, T])


# --------------------------------------------------------------------------------------------------- benchmark

# 3 problems, k = 4.
#   p1: 2/4 correct; answers "3","2","2","3": tie 2-2, "3" first -> maj wrong.
#   p2: 0/4 correct; "5" has 2 votes (None does not vote)           -> maj wrong.
#   p3: 3/4 correct; "1" has 3 votes                                -> maj right.
CORRECT = {"p1": [F, T, T, F], "p2": [F, F, F, F], "p3": [T, F, T, T]}
ANSWERS = {"p1": ["3", "2", "2", "3"], "p2": ["5", "5", None, "7"], "p3": ["1", "4", "1", "1"]}


def test_benchmark_stats_hand_example() -> None:
    out = benchmark_stats(CORRECT, ANSWERS, n_boot=2000)
    assert out["n_problems"] == 3
    assert out["k"] == 4
    assert out["samples"] == 12
    # Per-problem means 1/2, 0, 3/4 -> pass@1 = (5/4)/3 = 5/12.
    assert out["pass@1"] == pytest.approx(5 / 12)
    # Deviations from 5/12: 1/12, -5/12, 4/12; squares sum to 42/144; / (n-1) = 21/144; std = sqrt(21)/12;
    # se = sqrt(21)/12/sqrt(3) = sqrt(7)/12.
    assert out["se"] == pytest.approx(math.sqrt(7) / 12)
    # Default ks for k=4: 1, 2, 4.
    assert list(out["pass@k"]) == ["1", "2", "4"]
    assert out["pass@k"]["1"] == pytest.approx(5 / 12)
    # pass@2: p1 1 - C(2,2)/C(4,2) = 5/6; p2 0; p3 (n-c=1<2) 1 -> (11/6)/3 = 11/18.
    assert out["pass@k"]["2"] == pytest.approx(11 / 18)
    # pass@4: any correct -> 1, 0, 1 -> 2/3.
    assert out["pass@k"]["4"] == pytest.approx(2 / 3)
    # maj@4: wrong, wrong, right -> 1/3.
    assert out["maj@k"] == pytest.approx(1 / 3)
    # The bootstrap means of 3 values in {0, 1/2, 3/4} lie in [0, 3/4] and the interval holds the estimate.
    lo, hi = out["ci"]
    assert 0.0 <= lo <= 5 / 12 <= hi <= 0.75
    assert out["confidence"] == 0.95
    json.dumps(out)  # JSON-serialisable
    assert all(type(v) in (int, float, list, dict) for v in out.values())


def test_benchmark_stats_without_answers_has_no_maj() -> None:
    out = benchmark_stats(CORRECT, n_boot=100)
    assert "maj@k" not in out


def test_benchmark_stats_default_and_explicit_ks() -> None:
    assert list(benchmark_stats({"a": [T, F, T]}, n_boot=10)["pass@k"]) == ["1", "2", "3"]
    assert list(benchmark_stats({"a": [T] * 6}, n_boot=10)["pass@k"]) == ["1", "2", "4", "6"]
    assert list(benchmark_stats({"a": [T] * 8}, n_boot=10)["pass@k"]) == ["1", "2", "4", "8"]
    assert list(benchmark_stats({"a": [T]}, n_boot=10)["pass@k"]) == ["1"]
    assert list(benchmark_stats({"a": [T] * 8}, ks=[8, 1], n_boot=10)["pass@k"]) == ["8", "1"]
    with pytest.raises(ValueError, match="outside 1..8"):
        benchmark_stats({"a": [T] * 8}, ks=[16], n_boot=10)


def test_benchmark_stats_one_problem() -> None:
    out = benchmark_stats({"only": [T, F]}, n_boot=100)
    assert out["se"] == 0.0
    assert out["ci"] == [0.5, 0.5]


def test_benchmark_stats_errors() -> None:
    with pytest.raises(ValueError, match="no problems"):
        benchmark_stats({})
    with pytest.raises(ValueError, match="'p2' has 3 samples"):
        benchmark_stats({"p1": [T, F, T, T], "p2": [T, F, T]})
    with pytest.raises(ValueError, match="'p1' has no samples"):
        benchmark_stats({"p1": []})
    with pytest.raises(ValueError, match="different problems"):
        benchmark_stats(CORRECT, {"p1": ANSWERS["p1"]})
    with pytest.raises(ValueError, match="3 answers but 4 samples"):
        benchmark_stats(CORRECT, {**ANSWERS, "p2": ["5", "5", "7"]})


def test_benchmark_stats_does_not_depend_on_key_order() -> None:
    reordered = {pid: CORRECT[pid] for pid in reversed(list(CORRECT))}
    assert benchmark_stats(reordered, n_boot=500) == benchmark_stats(CORRECT, n_boot=500)


# --------------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_is_deterministic_and_seed_dependent() -> None:
    values = np.random.default_rng(7).random(50)
    assert bootstrap_ci(values, n_boot=500, seed=3) == bootstrap_ci(values, n_boot=500, seed=3)
    assert bootstrap_ci(values, n_boot=500, seed=3) != bootstrap_ci(values, n_boot=500, seed=4)
    lo, hi = bootstrap_ci(values, n_boot=500)
    assert lo < values.mean() < hi


def test_bootstrap_ci_constant_values_and_errors() -> None:
    assert bootstrap_ci(np.full(10, 0.25), n_boot=100) == (0.25, 0.25)
    with pytest.raises(ValueError):
        bootstrap_ci(np.array([]))
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones((2, 2)))
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones(3), n_boot=0)
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones(3), confidence=1.0)


def test_bootstrap_ci_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.random.default_rng(1).random(100)
    whole = bootstrap_ci(values, n_boot=4000)
    # 16 bytes per element * 100 problems * 7 rows: 7 resamples per chunk, 572 chunks (the last one of 3).
    monkeypatch.setattr(stats, "_CHUNK_BYTES", 16 * 100 * 7)
    chunked = bootstrap_ci(values, n_boot=4000)
    assert chunked == bootstrap_ci(values, n_boot=4000)
    # Another stream of resamples, the same interval up to Monte Carlo error (the half-width is about 0.057).
    assert chunked == pytest.approx(whole, abs=0.01)


def test_bootstrap_ci_covers_the_true_rate() -> None:
    # 400 synthetic benchmarks of 200 Bernoulli(0.3) problems (k=1); the 95% percentile interval should contain
    # 0.3 in about 95% of them. With 400 datasets the binomial sd of the coverage is ~0.011, so [0.92, 0.98] is a
    # generous band; everything is seeded, so the result is fixed (0.96 with these seeds).
    rng = np.random.default_rng(12345)
    p, hits = 0.3, 0
    for i in range(400):
        values = (rng.random(200) < p).astype(float)
        lo, hi = bootstrap_ci(values, n_boot=1000, seed=i)
        hits += lo <= p <= hi
    assert 0.92 <= hits / 400 <= 0.98


# --------------------------------------------------------------------------------------------------- average


def test_average_stats_is_the_unweighted_mean_of_benchmark_scores() -> None:
    big = {"pass@1": 0.8, "k": 4, "pass@k": {"1": 0.8, "2": 0.9, "4": 0.95}, "maj@k": 0.85, "n_problems": 500}
    small = {"pass@1": 0.2, "k": 4, "pass@k": {"1": 0.2, "2": 0.3, "4": 0.4}, "maj@k": 0.25, "n_problems": 30}
    out = average_stats({"MATH-500": big, "AIME24": small})
    assert out["benchmarks"] == ["MATH-500", "AIME24"]
    # (0.8 + 0.2) / 2, not weighted by the 500 vs 30 problems.
    assert out["pass@1"] == pytest.approx(0.5)
    assert out["pass@k"] == pytest.approx({"1": 0.5, "2": 0.6, "4": 0.675})
    assert out["maj@k"] == pytest.approx(0.55)


def test_average_stats_keeps_only_common_keys() -> None:
    a = {"pass@1": 0.6, "k": 8, "pass@k": {"1": 0.6, "2": 0.7, "8": 0.9}, "maj@k": 0.7}
    b = {"pass@1": 0.4, "k": 4, "pass@k": {"1": 0.4, "2": 0.5, "4": 0.6}, "maj@k": 0.5}
    c = {"pass@1": 0.5, "k": 4, "pass@k": {"1": 0.5, "2": 0.6, "4": 0.7}}
    out = average_stats({"a": a, "b": b})
    assert out["pass@k"] == pytest.approx({"1": 0.5, "2": 0.6})
    assert "maj@k" not in out  # maj@8 and maj@4 do not average to a maj@anything
    assert "maj@k" not in average_stats({"b": b, "c": c})  # c has no maj@k
    with pytest.raises(ValueError):
        average_stats({})


def test_average_stats_of_real_benchmark_stats() -> None:
    one = benchmark_stats(CORRECT, ANSWERS, n_boot=100)
    two = benchmark_stats({"q": [T, T, T, F]}, {"q": ["1", "1", "1", "2"]}, n_boot=100)
    out = average_stats({"one": one, "two": two})
    # (5/12 + 3/4) / 2 = 7/12; maj (1/3 + 1) / 2 = 2/3.
    assert out["pass@1"] == pytest.approx(7 / 12)
    assert out["maj@k"] == pytest.approx(2 / 3)
    assert list(out["pass@k"]) == ["1", "2", "4"]
    json.dumps(out)


# --------------------------------------------------------------------------------------------------- paired


def test_paired_identical_runs() -> None:
    runs = {f"p{i}": [i % 3 == 0, i % 2 == 0] for i in range(40)}
    out = paired_comparison(runs, runs, n_boot=1000)
    assert out["difference"] == 0.0
    assert out["ci"] == [0.0, 0.0]
    assert out["p_value"] == 1.0
    assert out["distinguishable"] is False
    assert out["pass@1_a"] == out["pass@1_b"]
    assert out["verdict"] == "B and A score the same (95% CI 0.0 to 0.0): not distinguishable from noise"
    json.dumps(out)


def test_paired_clearly_better() -> None:
    a = {f"p{i}": [F] for i in range(60)}
    b = {f"p{i}": [T, T, T, T] for i in range(60)}  # k may differ between the runs
    out = paired_comparison(a, b, n_boot=1000)
    assert out["n_problems"] == 60
    assert (out["pass@1_a"], out["pass@1_b"], out["difference"]) == (0.0, 1.0, 1.0)
    assert out["ci"] == [1.0, 1.0]
    assert out["distinguishable"] is True
    assert out["p_value"] < 0.01
    assert out["verdict"] == "B is better than A by 100.0 points (95% CI 100.0 to 100.0): distinguishable from noise"
    named = paired_comparison(b, a, n_boot=1000, names=("base", "final"))["verdict"]
    assert named == "final is worse than base by 100.0 points (95% CI 100.0 to 100.0): distinguishable from noise"


def test_paired_moderate_differences() -> None:
    # 60 problems: B fixes 12 problems A gets wrong and breaks 2 A gets right -> d = (12 - 2) / 60 = 1/6.
    a = {f"p{i}": [i < 30] for i in range(60)}
    b = {f"p{i}": [(i < 28) or (30 <= i < 42)] for i in range(60)}
    out = paired_comparison(a, b, n_boot=2000)
    assert out["difference"] == pytest.approx(1 / 6)
    lo, hi = out["ci"]
    assert 0 < lo < 1 / 6 < hi
    assert out["distinguishable"] is True
    assert out["p_value"] < 0.05
    assert out["verdict"].startswith("B is better than A by 16.7 points (95% CI ")
    assert out["verdict"].endswith("): distinguishable from noise")

    # Swapped: B is worse; the interval is reported for A - B, so it reads low to high and positive.
    swapped = paired_comparison(b, a, n_boot=2000)
    assert swapped["difference"] == pytest.approx(-1 / 6)
    assert swapped["ci"] == pytest.approx([-hi, -lo])
    assert swapped["verdict"] == (
        f"B is worse than A by 16.7 points (95% CI {lo * 100:.1f} to {hi * 100:.1f}): distinguishable from noise"
    )

    # One fix, one break out of 60: d = 0 on average but not identical -> the interval straddles 0.
    c = {f"p{i}": [(i < 29) or i == 30] for i in range(60)}
    tie = paired_comparison(a, c, n_boot=2000)
    assert tie["difference"] == 0.0
    assert tie["ci"][0] < 0 < tie["ci"][1]
    assert tie["distinguishable"] is False
    assert tie["p_value"] > 0.5


def test_paired_noise_is_not_distinguishable() -> None:
    rng = np.random.default_rng(0)
    a = {f"p{i}": list(rng.random(4) < 0.4) for i in range(50)}
    b = {f"p{i}": list(rng.random(4) < 0.4) for i in range(50)}
    out = paired_comparison(a, b, n_boot=2000, confidence=0.9)
    assert out["confidence"] == 0.9
    assert out["distinguishable"] is False
    assert "(90% CI " in out["verdict"]
    assert out["verdict"].endswith("not distinguishable from noise")


def test_paired_mismatched_ids() -> None:
    a = {f"p{i}": [T] for i in range(10)}
    b = {f"p{i}": [T] for i in range(3, 13)}
    with pytest.raises(ValueError, match=r"3 only in the first \('p0', 'p1', 'p2'\); 3 only in the second"):
        paired_comparison(a, b)
    many = {f"q{i:02d}": [T] for i in range(20)}
    with pytest.raises(ValueError, match=r"and 15 more"):
        paired_comparison(a, many)
    with pytest.raises(ValueError, match="no problems"):
        paired_comparison({}, {})
