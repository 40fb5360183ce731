"""Tests for the text-shape rewards: tag_count, repetition_penalty, language, overlong (no network, no mocks)."""

from __future__ import annotations

import pickle
import time
from typing import Any

import pytest

from openrs.rewards import available_rewards, get_reward
from openrs.rewards.language import letter_script, strip_math_and_code

FULL = "<think>\nreasoning\n</think>\n<answer>\n42\n</answer>"


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


# --- registry ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tag_count", "repetition_penalty", "language", "overlong"])
def test_registered(name: str):
    assert name in available_rewards()


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("tag_count", {}, [1.0, 0.0, 0.0]),
        ("repetition_penalty", {}, [0.0, 0.0, -0.25]),
        ("repetition_penalty", {"unit": "tokens", "ngram_size": 2}, [0.0, -0.75, 0.0]),
        ("language", {}, [0.0, -1.0, 0.0]),
        ("overlong", {"max_length": 5, "buffer_length": 2}, [0.0, -1.0, 0.0]),
    ],
)
def test_callable_through_get_reward(name: str, params: dict[str, Any], expected: list[float]):
    reward = get_reward(name, **params)
    assert reward.__name__ == name
    completions = [FULL, "答案", "a b c a b c"]
    completion_ids = [[1, 2, 3], [7, 7, 7, 7, 7], [1, 2]]
    rewards = reward(completions, completion_ids=completion_ids, prompts=["p"] * 3)
    assert rewards == pytest.approx(expected)
    assert all(type(value) is float for value in rewards)
    restored = pickle.loads(pickle.dumps(reward))
    assert restored(completions, completion_ids=completion_ids) == rewards


# --- tag_count --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FULL, 1.0),
        ("", 0.0),
        ("<think>\nA\n</think>\n", 0.5),  # no answer tags
        ("<think>\nA\n</think>\n<answer>\nB", 0.75),  # answer never closed
        ("\n<answer>\nB\n</answer>", 0.5),  # answer tags only
        ("A\n</think>\n<answer>\nB\n</answer>", 0.75),  # template opened <think>: the original cannot reach 1.0
        ("<think>\n<think>\nA\n</think>\n<answer>\nB\n</answer>", 0.75),  # duplicated opening tag
        ("<think>\nA\n</think>\nB\n</think>\n<answer>\nC\n</answer>", 0.75),  # duplicated closing tag
        ("<think>\nA\n</think>\n<answer>\nB\n</answer>\n<answer>\nC\n</answer>", 0.5),  # two answers
        ("<think>A</think><answer>B</answer>", 0.0),  # tags without their newlines
        ("<think>\nA</think>\n<answer>\nB</answer>", 0.5),  # closing tags not on their own line
        ("<think>\nA</think><answer>\nB</answer>", 0.25),  # ... nor the opening answer tag
    ],
)
def test_tag_count_faithful(text: str, expected: float):
    assert get_reward("tag_count")([text]) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A\n</think>\n<answer>\nB\n</answer>", 1.0),
        (FULL, 0.75),  # an extra <think>\n is a format error
        ("<think>\n<think>\nA\n</think>\n<answer>\nB\n</answer>", 0.75),
        ("", 0.25),
        ("A\n</think>\nB", 0.5),
        ("A\n</think>\n\n</think>\nB", 0.25),
    ],
)
def test_tag_count_think_opened_by_template(text: str, expected: float):
    assert get_reward("tag_count", think_opened_by_template=True)([text]) == [expected]


def test_tag_count_conversational():
    completions = [chat(FULL), chat("A\n</think>\n<answer>\nB\n</answer>")]
    assert get_reward("tag_count")(completions) == [1.0, 0.75]
    assert get_reward("tag_count", think_opened_by_template=True)(completions) == [0.75, 1.0]


# --- repetition_penalty -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [
        ("", {}, 0.0),
        ("   \n ", {}, 0.0),
        ("a b", {}, 0.0),  # fewer words than n
        ("a b c", {}, 0.0),  # one n-gram
        ("the cat sat on the mat", {}, 0.0),  # no repeated 3-gram
        ("a a a a a", {}, -2 / 3),  # 3 trigrams, 1 unique
        ("a b c a b c", {}, -0.25),  # 4 trigrams, 3 unique
        ("A b C a\nB\tc", {}, -0.25),  # lower-cased, split on any whitespace
        ("a b c a b c", {"max_penalty": -0.5}, -0.125),
        ("a b c a b c", {"max_penalty": 0.0}, 0.0),
        ("a a b b", {"ngram_size": 1}, -0.5),  # 4 unigrams, 2 unique
        ("a b a b a", {"ngram_size": 2}, -0.5),  # 4 bigrams, 2 unique
        ("a a a a a", {"ngram_size": 5}, 0.0),  # one 5-gram
        ("a a a a a", {"ngram_size": 6}, 0.0),  # fewer words than n
    ],
)
def test_repetition_words(text: str, params: dict[str, Any], expected: float):
    assert get_reward("repetition_penalty", **params)([text]) == [pytest.approx(expected)]


