"""Tests for openrs.rewards (no network)."""

from __future__ import annotations

import logging
import math
import pickle
import random
import sys
import textwrap
import time
from collections import defaultdict
from typing import Any

import pytest

import openrs.rewards.correctness as correctness
import openrs.rewards.math_verify_utils as mvu
from openrs.rewards import AsyncRewardFunction, available_rewards, get_reward
from openrs.rewards.cosine import cosine_scaled_value
from openrs.rewards.format import STRICT_FORMAT_PATTERN, matches_strict_format
from openrs.rewards.length import kimi_length_values


class MetricSink:
    """Stand-in for TRL's `log_metric` kwarg."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = defaultdict(list)

    def __call__(self, name: str, value: float) -> None:
        self.values[name].append(value)


@pytest.fixture(autouse=True)
def _reset_gold_warnings():
    correctness._WARNED_GOLDS.clear()
    yield
    correctness._WARNED_GOLDS.clear()


def boxed(answer: str, pad: int = 0) -> str:
    return "x" * pad + f"The answer is \\boxed{{{answer}}}."


# --- accuracy ------------------------------------------------------------------------------------------------


def test_accuracy_correct_and_incorrect():
    accuracy = get_reward("accuracy")
    assert accuracy([boxed("420"), boxed("421")], solution=["420", "420"]) == [1.0, 0.0]


# What degenerate answers earn against the gold 12 of "What is 7 + 5?" (math-verify alone evaluates `7+5` to 12)
DEGENERATE = {
    "an echo in a box": "\\boxed{7+5}",
    "an echo in prose": "The answer is $7 + 5$.",
    "the question itself": "What is $7 + 5$?",
    "an unsimplified fraction": "\\boxed{\\frac{24}{2}}",
    "a product to compute": "\\boxed{2^2 \\cdot 3}",
    "an empty box": "\\boxed{}",
    "every number boxed": " ".join(f"\\boxed{{{i}}}" for i in range(200)),
    "two answers": "\\boxed{11} or \\boxed{12}",
    "a long right-looking answer, wrong box": "7 + 5 = 12. " * 400 + "\\boxed{13}",
}
NUMBERS = {"a boxed number": "7 + 5 = 12, so \\boxed{12}.", "an equation ending in it": "\\boxed{7+5=12}",
           "a unit": "\\boxed{12 \\text{ apples}}", "a decimal": "\\boxed{12.0}"}  # fmt: skip


@pytest.mark.parametrize("scheme", ["recipe", "latex_gold_fixed", "expr_gold_fixed"])
def test_a_number_gold_needs_a_number_not_an_echo(scheme: str) -> None:
    rules = mvu.SCHEMES[scheme]
    gold = mvu.parse_gold("12", rules)
    assert {name: mvu.judge(gold, text, rules)[0] is mvu.Verdict.CORRECT for name, text in DEGENERATE.items()} == (
        dict.fromkeys(DEGENERATE, False)
    )
    assert all(mvu.judge(gold, text, rules)[0] is mvu.Verdict.CORRECT for text in NUMBERS.values())
    # the faithful lighteval scheme (scoring=paper on the published benchmarks) keeps math-verify's reading
    assert mvu.judge(mvu.parse_gold("12", mvu.SCHEMES["latex_gold"]), DEGENERATE["an echo in a box"],
                     mvu.SCHEMES["latex_gold"])[0] is mvu.Verdict.CORRECT  # fmt: skip


def test_accuracy_reward_pays_nothing_for_degenerate_answers() -> None:
    accuracy = get_reward("accuracy")
    texts = [*DEGENERATE.values(), *NUMBERS.values()]
    assert accuracy(texts, solution=["12"] * len(texts)) == [0.0] * len(DEGENERATE) + [1.0] * len(NUMBERS)


@pytest.mark.parametrize(
    ("text", "form"),
    [("12", "integer"), ("1,000", "integer"), ("(12)", "integer"), ("\\text{12}", "integer"), ("50\\%", "percent"),
     ("30^\\circ", "integer"), ("-3.5", "decimal"), ("3 \\times 10^5", "scientific"), ("10^{6}", "scientific"),
     ("\\frac{3}{4}", "fraction"), ("\\frac{1}{\\,2}", "fraction"), ("1\\frac{1}{2}", "fraction"),
     ("\\frac{-1}{2}", "fraction"), ("6/8", "fraction"), ("7+5", None), ("2^{10}", None), ("2 \\cdot 3", None),
     ("12.", None), ("", None), (None, None)],
)  # fmt: skip
def test_number_forms(text: str | None, form: str | None) -> None:
    assert mvu.number_form(text) == form


@pytest.mark.parametrize("gold", ["1/2", "0.5", "\\frac12", "\\frac{1}{2}", "\\dfrac{1}{2}", "$\\frac{1}{2}$"])
@pytest.mark.parametrize("answer", ["0.5", "1/2", "\\frac{1}{2}", "\\dfrac{1}{2}", "\\tfrac{1}{2}"])
def test_accuracy_equivalent_forms(gold: str, answer: str):
    accuracy = get_reward("accuracy")
    assert accuracy([boxed(answer), boxed("0.6")], solution=[gold, gold]) == [1.0, 0.0]


def test_accuracy_completion_malformed_frac_is_wrong_as_in_recipe():
    # malformed_operators=False in the recipe's completion config: `\frac12` in a completion is not parsed.
    accuracy = get_reward("accuracy")
    assert accuracy([boxed("\\frac12")], solution=["\\frac{1}{2}"]) == [0.0]


@pytest.mark.parametrize("gold", ["420", "\\boxed{420}", "$420$", "So the total is $\\boxed{420}$ apples.", 420])
def test_accuracy_gold_forms(gold: Any):
    accuracy = get_reward("accuracy")
    assert accuracy([boxed("420"), boxed("42")], solution=[gold, gold]) == [1.0, 0.0]


def test_accuracy_gold_full_solution():
    gold = "We compute $3 \\cdot 7 = 21$, then add $4$ to get \\boxed{25}."
    accuracy = get_reward("accuracy")
    assert accuracy([boxed("25"), boxed("21")], solution=[gold, gold]) == [1.0, 0.0]


def test_accuracy_bare_gold_fraction():
    accuracy = get_reward("accuracy")
    assert accuracy([boxed("\\frac{1}{9}"), boxed("1/8")], solution=["\\dfrac{1}{9}"] * 2) == [1.0, 0.0]


def test_accuracy_no_answer_in_completion_is_zero():
    accuracy = get_reward("accuracy")
    assert accuracy(["I am not sure.", ""], solution=["420", "420"]) == [0.0, 0.0]


def test_accuracy_unparseable_gold_none_metric_and_single_warning(caplog: pytest.LogCaptureFixture):
    accuracy = get_reward("accuracy")
    sink = MetricSink()
    completions = [boxed("420"), boxed("1"), boxed("420"), boxed("2")]
    solutions = ["see figure", "see figure", "420", "420"]
    with caplog.at_level(logging.WARNING, logger=correctness.__name__):
        first = accuracy(completions, solution=solutions, log_metric=sink)
        second = accuracy(completions, solution=solutions, log_metric=sink)
    assert first == second == [None, None, 1.0, 0.0]
    assert sink.values["accuracy/unparseable_gold"] == [2, 2]
    warnings = [r for r in caplog.records if "see figure" in r.getMessage()]
    assert len(warnings) == 1  # once per distinct gold, not per completion nor per call


def test_unparseable_gold_warning_names_the_problem(caplog: pytest.LogCaptureFixture):
    prompt = [{"role": "system", "content": "Think."}, {"role": "user", "content": "Draw the figure of\nproblem 7."}]
    with caplog.at_level(logging.WARNING, logger=correctness.__name__):
        get_reward("accuracy")([boxed("1")], solution=["see the figure"], prompts=[prompt])
    (warning,) = [r.getMessage() for r in caplog.records if "see the figure" in r.getMessage()]
    assert "problem: 'Draw the figure of problem 7.'" in warning


def test_accuracy_metric_reported_as_zero_and_log_metric_optional():
    accuracy = get_reward("accuracy")
    sink = MetricSink()
    assert accuracy([boxed("1")], solution=["1"], log_metric=sink) == [1.0]
    assert sink.values["accuracy/unparseable_gold"] == [0]
    assert accuracy([boxed("1")], solution=["see figure"]) == [None]  # no log_metric kwarg: no error


@pytest.mark.parametrize("gold", ["see figure", "", None, "The proof is left to the reader"])
def test_unparseable_golds(gold: Any):
    assert get_reward("accuracy")([boxed("1")], solution=[gold]) == [None]


def test_gold_parsed_once_per_distinct_gold(monkeypatch: pytest.MonkeyPatch):
    # workers=0 judges in this process, so the patched parse sees every call.
    calls: list[tuple[str, bool]] = []
    real_parse = mvu.parse

    def counting_parse(pred: str, *args: Any, **kwargs: Any):
        calls.append((pred, kwargs.get("extraction_config") is mvu.RECIPE.gold_config))
        return real_parse(pred, *args, **kwargs)

    monkeypatch.setattr(mvu, "parse", counting_parse)
    golds = ["\\boxed{7}"] * 4 + ["420"] * 4 + ["see figure"] * 4
    completions = [boxed(str(i)) for i in range(12)]
    get_reward("accuracy", workers=0)(completions, solution=golds)
    gold_calls = [pred for pred, is_gold in calls if is_gold]
    completion_calls = [pred for pred, is_gold in calls if not is_gold]
    assert len(gold_calls) == len(set(gold_calls))  # no gold text parsed twice
    assert gold_calls == ["\\boxed{7}", "$420$", "see figure"]  # a bare gold is parsed whole first
    assert len(completion_calls) == 8  # completions with an unparseable gold are not parsed


@pytest.mark.parametrize("workers", [0, 1])
def test_metrics_count_each_verdict(workers: int):
    sink = MetricSink()
    completions = [boxed("420"), "no box here", boxed("421"), boxed("1")]
    golds = ["420", "420", "420", "see figure"]
    rewards = get_reward("accuracy", workers=workers)(completions, solution=golds, log_metric=sink)
    assert rewards == [1.0, 0.0, 0.0, None]
    assert sink.values == {
        "accuracy/unparseable_gold": [1],
        "accuracy/no_answer": [1],
        "accuracy/verify_timeouts": [0],
        "accuracy/verify_errors": [0],
    }


@pytest.mark.parametrize("workers", [0, 1])
def test_a_verification_that_runs_past_timeout_s_is_cut_scores_zero_and_is_counted(workers: int):
    """The real time limit on a real slow comparison: sympy needs seconds to tell `(x+y+z+1)^{20}` from 0 (about 8 s
    on 2 cores), far beyond the 0.25 s limit; in-process (SIGALRM timer) and in a pool worker alike."""
    assert get_reward("accuracy", workers=workers)([boxed("0")], solution=["0"]) == [1.0]  # parsers loaded, warm
    sink = MetricSink()
    accuracy = get_reward("accuracy", workers=workers, timeout_s=0.25)
    # a gold written as an expression: with a number gold, `(x+y+z+1)^{20}` is refused before sympy is asked
    rewards = accuracy([boxed("(x+y+z+1)^{20}"), boxed("0")], solution=["x-x", "x-x"], log_metric=sink)
    assert rewards == [0.0, 1.0]  # the slow one is cut; the other, in the same batch, is still judged
    assert sink.values["accuracy/verify_timeouts"] == [1] and sink.values["accuracy/verify_errors"] == [0]


@pytest.mark.parametrize("where", ["verify", "completion parse"])
def test_an_exception_in_math_verify_scores_zero_and_is_counted(monkeypatch: pytest.MonkeyPatch, where: str):
    """Faked on purpose: the real math-verify (0.9) cannot be made to raise here. `parse` and `verify` catch every
    `Exception` themselves (returning [] / False); their one re-raise, "signal only works in main thread", needs
    math-verify's own timeout, which openrs turns off (parsing_timeout=None, timeout_seconds=None). The branch under
    test (`_guarded`'s `except Exception` -> ERROR) guards against a math-verify that lets an error through."""
    real_parse = mvu.parse

    def broken_verify(*args: Any, **kwargs: Any):
        raise ValueError("signal only works in main thread of the main interpreter")

    def parse_failing_on_completions(pred: str, *args: Any, **kwargs: Any):
        if kwargs.get("extraction_config") is mvu.RECIPE.completion_config:
            raise RuntimeError("boom")
        return real_parse(pred, *args, **kwargs)

    if where == "verify":
        monkeypatch.setattr(mvu, "verify", broken_verify)
    else:
        monkeypatch.setattr(mvu, "parse", parse_failing_on_completions)
    sink = MetricSink()
    assert get_reward("accuracy", workers=0)([boxed("420")], solution=["420"], log_metric=sink) == [0.0]
    assert sink.values["accuracy/verify_errors"] == [1] and sink.values["accuracy/verify_timeouts"] == [0]


def test_a_boxed_answer_math_verify_cannot_parse_scores_zero():
    """Real parse failures: the LaTeX parser rejects these boxed answers, math-verify catches that and keeps the raw
    text, which equals no parsed gold: wrong, not an error (only an exception escaping math-verify is one)."""
    sink = MetricSink()
    completions = [boxed("\\frac{1}{"), boxed("1+"), boxed(")(")]
    assert get_reward("accuracy", workers=0)(completions, solution=["1"] * 3, log_metric=sink) == [0.0] * 3
    assert sink.values["accuracy/verify_errors"] == [0] and sink.values["accuracy/no_answer"] == [0]


def test_gold_column_param_and_missing_column_error():
    accuracy = get_reward("accuracy", gold_column="answer")
    assert accuracy([boxed("3")], answer=["3"], problem=["1+2"]) == [1.0]
    with pytest.raises(ValueError, match=r"'answer'.*\['problem', 'solution'\]"):
        accuracy([boxed("3")], solution=["3"], problem=["1+2"], prompts=["p"], log_metric=MetricSink())


def test_conversational_completions():
    accuracy = get_reward("accuracy")
    completions = [
        [{"role": "assistant", "content": boxed("420")}],
        [{"role": "assistant", "content": boxed("1")}],
        [{"role": "assistant", "content": [{"type": "text", "text": boxed("420")}]}],
    ]
    assert accuracy(completions, solution=["420"] * 3) == [1.0, 0.0, 1.0]
    fmt = get_reward("format")
    assert fmt([[{"role": "assistant", "content": "think\n</think>\nanswer"}]]) == [1.0]
    cosine = get_reward("cosine", max_len=10)
    text = "\\boxed{4}"  # 9 characters
    plain = cosine([text], solution=["4"])
    conversational = cosine([[{"role": "assistant", "content": text}]], solution=["4"])
    assert plain == conversational


# --- format --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("reasoning\n</think>\nThe answer is 4.", 1.0),
        ("<think>\nreasoning\n</think>\n<answer>\n4\n</answer>", 1.0),
        ("reasoning</think>\nanswer", 0.0),  # no newline before the tag
        ("reasoning\n</think>answer", 0.0),  # no newline after the tag
        ("a\n</think>\nb\n</think>\nc", 0.0),  # twice
        ("no tags at all", 0.0),
        ("", 0.0),
    ],
)
def test_format(completion: str, expected: float):
    assert get_reward("format")([completion]) == [expected]


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>\nreasoning\n</think>\n<answer>\n4\n</answer>", 1.0),
        ("<think>\nmulti\nline\n</think>\n<answer>\n4\n</answer>", 1.0),
        ("reasoning\n</think>\n<answer>\n4\n</answer>", 0.0),  # missing <think>
        ("<think>\nr\n</think>\n4", 0.0),  # missing <answer>
        ("<think>r</think><answer>4</answer>", 0.0),  # missing newlines
        ("<think>\nr\n</think>\n<answer>\n4\n</answer> trailing text", 0.0),
        ("preamble <think>\nr\n</think>\n<answer>\n4\n</answer>", 0.0),
    ],
)
def test_format_strict(completion: str, expected: float):
    assert get_reward("format_strict")([completion]) == [expected]


