"""math-verify parsing and judging for the correctness-based rewards (``accuracy``, ``cosine``, ``length``).

This module is what runs inside a verification worker (:mod:`openrs.rewards.verify_pool`); it holds no pool logic.
Behaviour follows open-r1/open-rs ``src/open_r1/rewards.py`` with deliberate changes:

* **Gold** (the ``solution`` column) is parsed with LaTeX extraction (``LatexExtractionConfig()``,
  ``extraction_mode="first_match"``). A gold may be a full solution containing ``\\boxed{...}`` or a bare answer
  (``420``, ``\\dfrac{1}{9}``, ``$x=5$``). LaTeX extraction finds nothing in bare, dollar-less answers, so when the raw
  text yields nothing and it looks like a bare answer (no ``$``, no ``\\boxed``, no prose words) it is retried as
  ``$<gold>$`` and then as ``\\boxed{<gold>}``.
* **Completion** is parsed with the recipe's config: ``LatexExtractionConfig(normalization_config=NormalizationConfig(
  nits=False, malformed_operators=False, basic_latex=True, equations=True, boxed="all", units=True),
  boxed_match_priority=0, try_extract_without_anchor=False)`` and ``extraction_mode="first_match"``. Note that with
  ``malformed_operators=False`` a completion answering ``\\boxed{\\frac12}`` is *not* parsed (scored wrong), as in
  the original.
* **Argument order**: ``verify(gold, answer)`` as math-verify documents (the original passes them swapped).
* **Unparseable gold**: the original rewards 1.0 (a free reward). Here the verdict is ``GOLD_UNPARSEABLE`` and the
  rewards return ``None`` (TRL skips it); see :mod:`openrs.rewards.correctness`.
* **Timeouts**: math-verify's own ``signal.alarm`` timeouts are switched off (they only work in a main thread); the
  caller bounds the time instead -- a soft ``SIGALRM`` timer in the worker (:func:`judge_group`) and a hard kill of the
  worker process by the pool.
"""

from __future__ import annotations

import enum
import logging
import re
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import math_verify.grader
import math_verify.parser
from latex2sympy2_extended import NormalizationConfig
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from sympy import Interval, Mul, Rational, UnevaluatedExpr

__all__ = [
    "COMPLETION_EXTRACTION_CONFIG",
    "GOLD_EXTRACTION_CONFIG",
    "GoldCache",
    "ItemTimeout",
    "RECIPE",
    "SCHEMES",
    "Scheme",
    "Verdict",
    "answer_key",
    "judge",
    "judge_group",
    "parse_completion",
    "parse_gold",
    "time_limit",
]

logger = logging.getLogger(__name__)

GOLD_EXTRACTION_CONFIG: list[LatexExtractionConfig] = [LatexExtractionConfig()]
COMPLETION_EXTRACTION_CONFIG: list[LatexExtractionConfig] = [
    LatexExtractionConfig(
        normalization_config=NormalizationConfig(
            nits=False,
            malformed_operators=False,
            basic_latex=True,
            equations=True,
            boxed="all",
            units=True,
        ),
        boxed_match_priority=0,
        try_extract_without_anchor=False,
    )
]

# latex2sympy2_extended ships a parser generated for antlr 4.9.3 (the version hydra-core pins) whose AtomContext lacks
# FUNC_GAMMA, so parsing any percentage raised AttributeError and `50\\%` never matched `50` or `0.5`.
try:
    from latex2sympy2_extended.antlr_parser import PSParser as _PSParser

    if not hasattr(_PSParser.AtomContext, "FUNC_GAMMA"):
        _PSParser.AtomContext.FUNC_GAMMA = lambda self: None
except ImportError:  # another antlr build: nothing to patch
    pass

# We bound time ourselves (see module docstring), so math-verify's "timeout is disabled" warning is noise.
math_verify.parser.TIMEOUT_WARNING_SHOWN = True
math_verify.grader.TIMEOUT_WARNING_SHOWN = True