@pytest.mark.parametrize(
    ("ids", "params", "expected"),
    [
        ([], {}, 0.0),
        ([1, 2], {}, 0.0),
        ([1, 2, 3, 4], {"ngram_size": 2}, 0.0),
        ([5, 5, 5, 5, 5], {"ngram_size": 2}, -0.75),  # 4 bigrams, 1 unique
        ([1, 2, 3, 1, 2, 3], {}, -0.25),
        ([1, 2, 3, 1, 2, 3], {"max_penalty": -2.0}, -0.5),
    ],
)
def test_repetition_tokens(ids: list[int], params: dict[str, Any], expected: float):
    reward = get_reward("repetition_penalty", unit="tokens", **params)
    assert reward(["text is ignored"], completion_ids=[ids]) == [pytest.approx(expected)]


def test_repetition_words_vs_tokens():
    completions = [chat("a a a a a"), chat("one two three")]
    completion_ids = [[1, 2, 3, 4, 5], [9, 9, 9, 9]]
    words = get_reward("repetition_penalty")(completions, completion_ids=completion_ids)
    tokens = get_reward("repetition_penalty", unit="tokens")(completions, completion_ids=completion_ids)
    assert words == pytest.approx([-2 / 3, 0.0])
    assert tokens == pytest.approx([0.0, -0.5])  # [9, 9, 9, 9]: 2 trigrams, 1 unique


def test_repetition_tokens_needs_completion_ids():
    reward = get_reward("repetition_penalty", unit="tokens")
    with pytest.raises(ValueError, match="completion_ids"):
        reward(["a b c"])
    with pytest.raises(ValueError, match="2 completions but 1 completion_ids"):
        reward(["a", "b"], completion_ids=[[1]])


# --- language ---------------------------------------------------------------------------------------------------

HEAVY_LATEX = (
    r"We compute $\frac{1}{2} + \sqrt{x}$ and $$\int_0^1 f(x)\,dx = \text{área}$$ then \[ \alpha + \beta \]"
    "\n"
    r"so \(\mathbb{R}\) holds, \begin{align*} y &= \text{答案} \\ z &= 1 \end{align*} and \boxed{42}."
)


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [
        ("The answer is 42.", {}, 0.0),
        ("", {}, 0.0),
        ("12345 + 678 = 13023?!", {}, 0.0),  # no letters
        (HEAVY_LATEX, {}, 0.0),
        (r"The value \frac{a}{b} \cdot \sqrt{c} \leq d", {}, 0.0),  # commands outside math delimiters
        ("答案是四十二", {}, -1.0),
        ("The answer 答案", {}, -2 / 11),  # 9 Latin, 2 CJK letters
        ("The answer 答案", {"penalty": -0.5}, -1 / 11),
        ("The answer 答案", {"penalty": 0.0}, 0.0),
        ("The answer 答案", {"tolerance": 0.1}, -2 / 11),
        ("The answer 答案", {"tolerance": 2 / 11}, 0.0),  # not above the tolerance
        ("The answer 答案", {"tolerance": 0.2}, 0.0),
        ("Let π be the ratio and θ = α", {}, 0.0),  # Greek ignored: 16 Latin letters only
        ("π α θ", {}, 0.0),  # nothing counted
        ("π α θ 中", {}, -1.0),  # Greek is not allowed either
        ("ℝ 𝑥 ℓ µ", {}, 0.0),  # letterlike and math symbols ignored
        ("ＡＢＣ", {}, 0.0),  # fullwidth Latin is Latin
        ("Answerʼs", {}, 0.0),  # modifier letter apostrophe ignored
        (r"\textbf{答案}", {}, -1.0),  # command name stripped, its argument kept
        ("Run `print('你好')` then\n```python\nx = '中文'\n```\nok", {}, 0.0),  # code stripped
        (r"It costs \$5 and 答案 \$10", {}, -1 / 6),  # escaped dollars are not math: 10 Latin, 2 CJK
        ("Price $5\n\n答案 is here $x$", {}, -2 / 13),  # inline math does not cross a blank line
        ("<think>\n我们计算\n</think>\n<answer>\n四十二\n</answer>", {}, -1.0),
        ("Ответ равен 42", {}, -1.0),
        ("정답은 42", {}, -1.0),
    ],
)
def test_language_en(text: str, params: dict[str, Any], expected: float):
    assert get_reward("language", **params)([text]) == [pytest.approx(expected)]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("zh", "答案是四十二", 0.0),
        ("zh", r"我们计算 $x + y = \text{answer}$ 所以 \boxed{42}", 0.0),  # math stripped, command name stripped
        ("zh", r"值为 \frac{1}{2} \cdot \sqrt{3}", 0.0),
        ("zh", r"结果 \begin{aligned} x &= y \end{aligned} 完 \(x\) 与 \[y = z\]", 0.0),
        ("zh", "<think>\n我们计算\n</think>\n<answer>\n四十二\n</answer>", 0.0),  # format tags stripped
        ("zh", "ℝ 𝑥 中", 0.0),
        ("zh", "The answer 答案", -9 / 11),
        ("zh", "答えはカタカナです", -8 / 9),  # 1 CJK, 4 hiragana, 4 katakana
        ("ja", "答えはカタカナです", 0.0),
        ("ja", "ｱｲｳ ー 々", 0.0),  # halfwidth katakana, prolonged sound mark, iteration mark
        ("ko", "정답은 42 漢字", 0.0),
        ("ko", "정답 answer", -6 / 8),
        ("ru", "Ответ равен 42", 0.0),
        ("ru", "Ответ x", -1 / 6),
        ("ru", "Ответ $x$", 0.0),
        ("fr", "La réponse est déjà là", 0.0),
        ("de", "Die Lösung ist größer", 0.0),
    ],
)
def test_language_other_targets(language: str, text: str, expected: float):
    assert get_reward("language", language=language)([text]) == [pytest.approx(expected)]