def test_format_strict_string_check_equals_the_regex_on_random_strings():
    pieces = ["<think>\n", "\n</think>\n", "<answer>\n", "\n</answer>", "\n", "x", "<think>", "</answer>", ""]
    rng = random.Random(0)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 7))) for _ in range(20_000)]
    texts += ["<think>\nr\n</think>\n<answer>\n4\n</answer>\n", "<think>\n\n</think>\n<answer>\n\n</answer>"]
    for text in texts:
        assert matches_strict_format(text) == bool(STRICT_FORMAT_PATTERN.match(text)), repr(text)


def test_format_strict_is_linear_on_a_separator_flood():
    # a safety bound, like the verification limits: the regex needs about 13 s on this 300 kB completion
    flood = "<think>\n" + "\n</think>\n<answer>\n" * 16_000 + "x"
    started = time.perf_counter()
    assert get_reward("format_strict")([flood]) == [0.0]
    assert time.perf_counter() - started < 2.0


# --- cosine --------------------------------------------------------------------------------------------------

MAX_LEN = 100


def _cosine_case(correct: bool, length: int, mode: str) -> float | None:
    cosine = get_reward("cosine", max_len=MAX_LEN, mode=mode)
    answer = "7" if correct else "8"
    if mode == "faithful":
        text = boxed(answer)
        text = "x" * (length - len(text)) + text if length >= len(text) else text
        assert length == 0 or len(text) == length
        if length == 0:
            text = ""
        return cosine([text], solution=["7"])[0]
    # fixed: token count from completion_ids, text length irrelevant
    return cosine([boxed(answer)], solution=["7"], completion_ids=[[0] * length])[0]