_EQUATIONS_DEPRECATION = "equations=True in NormalizationConfig is deprecated"


class _DropEquationsDeprecation(logging.Filter):
    """latex2sympy2 warns on *every* normalisation when ``equations=True``; the recipe sets it on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _EQUATIONS_DEPRECATION not in record.getMessage()


_normalization_logger = logging.getLogger("latex2sympy2_extended.math_normalization")
if not any(isinstance(f, _DropEquationsDeprecation) for f in _normalization_logger.filters):
    _normalization_logger.addFilter(_DropEquationsDeprecation())


class Verdict(enum.IntEnum):
    """Outcome of judging one completion against its gold."""

    WRONG = 0
    CORRECT = 1
    NO_ANSWER = 2  # nothing extractable in the completion (scored as wrong)
    GOLD_UNPARSEABLE = 3  # the gold yields no answer: reward None
    TIMEOUT = 4  # parsing/verifying exceeded the time limit (scored as wrong)
    ERROR = 5  # parsing/verifying raised, or the worker died (scored as wrong)


# --- time limits -------------------------------------------------------------------------------------------------


class ItemTimeout(BaseException):
    """Raised by the soft timer. A ``BaseException`` so that math-verify's ``except Exception`` cannot swallow it."""


def _raise_timeout(signum: int, frame: Any) -> None:
    raise ItemTimeout


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`ItemTimeout` after ``seconds`` (a ``SIGALRM`` interval timer; main thread only, else no-op).

    A soft limit: pure-C work such as a huge integer power is not interrupted, which is why the pool also kills
    workers that overrun.
    """
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- parsing -----------------------------------------------------------------------------------------------------

_TEXT_ARGUMENT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{[^{}]*\}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = frozenset(
    {
        "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
        "log", "exp", "lim", "max", "min", "gcd", "lcm", "mod", "det", "deg", "inf", "sup", "sqrt",
    }
)  # fmt: skip


def _parse(text: str, extraction_config: Sequence[Any]) -> list[Any]:
    return parse(text, extraction_config=extraction_config, extraction_mode="first_match", parsing_timeout=None)


_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\s*\{[A-Za-z*]+\}")
_THIN_SPACE_THOUSANDS = re.compile(r"(?<=\d)\\,(?=\d{3}(?!\d))")
_BOLD_PARENTHESISED_INTEGER = re.compile(r"\\textbf\{\s*\(\s*(\d+)\s*\)\s*\}")
_CHOICE_WITH_VALUE = re.compile(r"^\\text\{\s*\(?([A-Ea-e])\)?\s*\}\s*(.+)$")


def _looks_like_bare_answer(gold: str) -> bool:
    """True for short math answers without delimiters (``420``, ``\\dfrac{1}{9}``, ``\\$18.90``, a ``pmatrix``),
    False for prose or solutions."""
    if _UNESCAPED_DOLLAR.search(gold) or "\\boxed" in gold or "\\fbox" in gold:
        return False
    stripped = _LATEX_COMMAND.sub(" ", _TEXT_ARGUMENT.sub(" ", _ENVIRONMENT.sub(" ", gold)))
    return all(word.lower() in _MATH_WORDS for word in _WORD.findall(stripped))


def _preprocess(text: str) -> str:
    """``1\\,000`` (thin-space thousands separator) -> ``1000``; the unicode degree sign -> ``^\\circ``; an AIME
    answer written ``\\textbf{(081)}`` -> ``081`` (math-verify would keep it as the text ``(081)``)."""
    text = _BOLD_PARENTHESISED_INTEGER.sub(r"\1", text)
    return _THIN_SPACE_THOUSANDS.sub("", text).replace("°", "^\\circ")


def _choice_parts(parsed: list[Any]) -> tuple[list[Any], list[Any]]:
    """For an AMC-style answer ``\\textbf{(C)}\\ 12`` (which math-verify reads as the product ``c*12``): the parsed
    letter and the parsed value; empty lists for anything else."""
    if not parsed or not isinstance(parsed[-1], str):
        return [], []
    match = _CHOICE_WITH_VALUE.match(parsed[-1].strip())
    if not match:
        return [], []
    letter, value = match.groups()
    as_math = [_parse(f"${part}$", GOLD_EXTRACTION_CONFIG) for part in (letter, value)]
    return ([p for p in as_math[0] if not isinstance(p, str)], [p for p in as_math[1] if not isinstance(p, str)])


@dataclass(frozen=True)
class Scheme:
    """How answers are extracted and compared: the training rewards' recipe, or an evaluation protocol."""

    name: str
    gold_config: tuple[Any, ...]
    completion_config: tuple[Any, ...]
    answer_section_first: bool  # try the text after the last `</think>` before the whole completion
    fixes: bool  # openrs's corrections: relations vs sets, percentages as numbers, sets never intervals
    float_rounding: int = 6


