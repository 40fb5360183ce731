"""Step ``decontaminate``: word n-gram overlap with benchmark problems, |shared| / min(sizes), every hit listed, the
best one per removed row, counts per benchmark."""

from __future__ import annotations

import json

import pytest

from openrs.data.curation.decontaminate import decontaminate, ngrams, tokenize

# Distinct one-token words (letters only, so each is exactly one token).
WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo "
    "sierra tango uniform victor whiskey xray yankee zulu"
).split()
FILL = (
    "red orange yellow green blue indigo violet black white grey brown pink cyan magenta olive navy teal maroon "
    "silver gold beige coral ivory khaki lavender"
).split()


def text(*words: str) -> str:
    return " ".join(words)


def rows_of(*problems: str) -> list[dict]:
    return [{"id": f"t{i}", "problem": p, "source": "train"} for i, p in enumerate(problems)]


def bench(*problems: str, prefix: str = "b") -> list[dict]:
    return [{"id": f"{prefix}{i}", "problem": p} for i, p in enumerate(problems)]


# A 21-token benchmark problem: 14 8-grams.
B21 = text(*WORDS[:21])


def test_tokenize_splits_latex_into_letters_digits_and_symbols() -> None:
    assert tokenize("$x^2+10$ and \\frac{3}{4}") == [
        "x", "^", "2", "+", "10", "and", "\\", "frac", "{", "3", "}", "{", "4", "}",
    ]  # fmt: skip
    assert tokenize("Find ALL  x_1.") == ["find", "all", "x", "_", "1", "."]
    assert tokenize("ｘ² = 1") == ["x", "2", "=", "1"]  # NFKC: full-width x, superscript two
    assert tokenize("$x$") == tokenize("x")


def test_ngrams() -> None:
    assert ngrams(["a", "b", "c", "d"], 2) == {("a", "b"), ("b", "c"), ("c", "d")}
    assert ngrams(["a", "b", "c"], 8) == {("a", "b", "c")}  # shorter than n: one n-gram of all tokens
    assert ngrams([], 8) == set()
    assert len(ngrams(tokenize(B21), 8)) == 14


@pytest.mark.parametrize(
    ("shared_prefix", "overlap", "hit"),
    [
        (15, 8 / 14, True),  # 8 of 14 8-grams shared: 0.571
        (14, 7 / 14, True),  # exactly the threshold
        (13, 6 / 14, False),  # 0.429
    ],
)
def test_threshold_edge(shared_prefix: int, overlap: float, hit: bool) -> None:
    train = text(*WORDS[:shared_prefix], *FILL[: 21 - shared_prefix])  # 21 tokens too: 14 8-grams
    out = decontaminate(rows_of(train), benchmarks={"bench": bench(B21)}, threshold=0.5)
    if hit:
        assert out.rows == []
        (removal,) = out.removed
        assert removal.reason == "contaminated: bench"
        assert removal.detail == {
            "benchmark": "bench",
            "benchmark_id": "b0",
            "overlap": round(overlap, 3),
            "benchmark_problem": B21,
        }
        assert out.extra["hits"] == [
            {"id": "t0", "benchmark": "bench", "benchmark_id": "b0", "overlap": round(overlap, 3)}
        ]
    else:
        assert [r["id"] for r in out.rows] == ["t0"]
        assert out.removed == [] and out.extra["hits"] == []


def test_short_benchmark_problem_embedded_in_a_long_train_problem() -> None:
    bench_problem = "Let $x^2+1 = 10$. Find the sum of all possible values of $x$."  # 19 tokens: 12 8-grams
    train = (
        f"Some preamble about a contest. {bench_problem.replace('$', '')} Then explain your answer in detail please."
    )
    assert len(ngrams(tokenize(train), 8)) > 12
    out = decontaminate(
        rows_of(train, "An unrelated problem about triangles."), benchmarks={"amc": bench(bench_problem)}
    )
    assert [r["id"] for r in out.rows] == ["t1"]
    assert out.removed[0].detail["overlap"] == 1.0  # all 12 of the benchmark's 8-grams, over min(|T|, 12)