@pytest.mark.parametrize(
    ("length", "correct_faithful", "wrong_faithful", "correct_fixed", "wrong_fixed"),
    [
        (MAX_LEN // 2, 0.75, -0.25, 0.75, -0.25),
        (MAX_LEN, 0.5, -0.5, 0.5, -0.5),
        (2 * MAX_LEN, 1.0, 0.0, 0.5, -0.5),  # faithful: cosine turns back up; fixed: clamped
    ],
)
def test_cosine_lengths(length: int, correct_faithful, wrong_faithful, correct_fixed, wrong_fixed):
    assert _cosine_case(True, length, "faithful") == pytest.approx(correct_faithful)
    assert _cosine_case(False, length, "faithful") == pytest.approx(wrong_faithful)
    assert _cosine_case(True, length, "fixed") == pytest.approx(correct_fixed)
    assert _cosine_case(False, length, "fixed") == pytest.approx(wrong_fixed)


def test_cosine_length_zero():
    # faithful with an empty completion: wrong by construction -> 0.0
    assert _cosine_case(False, 0, "faithful") == pytest.approx(0.0)
    # fixed mode: zero tokens, correct/wrong decided on the text
    assert _cosine_case(True, 0, "fixed") == pytest.approx(1.0)
    assert _cosine_case(False, 0, "fixed") == pytest.approx(0.0)
    for clamp in (False, True):
        assert cosine_scaled_value(0, True, max_len=MAX_LEN, clamp=clamp) == pytest.approx(1.0)
        assert cosine_scaled_value(0, False, max_len=MAX_LEN, clamp=clamp) == pytest.approx(0.0)


def test_cosine_scaled_value_formula():
    for length in range(0, 3 * MAX_LEN, 7):
        progress = length / MAX_LEN
        expected_correct = 0.5 + 0.25 * (1 + math.cos(math.pi * progress))
        assert cosine_scaled_value(length, True, max_len=MAX_LEN) == pytest.approx(expected_correct)
        assert cosine_scaled_value(2 * MAX_LEN, False, max_len=MAX_LEN) == pytest.approx(0.0)
        assert cosine_scaled_value(3 * MAX_LEN, False, max_len=MAX_LEN, clamp=True) == pytest.approx(-0.5)


def test_cosine_fixed_uses_tokens_not_characters():
    cosine = get_reward("cosine", max_len=MAX_LEN, mode="fixed")
    long_text = "y" * (5 * MAX_LEN) + boxed("7")
    # 5x max_len characters but 0 tokens -> full reward; short text but max_len tokens -> floor
    assert cosine([long_text, boxed("7")], solution=["7", "7"], completion_ids=[[], [1] * MAX_LEN]) == pytest.approx(
        [1.0, 0.5]
    )
    faithful = get_reward("cosine", max_len=MAX_LEN)
    assert faithful([long_text], solution=["7"], completion_ids=[[]])[0] != pytest.approx(1.0)


def test_cosine_fixed_requires_completion_ids():
    cosine = get_reward("cosine", mode="fixed")
    with pytest.raises(ValueError, match="completion_ids"):
        cosine([boxed("7")], solution=["7"])


def test_cosine_custom_values_and_unparseable_gold():
    sink = MetricSink()
    cosine = get_reward("cosine", max_len=10, min_value_correct=0.0, max_value_correct=2.0, max_value_wrong=-1.0)
    assert cosine([""], solution=["see figure"], log_metric=sink) == [None]
    assert sink.values["cosine/unparseable_gold"] == [1]
    assert cosine_scaled_value(10, True, max_len=10, min_value_correct=0.0, max_value_correct=2.0) == pytest.approx(0)
    assert cosine_scaled_value(5, False, max_len=10, max_value_wrong=-1.0) == pytest.approx(-0.5)


# --- length (Kimi k1.5) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lengths", "correct", "expected"),
    [
        ([10, 20, 30], [True, True, True], [0.5, 0.0, -0.5]),
        ([10, 20, 30], [False, False, False], [0.0, 0.0, -0.5]),
        ([10, 15, 30], [True, False, None], [0.5, 0.0, None]),
        ([7, 7, 7], [True, False, True], [0.0, 0.0, 0.0]),  # all the same length
        ([0, 40], [False, True], [0.0, -0.5]),
        ([], [], []),
    ],
)
def test_kimi_length_values(lengths, correct, expected):
    assert kimi_length_values(lengths, correct) == pytest.approx(expected)