_LIGHTEVAL_PREDICTION = (ExprExtractionConfig(), LatexExtractionConfig(boxed_match_priority=0))

#: ``recipe``: the Open-RS training reward (see the module docstring). ``latex_gold`` / ``expr_gold``: the Open-RS
#: evaluation (lighteval's math tasks in open-rs `src/open_r1/evaluate.py`): gold extracted as LaTeX (MATH-500,
#: Minerva, OlympiadBench) or as an expression (AIME, AMC), the prediction as expression + LaTeX with boxed answers
#: first, 5 decimal places. ``*_fixed`` adds openrs's corrections and the answer-section-first rule to them.
SCHEMES: dict[str, Scheme] = {
    scheme.name: scheme
    for scheme in (
        Scheme("recipe", tuple(GOLD_EXTRACTION_CONFIG), tuple(COMPLETION_EXTRACTION_CONFIG), True, True),
        Scheme("latex_gold", (LatexExtractionConfig(),), _LIGHTEVAL_PREDICTION, False, False, 5),
        Scheme("expr_gold", (ExprExtractionConfig(),), _LIGHTEVAL_PREDICTION, False, False, 5),
        Scheme("latex_gold_fixed", (LatexExtractionConfig(),), _LIGHTEVAL_PREDICTION, True, True, 5),
        Scheme("expr_gold_fixed", (ExprExtractionConfig(),), _LIGHTEVAL_PREDICTION, True, True, 5),
    )
}
RECIPE = SCHEMES["recipe"]


def parse_gold(gold: Any, scheme: Scheme = RECIPE) -> list[Any]:
    """Parse one gold answer. Returns math-verify's extraction list; empty when unparseable. May raise."""
    if gold is None:
        return []
    text = str(gold).strip()
    if not text:
        return []
    text = _preprocess(text)
    # A bare answer is parsed whole first: anchorless extraction of the raw text finds only a piece of `(2, \\frac12)`.
    candidates = (f"${text}$", f"\\boxed{{{text}}}", text) if _looks_like_bare_answer(text) else (text,)
    for candidate in candidates:
        parsed = _parse(candidate, scheme.gold_config)
        if parsed:
            if not scheme.fixes:
                return parsed
            letter, value = _choice_parts(parsed)
            return parsed + letter + value  # an AMC gold `(C) 12` also accepts `C` and `12`
    return []


def parse_completion(text: str, scheme: Scheme = RECIPE) -> list[Any]:
    """Parse a completion with the scheme's extraction config; empty list when nothing is found. May raise.

    With ``answer_section_first`` the text after the last ``</think>`` is tried first, then the whole text: a draft
    ``\\boxed{}`` in the reasoning would otherwise be merged with the final one (math-verify joins every box).
    """
    text = _preprocess(text)
    _, closed, answer_section = text.rpartition("</think>")
    parsed = _parse(answer_section, scheme.completion_config) if closed and scheme.answer_section_first else []
    if not parsed:
        parsed = _parse(text, scheme.completion_config)
    if not scheme.fixes:
        return parsed
    letter, _ = _choice_parts(parsed)
    return parsed + letter  # `(C) 12` also answers a letter gold `C`; not its value, or `(D) 12` would match `(C) 12`


