"""``language`` reward: penalty for completions that drift out of the target language, ignoring math and code.

Motivation: in the Open-RS paper (Dang & Ngo 2025, arXiv 2503.16219) long runs of Exp1/Exp3 degraded into
non-English (e.g. Chinese) text. This reward measures how much of a completion's prose is written in a script that
the target language does not use. It is not from the original recipe.

Formula::

    stripped         = completion without math, code and format tags (see below)
    allowed, foreign = numbers of letters of ``stripped`` in an allowed / a foreign script (others are not counted)
    foreign_fraction = foreign / (allowed + foreign)        (0.0 when no letter is counted)
    reward           = penalty * foreign_fraction  if foreign_fraction > tolerance  else 0.0

What is stripped before counting: fenced (```...```) and inline (`...`) code; ``$$...$$``, ``\\[...\\]``,
``\\(...\\)``, ``\\begin{env}...\\end{env}`` and inline ``$...$`` math (an inline span, like TeX's, does not cross a
blank line; an escaped ``\\$`` neither opens nor closes it); the remaining ``\\command`` names (their ``{...}``
arguments are kept); and the tags ``<think>``, ``</think>``, ``<answer>``, ``</answer>``. Spans are matched left to
right, each ending at the first closer after its opener (no nesting); an opener without a closer (```` ``` ````,
``$$``, ``\\[``, ``\\(``, ``\\begin{env}``) is dropped alone and the text after it is counted; the text is not
rescanned for each unclosed opener, so degenerate completions stay fast.

What is counted: only Unicode letters (general category ``L*``). A letter's script is the first word of its Unicode
name (``unicodedata.name``) after NFKC normalisation, so fullwidth/halfwidth forms and ligatures count as their base
script (``Ａ`` -> LATIN, ``ｱ`` -> KATAKANA). ``IDEOGRAPHIC`` (``々``) counts as CJK and ``KATAKANA-HIRAGANA``
(``ー``) as KATAKANA. Ignored (neither allowed nor foreign):

* GREEK letters -- in plain text they are math symbols (``π``, ``α``, ``θ``, and ``µ``, which NFKC maps to Greek);
* letterlike and mathematical alphanumeric symbols (U+2100-U+214F, U+1D400-U+1D7FF: ``ℝ``, ``ℓ``, ``ℵ``, ``𝑥``);
* modifier letters (``ʼ``, ``ʹ``), which act as punctuation.

Every other script (CJK, HIRAGANA, KATAKANA, HANGUL, CYRILLIC, ARABIC, HEBREW, DEVANAGARI, THAI, ...) not allowed
by ``language`` is foreign.

Params (defaults):
    language (str, ``"en"``): target language; its allowed scripts are ``en``/``fr``/``de``/``es``/``it``/``pt`` ->
        LATIN; ``zh`` -> CJK; ``ja`` -> CJK, HIRAGANA, KATAKANA; ``ko`` -> HANGUL, CJK; ``ru`` -> CYRILLIC.
    penalty (float, -1.0): reward of an entirely foreign completion; finite and <= 0.
    tolerance (float, 0.0): foreign fractions up to this are not penalised; in [0, 1).

Conversational completions are reduced to their assistant text first.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from openrs.rewards.completions import completions_to_texts
from openrs.rewards.params import check_choice, check_non_positive_real, check_real

__all__ = [
    "IGNORED_SCRIPTS",
    "LANGUAGE_SCRIPTS",
    "foreign_fraction",
    "language_reward",
    "letter_script",
    "strip_math_and_code",
    "validate_language_params",
]

REWARD_NAME = "language"

_LATIN = frozenset({"LATIN"})
#: Scripts (first word of the Unicode name) allowed for each supported language.
LANGUAGE_SCRIPTS: dict[str, frozenset[str]] = {
    "en": _LATIN,
    "fr": _LATIN,
    "de": _LATIN,
    "es": _LATIN,
    "it": _LATIN,
    "pt": _LATIN,
    "zh": frozenset({"CJK"}),
    "ja": frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    "ko": frozenset({"HANGUL", "CJK"}),
    "ru": frozenset({"CYRILLIC"}),
}

#: Script label of letterlike and mathematical alphanumeric symbols (``ℝ``, ``𝑥``).
MATH_SCRIPT = "MATH"
#: Letters of these scripts are neither allowed nor foreign.
IGNORED_SCRIPTS = frozenset({"GREEK", MATH_SCRIPT, "MODIFIER"})
_SCRIPT_ALIASES = {"IDEOGRAPHIC": "CJK", "KATAKANA-HIRAGANA": "KATAKANA"}

#: Openers whose closer is found with ``str.find`` (an opener without a closer is dropped alone, in linear time).
_CLOSERS = {"```": "```", "$$": "$$", "\\[": "\\]", "\\(": "\\)"}
_TOKEN = re.compile(
    r"(?P<open>```|(?<!\\)\$\$|\\\[|\\\(|\\begin\{(?P<env>[^{}]*)\})"  # code block, display math, environment
    r"|`[^`\n]*(?:\n(?![ \t]*\n)[^`\n]*)*`"  # inline code span (not across a blank line)
    r"|(?<!\\)\$(?:[^$\\\n]|\\.|\n(?![ \t]*\n))*\$"  # inline math (not across a blank line; \$ is escaped)
    r"|\\[A-Za-z]+"  # remaining command names; their {...} arguments stay
    r"|</?(?:think|answer)>",  # format tags
    re.DOTALL,
)


def validate_language_params(params: Mapping[str, Any]) -> None:
    if "language" in params:
        check_choice(REWARD_NAME, "language", params["language"], sorted(LANGUAGE_SCRIPTS))
    if "penalty" in params:
        check_non_positive_real(REWARD_NAME, "penalty", params["penalty"])
    if "tolerance" in params:
        value = params["tolerance"]
        check_real(REWARD_NAME, "tolerance", value)
        if not 0 <= value < 1:
            raise ValueError(f"Reward '{REWARD_NAME}': parameter 'tolerance' must be in [0, 1), got {value!r}")


def strip_math_and_code(text: str) -> str:
    """``text`` with math, code, ``\\command`` names and format tags replaced by spaces."""
    pieces: list[str] = []
    copied = position = 0  # text[:copied] is handled; the next token is searched from position
    unclosed: set[str] = set()  # closers absent from the rest of the text
    while (match := _TOKEN.search(text, position)) is not None:
        start, end = match.span()
        opener = match.group("open")
        if opener is not None:
            env = match.group("env")
            closer = _CLOSERS[opener] if env is None else f"\\end{{{env}}}"
            close_at = -1 if closer in unclosed else text.find(closer, end)
            if close_at < 0:
                unclosed.add(closer)  # later openers of this kind are unclosed too: don't search again
            else:
                end = close_at + len(closer)
        pieces.append(text[copied:start])
        pieces.append(" ")
        copied = position = end
    pieces.append(text[copied:])
    return "".join(pieces)


@lru_cache(maxsize=65536)
def letter_script(char: str) -> str | None:
    """The script of a letter (first word of its NFKC form's Unicode name), ``None`` for a non-letter."""
    if not unicodedata.category(char).startswith("L"):
        return None
    code = ord(char)
    if 0x2100 <= code <= 0x214F or 0x1D400 <= code <= 0x1D7FF:
        return MATH_SCRIPT
    normalized = unicodedata.normalize("NFKC", char)
    script = unicodedata.name(normalized[0], "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(script, script)


def foreign_fraction(text: str, allowed_scripts: frozenset[str]) -> float:
    """Fraction of counted letters of ``text`` (math and code stripped) outside ``allowed_scripts``."""
    allowed = foreign = 0
    for char, count in Counter(strip_math_and_code(text)).items():
        script = letter_script(char)
        if script is None or script in IGNORED_SCRIPTS:
            continue
        if script in allowed_scripts:
            allowed += count
        else:
            foreign += count
    total = allowed + foreign
    return foreign / total if total else 0.0


def language_reward(
    completions: list[Any],
    *,
    language: str = "en",
    penalty: float = -1.0,
    tolerance: float = 0.0,
    **kwargs: Any,
) -> list[float]:
    """TRL reward function: ``penalty * foreign_fraction`` where it exceeds ``tolerance``, else 0.0."""
    validate_language_params({"language": language, "penalty": penalty, "tolerance": tolerance})
    allowed_scripts = LANGUAGE_SCRIPTS[language]
    rewards = []
    for text in completions_to_texts(completions):
        fraction = foreign_fraction(text, allowed_scripts)
        rewards.append(float(penalty * fraction) if fraction > tolerance else 0.0)
    return rewards