def test_language_conversational_and_batch():
    completions = [chat("Hello"), chat("你好"), [{"role": "user", "content": "你好"}, *chat("Hi 你好")]]
    assert get_reward("language")(completions) == pytest.approx([0.0, -1.0, -0.5])


@pytest.mark.parametrize(
    ("char", "script"),
    [
        ("a", "LATIN"),
        ("é", "LATIN"),
        ("中", "CJK"),
        ("あ", "HIRAGANA"),
        ("ア", "KATAKANA"),
        ("한", "HANGUL"),
        ("д", "CYRILLIC"),
        ("π", "GREEK"),
        ("ب", "ARABIC"),
        ("א", "HEBREW"),
        ("क", "DEVANAGARI"),
        ("ก", "THAI"),
        ("ℝ", "MATH"),
        ("1", None),
        (" ", None),
        ("，", None),
    ],
)
def test_letter_script(char: str, script: str | None):
    assert letter_script(char) == script


def test_strip_math_and_code_keeps_prose():
    assert strip_math_and_code(r"a $b$ c $$d$$ e \(f\) g \[h\] i `j` k").split() == list("acegik")
    assert strip_math_and_code(r"\begin{cases} x \end{cases} y \textit{z}").split() == ["y", "{z}"]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (r"a \( b \( c", ["a", "b", "c"]),  # unclosed openers are dropped alone
        (r"a \[ b $$ c ``` d", ["a", "b", "c", "d"]),
        (r"a \begin{align} b", ["a", "b"]),
        (r"a \begin{align} b \end{cases} c", ["a", "b", "{cases}", "c"]),  # closer of another environment
        (r"a \( b \) c \( d", ["a", "c", "d"]),
        (r"a \$$b$ c", ["a", "\\$", "c"]),  # an escaped dollar does not open $$
        ("a `b\nc` d", ["a", "d"]),
        ("a `b\n\nc` d", ["a", "`b", "c`", "d"]),  # inline code does not cross a blank line
        ("<think>\na\n</think>\n<answer>\nb\n</answer>", ["a", "b"]),
    ],
)
def test_strip_math_and_code_edge_cases(text: str, kept: list[str]):
    assert strip_math_and_code(text).split() == kept


def test_strip_math_and_code_degenerate_is_fast():
    text = "\\( x " * 10000 + "\\[ y " * 10000 + "\\begin{a} z " * 5000  # 160K chars of unclosed openers
    start = time.perf_counter()
    stripped = strip_math_and_code(text)
    assert time.perf_counter() - start < 1.0  # rescanning to the end for each opener takes many seconds here
    assert stripped.split() == ["x"] * 10000 + ["y"] * 10000 + ["z"] * 5000


# --- overlong ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (0, 0.0),
        (50, 0.0),
        (80, 0.0),  # max - buffer
        (81, -0.05),  # max - buffer + 1
        (90, -0.5),  # midway
        (99, -0.95),
        (100, -1.0),  # max
        (101, -1.0),  # max + 1
        (500, -1.0),
    ],
)
def test_overlong_formula(length: int, expected: float):
    reward = get_reward("overlong", max_length=100, buffer_length=20)
    assert reward(["x"], completion_ids=[[0] * length]) == [pytest.approx(expected)]