# --- judging -----------------------------------------------------------------------------------------------------


class GoldCache:
    """Parsed golds by (scheme, text), least recently used evicted first (a worker sees the same problems often)."""

    def __init__(self, max_size: int = 4096) -> None:
        self.max_size = max_size
        self._items: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()

    def get(self, gold: tuple[str, str]) -> list[Any] | None:
        parsed = self._items.get(gold)
        if parsed is not None:
            self._items.move_to_end(gold)
        return parsed

    def put(self, gold: tuple[str, str], parsed: list[Any]) -> None:
        self._items[gold] = parsed
        self._items.move_to_end(gold)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)


def _percent_values(parsed: list[Any]) -> list[Any]:
    """``12.5\\%`` parses as ``12.5 * (1/100)``; math-verify equates only integer percentages with their number."""
    percent = UnevaluatedExpr(Rational(1, 100))
    return [p.args[0] for p in parsed if isinstance(p, Mul) and len(p.args) == 2 and p.args[1] == percent]


def _set_written_for_interval(gold_parsed: list[Any], answer: list[Any]) -> bool:
    """math-verify lets an open-interval gold ``(1, 3)`` match a two-element set (the gold might be a point), but an
    answer written as a set ``\\{1, 3\\}`` is neither the interval nor the point."""
    answer_text = answer[-1] if isinstance(answer[-1], str) else ""
    return any(isinstance(g, Interval) for g in gold_parsed) and answer_text.lstrip().startswith(("\\{", "\\left\\{"))


_DECIMAL = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+"
_NUMBER_FORMS = (  # (form, pattern), tried in order on text without spaces
    ("integer", re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)")),
    ("decimal", re.compile(_DECIMAL)),
    ("scientific", re.compile(rf"(?:(?:{_DECIMAL})\\(?:times|cdot))?10\^(?:\{{[+-]?\d+\}}|\d)")),
    ("fraction", re.compile(r"[+-]?\d*\\[dt]?frac\{[+-]?\d+\}\{[+-]?\d+\}|[+-]?\d+/[+-]?\d+")),
)
_SPACES = re.compile(r"\s|\\[,!;: ]")
_TEXT_WRAPPER = re.compile(r"^\\text\{(.*)\}$")
_PERCENT = re.compile(r"(?:\\%|%)$")
_DEGREES = re.compile(r"(?:\^\\circ|\^\{\\circ\})$")


def _extracted_text(parsed: list[Any]) -> str | None:
    """The text math-verify extracted (the first string of a parse), None when there is none."""
    return next((p for p in parsed if isinstance(p, str)), None)


def number_form(text: str | None) -> str | None:
    """How ``text`` writes a number -- ``integer`` (``12``, ``1,000``), ``decimal`` (``-3.5``), ``scientific``
    (``3 \\times 10^5``), ``fraction`` (``\\frac{4}{6}``, ``1\\frac{1}{2}``, ``3/4``), ``percent`` (any of them with
    ``\\%``) -- with ``(...)``, ``\\text{}`` or ``^\\circ`` around it; None for anything to be computed (``7+5``,
    ``2^{10}``, ``3 \\cdot 11``)."""
    if text is None:
        return None
    text = _DEGREES.sub("", _TEXT_WRAPPER.sub(r"\1", _SPACES.sub("", text)))
    text, percent = _PERCENT.subn("", text)
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    form = next((form for form, pattern in _NUMBER_FORMS if pattern.fullmatch(text)), None)
    return "percent" if form and percent else form


