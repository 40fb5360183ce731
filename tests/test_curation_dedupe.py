"""Step ``dedupe``: exact duplicates after normalisation, near duplicates by exact shingle Jaccard (MinHash + LSH for
candidates), first occurrence kept, order preserved, what the details and extra say."""

from __future__ import annotations

import json
import random
import string

import pytest

from openrs.data.curation.dedupe import dedupe, jaccard, lsh_params, normalize_problem, shingles

# 20 distinct letters: 16 distinct 5-shingles, so Jaccard values can be counted by hand.
BASE = "abcdefghijklmnopqrst"


def rows_of(*problems: str) -> list[dict]:
    return [{"id": f"r{i}", "problem": p, "source": "test"} for i, p in enumerate(problems)]


def ids(rows) -> list[str]:
    return [row["id"] for row in rows]


def removals(out) -> list[tuple[str, str, dict]]:
    return [(r.row["id"], r.reason, r.detail) for r in out.removed]


def test_normalisation_is_nfkc_casefold_dollars_and_whitespace() -> None:
    assert normalize_problem("  What IS\t$x^2$\n\n+ １?  ") == "what is x^2 + 1?"
    assert normalize_problem("Straße") == normalize_problem("STRASSE") == "strasse"
    assert normalize_problem("\\frac{1}{2}") == "\\frac{1}{2}"  # LaTeX itself is left alone


@pytest.mark.parametrize("near", [False, True])
def test_exact_duplicates_with_whitespace_case_and_dollar_differences(near: bool) -> None:
    rows = rows_of(
        "What is the value of 2+2?",
        "Find all real x with x^2 = 4.",
        "what is the  value of 2+2?\n",
        "WHAT IS THE VALUE OF $2+2$?",
        "find all real $x$ with $x^2 = 4$.",
        "Compute 2+3.",
    )
    out = dedupe(rows, near=near)
    assert ids(out.rows) == ["r0", "r1", "r5"]
    assert out.rows[0] is rows[0]  # the row objects themselves, untouched
    assert removals(out) == [
        ("r2", "exact duplicate", {"duplicate_of": "r0"}),
        ("r3", "exact duplicate", {"duplicate_of": "r0"}),
        ("r4", "exact duplicate", {"duplicate_of": "r1"}),
    ]
    assert out.extra["exact_duplicates"] == 3 and out.extra["near_duplicates"] == 0
    assert out.extra["input"] == 6 and out.extra["kept"] == 3 and out.extra["near"] is near
    example = out.extra["examples"]["exact duplicate"][0]
    assert example == {
        "id": "r2",
        "duplicate_of": "r0",
        "problem": "what is the  value of 2+2?\n",
        "kept": "What is the value of 2+2?",
    }
    json.dumps(out.extra)


def test_first_occurrence_is_kept_and_order_preserved() -> None:
    rows = rows_of("Problem B text.", "Problem A text.", "problem b text.", "Problem C text.", "PROBLEM A TEXT.")
    out = dedupe(rows)
    assert ids(out.rows) == ["r0", "r1", "r3"]
    assert [(i, d["duplicate_of"]) for i, _, d in removals(out)] == [("r2", "r0"), ("r4", "r1")]


def test_hand_counted_jaccard() -> None:
    a = shingles(BASE, 5)
    assert len(a) == 16
    assert jaccard(a, shingles(BASE + "uvwx", 5)) == 16 / 20  # superset with 4 more shingles
    assert jaccard(a, shingles(BASE + "uvwxy", 5)) == 16 / 21
    assert jaccard(a, shingles(BASE[:-1] + "z", 5)) == 15 / 17  # last shingle replaced
    assert shingles("abc", 5) == {"abc"}  # shorter than ngram: the whole text
    assert jaccard(frozenset(), frozenset()) == 1.0


def test_near_duplicate_exactly_at_the_threshold_is_removed() -> None:
    out = dedupe(rows_of(BASE, BASE + "uvwx"), threshold=0.8)
    assert ids(out.rows) == ["r0"]
    assert removals(out) == [("r1", "near duplicate", {"duplicate_of": "r0", "similarity": 0.8})]
    assert out.extra["near_duplicates"] == 1 and out.extra["exact_duplicates"] == 0


def test_near_duplicate_just_below_the_threshold_is_kept() -> None:
    out = dedupe(rows_of(BASE, BASE + "uvwxy"), threshold=0.8)  # 16/21 = 0.762
    assert ids(out.rows) == ["r0", "r1"] and out.removed == []


def test_similarity_is_the_exact_jaccard_rounded() -> None:
    out = dedupe(rows_of(BASE, "XXXXXXXX", BASE[:-1] + "Z"), threshold=0.85)  # 15/17 = 0.88235
    assert removals(out) == [("r2", "near duplicate", {"duplicate_of": "r0", "similarity": 0.882})]
    assert dedupe(rows_of(BASE, BASE[:-1] + "Z"), threshold=0.9).removed == []


def test_near_is_greedy_against_kept_rows_only() -> None:
    # r1 is a near duplicate of r0 (0.8) and is removed; r2 is 20/21 similar to r1 but only 16/21 to r0, the kept
    # one, so it stays.
    out = dedupe(rows_of(BASE, BASE + "uvwx", BASE + "uvwxy"), threshold=0.8)
    assert ids(out.rows) == ["r0", "r2"]
    assert [i for i, _, _ in removals(out)] == ["r1"]


def test_duplicate_of_names_the_most_similar_kept_row() -> None:
    # r0 and r1 are kept (0.762 apart); r2 is 0.8 from r0 and 20/21 = 0.952 from r1.
    out = dedupe(rows_of(BASE, BASE + "uvwxy", BASE + "uvwx"), threshold=0.8)
    assert removals(out) == [("r2", "near duplicate", {"duplicate_of": "r1", "similarity": 0.952})]