@pytest.mark.parametrize(
    ("max_length", "length", "expected"),
    [
        (100, 80, 0.0),  # default buffer 100 // 5 = 20
        (100, 90, -0.5),
        (20480, 16384, 0.0),  # DAPO: 4096 cache for 20480
        (20480, 18432, -0.5),
        (20480, 20480, -1.0),
        (4, 4, 0.0),  # 4 // 5 = 0: hard punishment
        (4, 5, -1.0),
    ],
)
def test_overlong_default_buffer(max_length: int, length: int, expected: float):
    reward = get_reward("overlong", max_length=max_length)
    assert reward(["x"], completion_ids=[[0] * length]) == [pytest.approx(expected)]


@pytest.mark.parametrize(("length", "expected"), [(0, 0.0), (100, 0.0), (101, -1.0)])
def test_overlong_zero_buffer(length: int, expected: float):
    reward = get_reward("overlong", max_length=100, buffer_length=0)
    assert reward(["x"], completion_ids=[[0] * length]) == [expected]


def test_overlong_conversational_batch():
    reward = get_reward("overlong", max_length=10, buffer_length=4)
    completions = [chat("a"), chat("b"), chat("c")]
    assert reward(completions, completion_ids=[[1] * 6, [1] * 8, [1] * 11]) == pytest.approx([0.0, -0.5, -1.0])


def test_overlong_needs_completion_ids():
    reward = get_reward("overlong", max_length=10)
    with pytest.raises(ValueError, match="completion_ids"):
        reward(["a"])
    with pytest.raises(ValueError, match="2 completions but 1 completion_ids"):
        reward(["a", "b"], completion_ids=[[1]])


def test_overlong_requires_max_length():
    with pytest.raises(ValueError, match=r"'max_length' is required.*\$\{length\.max_completion_length\}"):
        get_reward("overlong")
    with pytest.raises(ValueError, match="'max_length' is required"):
        get_reward("overlong", buffer_length=10)


# --- invalid params ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "param"),
    [
        ("tag_count", {"think_opened_by_template": 1}, "think_opened_by_template"),
        ("tag_count", {"think_opened_by_template": "yes"}, "think_opened_by_template"),
        ("repetition_penalty", {"ngram_size": 0}, "ngram_size"),
        ("repetition_penalty", {"ngram_size": 2.0}, "ngram_size"),
        ("repetition_penalty", {"ngram_size": True}, "ngram_size"),
        ("repetition_penalty", {"max_penalty": 0.5}, "max_penalty"),
        ("repetition_penalty", {"max_penalty": float("-inf")}, "max_penalty"),
        ("repetition_penalty", {"max_penalty": float("nan")}, "max_penalty"),
        ("repetition_penalty", {"max_penalty": "-1"}, "max_penalty"),
        ("repetition_penalty", {"unit": "chars"}, "unit"),
        ("language", {"language": "xx"}, "language"),
        ("language", {"language": "EN"}, "language"),
        ("language", {"penalty": 1.0}, "penalty"),
        ("language", {"penalty": float("-inf")}, "penalty"),
        ("language", {"tolerance": -0.1}, "tolerance"),
        ("language", {"tolerance": 1.0}, "tolerance"),
        ("language", {"tolerance": float("nan")}, "tolerance"),
        ("overlong", {"max_length": 0}, "max_length"),
        ("overlong", {"max_length": -5}, "max_length"),
        ("overlong", {"max_length": 100.0}, "max_length"),
        ("overlong", {"max_length": "100"}, "max_length"),
        ("overlong", {"max_length": None}, "max_length"),
        ("overlong", {"max_length": 100, "buffer_length": -1}, "buffer_length"),
        ("overlong", {"max_length": 100, "buffer_length": 100}, "buffer_length"),
        ("overlong", {"max_length": 100, "buffer_length": 150}, "buffer_length"),
        ("overlong", {"max_length": 100, "buffer_length": 2.5}, "buffer_length"),
        ("overlong", {"max_length": 100, "buffer_length": True}, "buffer_length"),
    ],
)
def test_invalid_params(name: str, params: dict[str, Any], param: str):
    with pytest.raises(ValueError, match=f"Reward '{name}': parameter '{param}'"):
        get_reward(name, **params)


def test_language_error_lists_supported_languages():
    with pytest.raises(ValueError, match=r"\['de', 'en', 'es', 'fr', 'it', 'ja', 'ko', 'pt', 'ru', 'zh'\]"):
        get_reward("language", language="xx")


@pytest.mark.parametrize("name", ["tag_count", "repetition_penalty", "language", "overlong"])
def test_unknown_param(name: str):
    with pytest.raises(TypeError, match="Unknown parameter"):
        get_reward(name, bogus=1)