def test_length_faithful_uses_characters_over_the_whole_batch():
    length = get_reward("length")
    short, long = boxed("7"), boxed("7", pad=40)
    # two prompts in one batch: the min/max are taken over all four completions, as in open-r1
    rewards = length([short, long, boxed("8"), boxed("7", pad=20)], solution=["7", "7", "8", "7"])
    span = len(long) - len(short)
    assert rewards == pytest.approx([0.5, -0.5, 0.5, 0.5 - 20 / span])


def test_length_fixed_uses_tokens_within_each_prompt_group():
    length = get_reward("length", mode="fixed")
    completions = [boxed("7"), boxed("7"), boxed("8"), boxed("9")]
    rewards = length(
        completions,
        solution=["7", "7", "8", "8"],
        prompts=["p1", "p1", "p2", "p2"],
        completion_ids=[[0] * 100, [0] * 300, [0] * 10, [0] * 20],
    )
    # p1: both correct, 100 vs 300 tokens; p2: correct short (0.5) and wrong long (min(0, -0.5))
    assert rewards == pytest.approx([0.5, -0.5, 0.5, -0.5])


def test_length_fixed_needs_prompts_and_completion_ids():
    length = get_reward("length", mode="fixed")
    with pytest.raises(ValueError, match="completion_ids"):
        length([boxed("7")], solution=["7"], prompts=["p"])
    with pytest.raises(ValueError, match="`prompts` kwarg"):
        length([boxed("7")], solution=["7"], completion_ids=[[1]])