def test_texts_shorter_than_ngram_only_match_the_same_tokens() -> None:
    short = "Compute 17 * 3."  # 5 tokens: one 5-gram
    out = decontaminate(
        rows_of("compute 17*3 .", f"{short} Then compute 17 * 4 and 17 * 5 as well."),
        benchmarks={"b": bench(short)},
    )
    assert [r.row["id"] for r in out.removed] == ["t0"] and out.removed[0].detail["overlap"] == 1.0
    assert [r["id"] for r in out.rows] == ["t1"]  # its 8-grams never equal the benchmark's single 5-gram


def test_every_hit_is_listed_and_the_best_one_removes() -> None:
    b1 = text(*WORDS[:10])  # 3 8-grams
    b2 = text(*WORDS[12:26])  # 7 8-grams
    # Contains b1 whole and the first 12 tokens of b2 (5 of its 8-grams): overlaps 1.0 and 5/7.
    train = text(*WORDS[:10], "zero", "one", *WORDS[12:24], *FILL[:4])
    benchmarks = {"first": bench(text(*FILL[5:20]), b2, prefix="f"), "second": bench(b1, prefix="s")}
    out = decontaminate(rows_of(train), benchmarks=benchmarks, threshold=0.5)
    assert out.extra["hits"] == [
        {"id": "t0", "benchmark": "second", "benchmark_id": "s0", "overlap": 1.0},
        {"id": "t0", "benchmark": "first", "benchmark_id": "f1", "overlap": 0.714},
    ]
    (removal,) = out.removed
    assert removal.reason == "contaminated: second"
    assert (removal.detail["benchmark_id"], removal.detail["overlap"]) == ("s0", 1.0)
    assert out.extra["per_benchmark"] == {"first": 0, "second": 1}


def test_ties_go_to_the_first_benchmark_given() -> None:
    out = decontaminate(rows_of(B21), benchmarks={"x": bench(B21, prefix="x"), "y": bench(B21, prefix="y")})
    assert out.removed[0].detail["benchmark"] == "x"
    assert [h["benchmark"] for h in out.extra["hits"]] == ["x", "y"]


def test_per_benchmark_counts_and_order() -> None:
    aime = bench(text(*WORDS[:12]), text(*WORDS[13:26]), prefix="aime-")
    math = bench(text(*FILL[:12]), prefix="math-")
    train = rows_of(
        "A clean problem about the area of a circle of radius 3.",
        text("Rephrased:", *WORDS[:12]),
        text(*FILL[:12]),
        "Another clean problem: how many primes are below 100?",
        text(*WORDS[13:26], "?"),
        "",
    )
    out = decontaminate(train, benchmarks={"aime24": aime, "math500": math, "amc23": []})
    assert [r["id"] for r in out.rows] == ["t0", "t3", "t5"]
    assert [(r.row["id"], r.reason, r.detail["benchmark_id"]) for r in out.removed] == [
        ("t1", "contaminated: aime24", "aime-0"),
        ("t2", "contaminated: math500", "math-0"),
        ("t4", "contaminated: aime24", "aime-1"),
    ]
    assert out.extra["per_benchmark"] == {"aime24": 2, "math500": 1, "amc23": 0}
    assert out.extra["benchmark_problems"] == {"aime24": 2, "math500": 1, "amc23": 0}
    assert (out.extra["input"], out.extra["kept"], out.extra["removed"]) == (6, 3, 3)
    assert len(out.extra["hits"]) == 3
    json.dumps(out.extra)


def test_benchmark_problem_in_detail_is_cut_to_200_characters() -> None:
    long_problem = " ".join(WORDS) * 3
    out = decontaminate(rows_of(long_problem), benchmarks={"b": bench(long_problem)})
    assert out.removed[0].detail["benchmark_problem"] == long_problem[:200]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="needs 'id' and 'problem'"):
        decontaminate(rows_of("x"), benchmarks={"b": [{"problem": "x"}]})
    with pytest.raises(ValueError, match="threshold"):
        decontaminate(rows_of("x"), benchmarks={}, threshold=1.5)
    with pytest.raises(ValueError, match="ngram"):
        decontaminate(rows_of("x"), benchmarks={}, ngram=0)
