"""math-verify helpers shared by the correctness-based rewards (``accuracy``, ``cosine``).

Behaviour follows open-r1/open-rs ``src/open_r1/rewards.py`` with one deliberate change:

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
* **Unparseable gold**: the original rewards 1.0 (a free reward). Here the sample's correctness is ``None`` (TRL skips
  ``None`` rewards), the reward reports the number of such samples through TRL's ``log_metric`` kwarg, and a warning
  naming the gold text is logged once per distinct gold per process.
* Each distinct gold is parsed once per call (a GRPO batch repeats every gold ``num_generations`` times).
* Any error or timeout while parsing/verifying a completion counts as incorrect (never raises). math-verify's own
  ``signal.alarm``-based timeouts are kept (main thread only).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException

__all__ = [
    "COMPLETION_EXTRACTION_CONFIG",
    "GOLD_EXTRACTION_CONFIG",
    "completion_is_correct",
    "get_gold_column",
    "parse_completion",
    "parse_gold",
    "parse_golds",
    "report_unparseable_gold",
    "safe_verify",
    "score_correctness",
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

_EQUATIONS_DEPRECATION = "equations=True in NormalizationConfig is deprecated"


class _DropEquationsDeprecation(logging.Filter):
    """latex2sympy2 warns on *every* normalisation when ``equations=True``; the recipe sets it on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _EQUATIONS_DEPRECATION not in record.getMessage()


_normalization_logger = logging.getLogger("latex2sympy2_extended.math_normalization")
if not any(isinstance(f, _DropEquationsDeprecation) for f in _normalization_logger.filters):
    _normalization_logger.addFilter(_DropEquationsDeprecation())

# --- gold parsing ------------------------------------------------------------------------------------------------

_TEXT_ARGUMENT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{[^{}]*\}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = frozenset(
    {
        "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
        "log", "exp", "lim", "max", "min", "gcd", "lcm", "mod", "det", "deg", "inf", "sup", "sqrt",
    }
)  # fmt: skip

_WARNED_GOLDS: set[str] = set()
_MAX_WARNED_GOLDS = 10_000


def _safe_parse(text: str, extraction_config: Sequence[Any]) -> list[Any]:
    try:
        return parse(text, extraction_config=extraction_config, extraction_mode="first_match")
    except (Exception, TimeoutException):
        logger.debug("math-verify failed to parse %r", text, exc_info=True)
        return []


def _looks_like_bare_answer(gold: str) -> bool:
    """True for short math answers without delimiters (``420``, ``\\dfrac{1}{9}``), False for prose or solutions."""
    if "$" in gold or "\\boxed" in gold or "\\fbox" in gold:
        return False
    stripped = _LATEX_COMMAND.sub(" ", _TEXT_ARGUMENT.sub(" ", gold))
    return all(word.lower() in _MATH_WORDS for word in _WORD.findall(stripped))


def parse_gold(gold: Any) -> list[Any]:
    """Parse one gold answer (uncached). Returns math-verify's extraction list; empty when unparseable."""
    if gold is None:
        return []
    text = str(gold).strip()
    if not text:
        return []
    parsed = _safe_parse(text, GOLD_EXTRACTION_CONFIG)
    if parsed or not _looks_like_bare_answer(text):
        return parsed
    for candidate in (f"${text}$", f"\\boxed{{{text}}}"):
        parsed = _safe_parse(candidate, GOLD_EXTRACTION_CONFIG)
        if parsed:
            return parsed
    return []


def _warn_unparseable_gold(gold: Any, reward_name: str) -> None:
    key = repr(gold)
    if key in _WARNED_GOLDS or len(_WARNED_GOLDS) >= _MAX_WARNED_GOLDS:
        return
    _WARNED_GOLDS.add(key)
    logger.warning(
        "math-verify could not parse the gold answer %s; the '%s' reward returns None for its completions "
        "(reported as metric '%s/unparseable_gold'). Warned once per distinct gold.",
        key,
        reward_name,
        reward_name,
    )


def parse_golds(golds: Sequence[Any], reward_name: str = "accuracy") -> list[list[Any] | None]:
    """Parse a batch of golds, each distinct gold once. ``None`` marks an unparseable gold (a warning is logged)."""
    cache: dict[str, list[Any] | None] = {}
    result: list[list[Any] | None] = []
    for gold in golds:
        key = repr(gold)
        if key not in cache:
            parsed = parse_gold(gold)
            if not parsed:
                _warn_unparseable_gold(gold, reward_name)
            cache[key] = parsed or None
        result.append(cache[key])
    return result


# --- completion parsing and verification -------------------------------------------------------------------------


def parse_completion(text: str) -> list[Any]:
    """Parse a completion with the recipe's extraction config; empty list when nothing is found or on error."""
    return _safe_parse(text, COMPLETION_EXTRACTION_CONFIG)


def safe_verify(gold_parsed: list[Any], answer_parsed: list[Any]) -> bool:
    """``math_verify.verify`` that returns False instead of raising (errors, timeouts, threaded use)."""
    if not gold_parsed or not answer_parsed:
        return False
    try:
        return bool(verify(gold_parsed, answer_parsed))
    except (Exception, TimeoutException):
        logger.debug("math-verify failed to verify", exc_info=True)
        return False


def completion_is_correct(text: str, gold_parsed: list[Any]) -> bool:
    """Whether a completion's first extracted answer is equivalent to the parsed gold."""
    return safe_verify(gold_parsed, parse_completion(text))


def score_correctness(texts: Sequence[str], golds: Sequence[Any], reward_name: str) -> list[bool | None]:
    """Correctness of each completion against its gold; ``None`` where the gold is unparseable."""
    if len(texts) != len(golds):
        raise ValueError(f"Reward '{reward_name}' got {len(texts)} completions but {len(golds)} gold answers")
    parsed_golds = parse_golds(golds, reward_name)
    return [
        None if gold_parsed is None else completion_is_correct(text, gold_parsed)
        for text, gold_parsed in zip(texts, parsed_golds, strict=True)
    ]


# --- kwargs plumbing ---------------------------------------------------------------------------------------------

_NON_COLUMN_KWARGS = frozenset(
    {"prompts", "completion_ids", "trainer_state", "log_metric", "log_extra", "environments"}
)


def get_gold_column(kwargs: Mapping[str, Any], gold_column: str, reward_name: str) -> Sequence[Any]:
    """Fetch the gold column from the reward kwargs, with a clear error when the dataset lacks it."""
    if gold_column not in kwargs:
        columns = sorted(k for k in kwargs if k not in _NON_COLUMN_KWARGS)
        raise ValueError(
            f"Reward '{reward_name}' needs the gold column '{gold_column}', which is not among the dataset columns "
            f"passed to the reward: {columns}. Set the reward's `gold_column` parameter or rename the column."
        )
    return kwargs[gold_column]


def report_unparseable_gold(kwargs: Mapping[str, Any], correctness: Sequence[bool | None], reward_name: str) -> int:
    """Log ``<reward_name>/unparseable_gold`` (samples whose gold could not be parsed) via TRL's ``log_metric``."""
    count = sum(1 for value in correctness if value is None)
    log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
    if log_metric is not None:
        log_metric(f"{reward_name}/unparseable_gold", count)
    return count