def test_length_unparseable_gold_is_none_and_counted():
    sink = MetricSink()
    rewards = get_reward("length")([boxed("1"), boxed("2", pad=9)], solution=["see figure", "2"], log_metric=sink)
    assert rewards == [None, -0.5]
    assert sink.values["length/unparseable_gold"] == [1]


# --- registry ------------------------------------------------------------------------------------------------


REQUIRED_PARAMS = {"overlong": {"max_length": 64}}


def test_available_rewards_and_names():
    assert available_rewards() == [
        "accuracy",
        "cosine",
        "format",
        "format_strict",
        "language",
        "length",
        "overlong",
        "repetition_penalty",
        "tag_count",
    ]
    for name in available_rewards():
        reward = get_reward(name, **REQUIRED_PARAMS.get(name, {}))
        assert reward.__name__ == name
        assert callable(reward)


def test_trl_callable_name():
    trl_utils = pytest.importorskip("trl.trainer.utils")
    assert trl_utils.get_callable_name(get_reward("cosine", max_len=5)) == "cosine"
    assert not trl_utils.is_async_callable(get_reward("accuracy"))


def test_reward_is_picklable():
    reward = pickle.loads(pickle.dumps(get_reward("cosine", max_len=10, mode="fixed")))
    assert reward.__name__ == "cosine"
    assert reward.params == {"max_len": 10, "mode": "fixed"}