def _echoes_instead_of_number(gold_parsed: list[Any], answer: list[Any]) -> bool:
    """The gold is a written number but the answer is an expression (``\\boxed{7+5}`` for 12, an echo of the
    question), which math-verify would evaluate and call correct; or the gold is an integer and the answer a fraction
    (``\\frac{24}{2}``: a division still to do). The right side of an equation counts (``7+5=12`` answers 12)."""
    gold_form = number_form(_extracted_text(gold_parsed))
    if gold_form is None:
        return False
    answer_form = number_form((_extracted_text(answer) or "").rpartition("=")[2])
    return answer_form is None or (gold_form == "integer" and answer_form == "fraction")


def answer_key(answer: list[Any]) -> str | None:
    """A short string for an extracted answer, equal for answers with the same parsed form (for majority votes)."""
    if not answer:
        return None
    return str(answer[0])[:200]


def judge(gold_parsed: list[Any], text: str, scheme: Scheme = RECIPE) -> tuple[Verdict, str | None]:
    """Judge one completion against an already parsed, non-empty gold: the verdict and :func:`answer_key`.

    May raise (including :class:`ItemTimeout`). With the scheme's ``fixes``, beyond math-verify's defaults: relations
    match sets (``x \\geq 1`` vs ``[1, \\infty)``), a percentage also stands for its number, a set never
    matches an interval gold, and a gold written as a number needs a number (an expression that evaluates to it,
    such as an echo of the question, is wrong).
    """
    answer = parse_completion(text, scheme)
    if not answer:
        return Verdict.NO_ANSWER, None
    key = answer_key(answer)
    if not scheme.fixes:
        correct = verify(gold_parsed, answer, float_rounding=scheme.float_rounding, timeout_seconds=None)
        return (Verdict.CORRECT if correct else Verdict.WRONG), key
    if _set_written_for_interval(gold_parsed, answer) or _echoes_instead_of_number(gold_parsed, answer):
        return Verdict.WRONG, key
    gold_parsed = gold_parsed + _percent_values(gold_parsed)
    answer = answer + _percent_values(answer)
    correct = verify(
        gold_parsed, answer, float_rounding=scheme.float_rounding, allow_set_relation_comp=True, timeout_seconds=None
    )
    return (Verdict.CORRECT if correct else Verdict.WRONG), key


def _guarded(func: Callable[[], tuple[Verdict, str | None]], soft_limit_s: float | None) -> tuple[Verdict, str | None]:
    try:
        with time_limit(soft_limit_s):
            return func()
    except ItemTimeout:
        return Verdict.TIMEOUT, None
    except RecursionError:
        return Verdict.ERROR, None
    except Exception:
        logger.debug("math-verify raised", exc_info=True)
        return Verdict.ERROR, None


def judge_group(
    gold: str,
    texts: Sequence[str],
    emit: Callable[[int, Verdict, str | None], None],
    cache: GoldCache,
    soft_limit_s: float | None,
    scheme: str = "recipe",
) -> None:
    """Judge ``texts`` against one ``gold``, parsing the gold once; ``emit(index, verdict, answer)`` after each step.

    ``emit(-1, verdict, None)`` reports the gold itself first (``CORRECT`` when parsed, else ``GOLD_UNPARSEABLE``,
    ``TIMEOUT`` or ``ERROR``); after a failed gold nothing else is emitted and every text shares its verdict.
    """
    rules = SCHEMES[scheme]
    gold_parsed = cache.get((scheme, gold))
    if gold_parsed is None:
        holder: list[list[Any]] = []

        def parse_and_keep() -> tuple[Verdict, None]:
            holder.append(parse_gold(gold, rules))
            return (Verdict.CORRECT if holder[0] else Verdict.GOLD_UNPARSEABLE), None

        verdict, _ = _guarded(parse_and_keep, soft_limit_s)
        if verdict is not Verdict.CORRECT:
            emit(-1, verdict, None)
            return
        gold_parsed = holder[0]
        cache.put((scheme, gold), gold_parsed)
    emit(-1, Verdict.CORRECT, None)
    for index, text in enumerate(texts):
        emit(index, *_guarded(lambda text=text: judge(gold_parsed, text, rules), soft_limit_s))