def test_a_copy_of_a_near_duplicate_points_at_the_kept_row() -> None:
    out = dedupe(rows_of(BASE, BASE + "uvwx", BASE.upper() + "UVWX"), threshold=0.8)
    assert ids(out.rows) == ["r0"]
    assert removals(out) == [
        ("r1", "near duplicate", {"duplicate_of": "r0", "similarity": 0.8}),
        ("r2", "near duplicate", {"duplicate_of": "r0", "similarity": 0.8}),
    ]


def test_near_false_only_removes_exact_duplicates() -> None:
    out = dedupe(rows_of(BASE, BASE + "uvwx", BASE), near=False)
    assert ids(out.rows) == ["r0", "r1"]
    assert removals(out) == [("r2", "exact duplicate", {"duplicate_of": "r0"})]


def test_problems_shorter_than_ngram_are_one_shingle() -> None:
    out = dedupe(rows_of("abcd", "abce", "ABCD ", "abcde", ""), threshold=0.5)
    # {"abcd"} vs {"abce"} vs {"abcde"} share nothing; "ABCD " normalises to "abcd".
    assert ids(out.rows) == ["r0", "r1", "r3", "r4"]
    assert removals(out) == [("r2", "exact duplicate", {"duplicate_of": "r0"})]


def test_matches_a_brute_force_greedy_pass() -> None:
    """LSH only proposes candidates: the outcome is the exact greedy one (checked against all pairs)."""
    rng = random.Random(7)
    bases = [
        "".join(rng.choice(string.ascii_lowercase + "   ") for _ in range(rng.randint(150, 400))) for _ in range(40)
    ]
    problems = []
    for _ in range(160):
        text = list(rng.choice(bases))
        for _ in range(rng.choice([0, 1, 2, 4, 8, 16, 30])):
            text[rng.randrange(len(text))] = rng.choice(string.ascii_lowercase)
        problems.append("".join(text))
    rows = rows_of(*problems)
    threshold = 0.7
    out = dedupe(rows, threshold=threshold)

    sets = [shingles(normalize_problem(p), 5) for p in problems]
    expected_kept: list[int] = []
    expected_removed = {}
    for i, s in enumerate(sets):
        sims = [(jaccard(s, sets[k]), -k) for k in expected_kept]
        best = max(sims, default=(0.0, 0))
        if best[0] >= threshold:
            expected_removed[f"r{i}"] = (f"r{-best[1]}", round(best[0], 3))
        else:
            expected_kept.append(i)
    assert ids(out.rows) == [f"r{i}" for i in expected_kept]
    got = {i: (d["duplicate_of"], d.get("similarity", 1.0)) for i, _, d in removals(out)}
    assert got == expected_removed
    assert out.extra["near_duplicates"] > 20 and len(out.rows) > 40  # the data has both kinds
    assert out.extra["candidates_checked"] >= out.extra["near_duplicates"]


def test_lsh_params_favour_recall_at_the_threshold() -> None:
    bands, rows = lsh_params(0.8, 128)
    assert (bands, rows) == (21, 6)
    assert 1 - (1 - 0.8**rows) ** bands >= 0.99
    assert 1 - (1 - 0.8 ** (rows + 1)) ** (128 // (rows + 1)) < 0.99  # the largest band size that reaches 99%
    for threshold in (0.3, 0.5, 0.9, 1.0):
        for num_perm in (16, 64, 128, 256):
            b, r = lsh_params(threshold, num_perm)
            assert b >= 2 and b * r <= num_perm


def test_extra_reports_lsh_and_near_examples() -> None:
    out = dedupe(rows_of(BASE, BASE + "uvwx", BASE), threshold=0.8)
    extra = out.extra
    assert (extra["num_perm"], extra["lsh_bands"], extra["lsh_band_rows"]) == (128, 21, 6)
    assert extra["examples"]["near duplicate"] == [
        {"id": "r1", "duplicate_of": "r0", "similarity": 0.8, "problem": BASE + "uvwx", "kept": BASE}
    ]
    json.dumps(extra)


def test_empty_input_and_bad_parameters() -> None:
    out = dedupe([])
    assert out.rows == [] and out.removed == [] and out.extra["kept"] == 0
    with pytest.raises(ValueError, match="threshold"):
        dedupe(rows_of("a"), threshold=0.0)
    with pytest.raises(ValueError, match="ngram"):
        dedupe(rows_of("a"), ngram=0)


def test_near_duplicates_must_share_their_numbers_by_default() -> None:
    base = (
        "A ball is thrown straight upward from a platform; its height in feet after t seconds is given by the "
        "expression below. Find the maximum height the ball reaches, in feet."
    )
    rows = [
        {"id": "a", "problem": base + " -16t^2+80t+21"},
        {"id": "b", "problem": base + " -16t^2+64t+31"},  # a sibling problem: other numbers
        {"id": "c", "problem": base + " -16t^2+80t+21."},  # the same problem with a final period
    ]
    similarity = jaccard(
        shingles(normalize_problem(rows[0]["problem"]), 5), shingles(normalize_problem(rows[1]["problem"]), 5)
    )
    assert similarity >= 0.9
    out = dedupe(rows)
    assert [row["id"] for row in out.rows] == ["a", "b"]
    assert [(r.row["id"], r.detail["duplicate_of"]) for r in out.removed] == [("c", "a")]
    loose = dedupe(rows, same_numbers=False)
    assert [row["id"] for row in loose.rows] == ["a"]