def test_unknown_reward_name():
    with pytest.raises(ValueError, match=r"Unknown reward 'nope'.*accuracy.*cosine.*format.*format_strict"):
        get_reward("nope")


@pytest.mark.parametrize(
    ("name", "params", "exc", "pattern"),
    [
        ("cosine", {"max_length": 10}, TypeError, r"'max_length'.*'cosine'"),
        ("format", {"gold_column": "x"}, TypeError, r"'gold_column'.*'format'"),
        ("accuracy", {"foo": 1}, TypeError, r"'foo'.*'accuracy'"),
        ("cosine", {"mode": "clamped"}, ValueError, r"'cosine'.*'mode'"),
        ("cosine", {"max_len": 0}, ValueError, r"'cosine'.*'max_len'"),
        ("cosine", {"max_len": True}, ValueError, r"'cosine'.*'max_len'"),
        ("cosine", {"min_value_correct": "high"}, ValueError, r"'cosine'.*'min_value_correct'"),
        ("cosine", {"max_value_wrong": float("nan")}, ValueError, r"'cosine'.*'max_value_wrong'"),
        ("accuracy", {"gold_column": ""}, ValueError, r"'accuracy'.*'gold_column'"),
        ("accuracy", {"log_metric": print}, ValueError, r"'accuracy'.*log_metric"),
    ],
)
def test_bad_params_fail_eagerly(name: str, params: dict[str, Any], exc: type[Exception], pattern: str):
    with pytest.raises(exc, match=pattern):
        get_reward(name, **params)


@pytest.fixture
def user_module(tmp_path, monkeypatch: pytest.MonkeyPatch):
    source = textwrap.dedent(
        """
        def length_bonus(completions, scale=1.0, **kwargs):
            return [scale * len(c) for c in completions]

        def strict_sig(completions, solution, scale=1.0):
            return [scale] * len(completions)

        async def async_reward(completions, **kwargs):
            return [1.0] * len(completions)

        class NotAFunction:
            pass
        """
    )
    (tmp_path / "my_user_rewards.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_user_rewards"
    sys.modules.pop("my_user_rewards", None)


def test_import_path_reward(user_module: str):
    reward = get_reward(f"{user_module}:length_bonus", scale=2.0)
    assert reward.__name__ == "length_bonus"
    assert reward(["ab", "abc"], solution=["x", "y"], prompts=["p", "q"]) == [4.0, 6.0]
    assert get_reward(f"{user_module}:length_bonus")(completions=["a"]) == [1.0]


def test_import_path_errors(user_module: str):
    with pytest.raises(TypeError, match=r"strict_sig.*takes no \*\*kwargs: TRL passes prompts"):
        get_reward(f"{user_module}:strict_sig", scale=3.0)
    with pytest.raises(TypeError, match=r"length_bonus.*no parameter\(s\) \['bogus'\].*parameters: \['scale'\]"):
        get_reward(f"{user_module}:length_bonus", bogus=1)
    with pytest.raises(TypeError, match="NotAFunction"):
        get_reward(f"{user_module}:NotAFunction")
    with pytest.raises(ValueError, match="no attribute"):
        get_reward(f"{user_module}:missing")
    with pytest.raises(ValueError, match="no module named 'no_such_module_xyz'.*PYTHONPATH"):
        get_reward("no_such_module_xyz:f")
    with pytest.raises(ValueError, match="Invalid reward import path"):
        get_reward(":f")


def test_import_path_async_reward(user_module: str):
    reward = get_reward(f"{user_module}:async_reward")
    assert isinstance(reward, AsyncRewardFunction)
    assert reward.__name__ == "async_reward"
    trl_utils = pytest.importorskip("trl.trainer.utils")
    assert trl_utils.is_async_callable(reward)


def test_scheme_param_chooses_where_answers_are_found() -> None:
    plain = "5 + 7 = 12."
    assert get_reward("accuracy")([plain], solution=["12"]) == [0.0]  # the recipe needs \boxed{} or $...$
    lighteval = get_reward("accuracy", scheme="latex_gold_fixed")
    assert lighteval([plain, "What is 5 + 7?", "5 + 7"], solution=["12"] * 3) == [1.0, 0.0, 0.0]  # echoes still 0
    with pytest.raises(ValueError, match="parameter 'scheme' must be one of"):
        get_reward("accuracy", scheme="lenient")
