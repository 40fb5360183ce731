"""Table-driven equivalence tests for the ``accuracy`` reward.

Every case is scored through ``get_reward("accuracy")`` exactly as TRL calls it. ``expected`` is the mathematically
right score (1.0: the completion's final answer is equivalent to the gold; 0.0: it is not or there is none), never the
current output: a case that fails points at a grading bug, not at a wrong expectation.

``answer`` is either a bare answer, wrapped by :func:`as_completion` into a realistic completion (some reasoning,
``</think>``, then ``$\\boxed{answer}$``), or a full completion (anything containing ``</think>``), used verbatim.
``gold`` is the dataset's ``solution`` column: a bare answer, a ``$...$`` answer or a full solution with ``\\boxed{}``.

Decisions where "right" is a choice:

* Percentages: ``50\\%`` equals ``50`` (the number asked for in "what percent ...") and ``0.5`` / ``\\frac{1}{2}``
  (the same quantity), as math-verify intends; ``12.5\\%`` likewise equals ``12.5``.
* Units, ``^\\circ`` and ``\\text{ units}`` are ignored on both sides (no unit conversion, no degrees-to-radians).
* Multiple choice: a letter gold accepts ``C``, ``(C)``, ``\\text{C}`` in any case; an AMC-style gold
  ``\\textbf{(C)}\\ 12`` accepts the letter or the value.
* An inequality describing the gold set (``x \\geq 1`` for ``[1, \\infty)``) is correct; the two endpoints written as
  a set (``\\{1, 3\\}`` for ``(1, 3)``) are not.
* Two different ``\\boxed{}`` answers offered as alternatives ("... or ...") are a hedge and score 0. A draft
  ``\\boxed{}`` inside the thinking, superseded by the final one after ``</think>``, is graded by the final one.
* A gold written as a number needs a number (any written form: ``12``, ``12.0``, ``1.2 \\times 10^1``, and for a
  non-integer gold any fraction), not an expression that evaluates to it (``7+5``, ``2 \\cdot 3``, ``\\frac{24}{2}``
  for an integer): math-verify would compute it, so an echo of the question would score 1.
* An answer that is only approximately equal (``3.14`` for ``\\pi``) scores 0.
* Not in the table on purpose: ``\\frac12`` / ``\\sqrt3`` in a completion. The recipe's ``malformed_operators=False``
  scores them 0, which ``tests/test_rewards.py`` pins as a deliberate choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from openrs.rewards import get_reward


@dataclass(frozen=True)
class EquivCase:
    category: str
    gold: str
    answer: str  # a bare answer (wrapped by `as_completion`) or a full completion (contains "</think>")
    expected: float
    note: str = ""


REASONING = (
    "Okay, let me set up the problem carefully.\n"
    "First I write down what is given, then simplify step by step.\n"
    "Checking the arithmetic once more, everything is consistent.\n"
)


def as_completion(answer: str) -> str:
    """A realistic completion: reasoning, ``</think>``, a short summary and the boxed final answer.

    A full completion (containing ``</think>``) and the empty string are returned unchanged.
    """
    if not answer or "</think>" in answer:
        return answer
    return f"{REASONING}</think>\nPutting the steps together, the final answer is $\\boxed{{{answer}}}$."


def think(body: str, final: str) -> str:
    """A full completion with the given reasoning body and text after ``</think>``."""
    return f"{REASONING}{body}\n</think>\n{final}"


PMATRIX_12_34 = r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"

CASES: list[EquivCase] = [
    # --- fractions vs decimals; \frac / \dfrac / \tfrac / a/b ---------------------------------------------------------
    EquivCase("fractions", r"\frac{1}{2}", "0.5", 1.0, "decimal form"),
    EquivCase("fractions", r"\frac{1}{2}", r"\dfrac{1}{2}", 1.0, "dfrac"),
    EquivCase("fractions", r"\dfrac{3}{4}", r"\tfrac{3}{4}", 1.0, "tfrac vs dfrac"),
    EquivCase("fractions", r"\frac{3}{4}", "3/4", 1.0, "slash fraction"),
    EquivCase("fractions", "0.75", r"\frac{3}{4}", 1.0, "decimal gold, fraction answer"),
    EquivCase("fractions", "1/2", r"\frac{1}{2}", 1.0, "slash gold"),
    EquivCase("fractions", r"\frac{2}{3}", r"\frac{4}{6}", 1.0, "unreduced fraction"),
    EquivCase("fractions", r"\frac{5}{2}", "2.5", 1.0, "improper fraction as decimal"),
    EquivCase("fractions", "0.125", r"\frac{1}{8}", 1.0, "decimal gold"),
    EquivCase("fractions", r"\frac{7}{4}", r"1.75", 1.0, ""),
    EquivCase("fractions", r"\frac{3}{2}", r"1\tfrac{1}{2}", 1.0, "mixed number"),
    EquivCase("fractions", "1.5", r"1\frac{1}{2}", 1.0, "mixed number, decimal gold"),
    EquivCase("fractions", r"\frac{1}{2}", r"\frac{2}{1}", 0.0, "inverted"),
    EquivCase("fractions", r"\frac{3}{4}", "0.7", 0.0, "truncated decimal"),
    EquivCase("fractions", r"\frac{2}{3}", "0.67", 0.0, "rounded decimal is not equal"),
    EquivCase("fractions", r"\frac{5}{2}", "2.25", 0.0, ""),
    EquivCase("fractions", "1/2", "1/3", 0.0, ""),
    EquivCase("fractions", r"\dfrac{1}{9}", r"\frac{1}{8}", 0.0, ""),
    # --- units and degrees ----------------------------------------------------------------------------------------
    EquivCase("units", r"30^\circ", "30", 1.0, "degree sign dropped"),
    EquivCase("units", r"30^\circ", r"30^{\circ}", 1.0, "braced circ"),
    EquivCase("units", r"30^\circ", r"30^\circ", 1.0, "same form"),
    EquivCase("units", "30", r"30^\circ", 1.0, "bare gold, degrees in answer"),
    EquivCase("units", r"45\text{ degrees}", "45", 1.0, "degrees as text"),
    EquivCase("units", r"100\text{ square units}", "100", 1.0, "square units"),
    EquivCase("units", "100", r"100\text{ square units}", 1.0, "units in the answer"),
    EquivCase("units", r"5\text{ cm}", "5", 1.0, ""),
    EquivCase("units", "5", r"5\text{ cm}", 1.0, ""),
    EquivCase("units", r"7\text{ cm}^2", "7", 1.0, "squared unit"),
    EquivCase("units", r"12\text{ inches}", r"12 \text{ inches}", 1.0, ""),
    EquivCase("units", r"\$18.90", "18.90", 1.0, "dollar sign"),
    EquivCase("units", r"\$18.90", r"\$18.9", 1.0, "trailing zero"),
    EquivCase("units", r"90^\circ", "90°", 1.0, "unicode degree sign"),
    EquivCase("units", r"30^\circ", r"60^\circ", 0.0, ""),
    EquivCase("units", r"100\text{ square units}", "10", 0.0, ""),
    EquivCase("units", r"5\text{ cm}", r"6\text{ cm}", 0.0, ""),
    EquivCase("units", r"\$18.90", "18.09", 0.0, ""),
    # --- intervals ------------------------------------------------------------------------------------------------
    EquivCase("intervals", "(0, 1]", "(0,1]", 1.0, "spacing"),
    EquivCase("intervals", "[2, 5)", r"\left[2, 5\right)", 1.0, "left/right wrappers"),
    EquivCase("intervals", r"(-\infty, 0)", r"(-\infty,0)", 1.0, ""),
    EquivCase("intervals", r"[1, \infty)", r"[1,\infty)", 1.0, ""),
    EquivCase("intervals", r"(-\infty, 2) \cup (3, \infty)", r"(-\infty,2)\cup(3,\infty)", 1.0, "union"),
    EquivCase("intervals", r"(-\infty, 2) \cup (3, \infty)", r"(3, \infty) \cup (-\infty, 2)", 1.0, "union order"),
    EquivCase("intervals", r"(-\infty, \infty)", r"\mathbb{R}", 1.0, "all reals"),
    EquivCase("intervals", r"\left[ -\frac{1}{2}, 3 \right]", "[-0.5, 3]", 1.0, "fraction endpoint"),
    EquivCase("intervals", "(0, 1]", r"x \in (0, 1]", 1.0, "membership"),
    EquivCase("intervals", r"[1, \infty)", r"x \geq 1", 1.0, "inequality describing the same set"),
    EquivCase("intervals", "(0, 1]", "(0, 1)", 0.0, "closedness differs"),
    EquivCase("intervals", "(0, 1]", "[0, 1]", 0.0, "closedness differs"),
    EquivCase("intervals", r"(-\infty, 2) \cup (3, \infty)", r"(-\infty, 2] \cup (3, \infty)", 0.0, ""),
    EquivCase("intervals", r"(-\infty, 0)", r"(0, \infty)", 0.0, ""),
    EquivCase("intervals", "[-2, 3]", "[-2, 3)", 0.0, ""),
    EquivCase("intervals", "(1, 3)", r"\{1, 3\}", 0.0, "the endpoints are not the solution set"),
    # --- sets and tuples ------------------------------------------------------------------------------------------
    EquivCase("sets_tuples", r"\{1, 2\}", r"\{2, 1\}", 1.0, "sets are unordered"),
    EquivCase("sets_tuples", r"\{1, 2\}", r"\{1,2\}", 1.0, ""),
    EquivCase("sets_tuples", "1, 2", "2, 1", 1.0, "list of solutions"),
    EquivCase("sets_tuples", r"-1, 3", r"3, -1", 1.0, "list of roots, reordered"),
    EquivCase("sets_tuples", r"\{-1, 3\}", r"-1, 3", 1.0, "set gold, list answer"),
    EquivCase("sets_tuples", "(1, 2)", "(1,2)", 1.0, "point"),
    EquivCase("sets_tuples", r"(2, \frac{1}{2})", "(2, 0.5)", 1.0, "point with fraction"),
    EquivCase("sets_tuples", "(1, 2, 3)", r"(1, 2, 3)", 1.0, "triple"),
    EquivCase("sets_tuples", r"\{1, 2\}", r"\{1, 2, 3\}", 0.0, "extra element"),
    EquivCase("sets_tuples", r"\{1, 2\}", r"\{1\}", 0.0, "missing element"),
    EquivCase("sets_tuples", "(1, 2)", "(2, 1)", 0.0, "ordered pair"),
    EquivCase("sets_tuples", "(1, 2, 3)", "(1, 3, 2)", 0.0, "ordered triple"),
    EquivCase("sets_tuples", "1, 2", "1", 0.0, "only one of two solutions"),
    EquivCase("sets_tuples", "(3, -4)", "(3, 4)", 0.0, "sign of a coordinate"),
    # --- \text{} answers ------------------------------------------------------------------------------------------
    EquivCase("text", r"\text{Monday}", r"\text{Monday}", 1.0, ""),
    EquivCase("text", r"\text{Monday}", "Monday", 1.0, "text answer without \\text"),
    EquivCase("text", r"\text{Monday}", r"\text{monday}", 1.0, "case of a word"),
    EquivCase("text", r"\text{even}", r"\text{even}", 1.0, ""),
    EquivCase("text", r"\text{Devon}", r"\text{Devon}", 1.0, "a name"),
    EquivCase("text", r"\text{(A)}", r"\text{(A)}", 1.0, "choice as text"),
    EquivCase("text", r"\text{(A)}", "A", 1.0, "choice letter"),
    EquivCase("text", r"\text{Monday}", r"\text{Tuesday}", 0.0, ""),
    EquivCase("text", r"\text{even}", r"\text{odd}", 0.0, ""),
    EquivCase("text", r"\text{Yes}", r"\text{No}", 0.0, ""),
    EquivCase("text", r"\text{(A)}", r"\text{(B)}", 0.0, ""),
    EquivCase("text", r"\text{Devon}", r"\text{Evan}", 0.0, ""),
    # --- percentages ----------------------------------------------------------------------------------------------
    EquivCase("percent", r"50\%", r"50\%", 1.0, "same form"),
    EquivCase("percent", r"50\%", "50", 1.0, "number of percent"),
    EquivCase("percent", r"50\%", "0.5", 1.0, "same quantity as a decimal"),
    EquivCase("percent", r"25\%", r"\frac{1}{4}", 1.0, "same quantity as a fraction"),
    EquivCase("percent", r"12.5\%", "12.5", 1.0, "decimal percent"),
    EquivCase("percent", "40", r"40\%", 1.0, "bare gold, percent answer"),
    EquivCase("percent", "0.5", r"50\%", 1.0, "decimal gold, percent answer"),
    EquivCase("percent", r"50\%", r"50 \text{ percent}", 1.0, "spelled-out percent"),
    EquivCase("percent", r"50\%", "50%", 1.0, "unescaped percent sign"),
    EquivCase("percent", r"50\%", "5", 0.0, ""),
    EquivCase("percent", r"50\%", "0.05", 0.0, "off by a factor 10"),
    EquivCase("percent", r"50\%", r"55\%", 0.0, ""),
    EquivCase("percent", "40", r"4\%", 0.0, ""),
    # --- multiple choice: letter golds ----------------------------------------------------------------------------
    EquivCase("multiple_choice", "C", "C", 1.0, ""),
    EquivCase("multiple_choice", "C", "(C)", 1.0, ""),
    EquivCase("multiple_choice", "C", r"\text{C}", 1.0, ""),
    EquivCase("multiple_choice", "(C)", "C", 1.0, ""),
    EquivCase("multiple_choice", "(C)", "(C)", 1.0, ""),
    EquivCase("multiple_choice", "(C)", r"\text{C}", 1.0, ""),
    EquivCase("multiple_choice", r"\text{(C)}", "C", 1.0, ""),
    EquivCase("multiple_choice", r"\text{(C)}", "(C)", 1.0, ""),
    EquivCase("multiple_choice", r"\text{(C)}", r"\text{C}", 1.0, ""),
    EquivCase("multiple_choice", r"\textbf{(C)}", "C", 1.0, ""),
    EquivCase("multiple_choice", r"\textbf{(C)}", "(C)", 1.0, ""),
    EquivCase("multiple_choice", r"\textbf{(C)}", r"\text{C}", 1.0, ""),
    EquivCase("multiple_choice", r"\textbf{(C)}", r"\textbf{(C)}", 1.0, "AMC style"),
    EquivCase("multiple_choice", "C", "D", 0.0, ""),
    EquivCase("multiple_choice", "(C)", "(D)", 0.0, ""),
    EquivCase("multiple_choice", r"\text{(C)}", r"\text{B}", 0.0, ""),
    EquivCase("multiple_choice", r"\textbf{(C)}", "E", 0.0, ""),
    EquivCase("multiple_choice", "C", "c", 1.0, "lowercase choice letter"),
    EquivCase("multiple_choice", r"\textbf{(C)}\ 12", "C", 1.0, "AMC gold (letter and value), letter answer"),
    EquivCase("multiple_choice", r"\textbf{(C)}\ 12", "12", 1.0, "AMC gold, value answer"),
    EquivCase("multiple_choice", r"\textbf{(C)}\ 12", r"\textbf{(C)}\ 12", 1.0, "AMC gold, same form"),
    EquivCase(
        "multiple_choice", r"Hence the answer is $\boxed{\textbf{(C)}\ 12}$.", "(C)", 1.0, "AMC full solution gold"
    ),
    EquivCase("multiple_choice", "C", r"\textbf{(C)}\ 12", 1.0, "letter gold, AMC-style answer"),
    EquivCase("multiple_choice", r"\textbf{(C)}\ 12", "D", 0.0, ""),
    EquivCase("multiple_choice", r"\textbf{(C)}\ 12", "13", 0.0, ""),
    EquivCase("multiple_choice", "C", r"\textbf{(D)}\ 15", 0.0, ""),
    # --- square roots ---------------------------------------------------------------------------------------------
    EquivCase("sqrt", r"2\sqrt{3}", r"\sqrt{12}", 1.0, "simplified vs unsimplified"),
    EquivCase("sqrt", r"\sqrt{12}", r"2\sqrt{3}", 1.0, ""),
    EquivCase("sqrt", r"2\sqrt{2}", r"\sqrt{8}", 1.0, ""),
    EquivCase("sqrt", r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}", 1.0, "rationalised denominator"),
    EquivCase("sqrt", r"\sqrt[3]{8}", "2", 1.0, "cube root"),
    EquivCase("sqrt", r"3 + \sqrt{5}", r"\sqrt{5} + 3", 1.0, "term order"),
    EquivCase("sqrt", r"2\sqrt{3}", r"2 \cdot \sqrt{3}", 1.0, "explicit product"),
    EquivCase("sqrt", r"2\sqrt{3}", r"3\sqrt{2}", 0.0, ""),
    EquivCase("sqrt", r"2\sqrt{3}", r"\sqrt{3}", 0.0, ""),
    EquivCase("sqrt", r"\sqrt{2}", "1.414", 0.0, "approximation"),
    EquivCase("sqrt", r"\sqrt[3]{8}", r"\sqrt{8}", 0.0, ""),
    # --- pi -----------------------------------------------------------------------------------------------------------
    EquivCase("pi", r"2\pi", r"2 \pi", 1.0, ""),
    EquivCase("pi", r"2\pi", r"\pi \cdot 2", 1.0, ""),
    EquivCase("pi", r"2\pi", r"\frac{4\pi}{2}", 1.0, ""),
    EquivCase("pi", r"\frac{\pi}{4}", r"\frac{1}{4}\pi", 1.0, ""),
    EquivCase("pi", r"36\pi", r"36\pi \text{ cm}^2", 1.0, "pi with units"),
    EquivCase("pi", r"\frac{3\pi}{2}", r"1.5\pi", 1.0, "decimal coefficient"),
    EquivCase("pi", r"\pi", "3.14", 0.0, "approximation"),
    EquivCase("pi", r"\frac{\pi}{4}", r"\frac{\pi}{2}", 0.0, ""),
    EquivCase("pi", r"2\pi", "2", 0.0, "dropped pi"),
    EquivCase("pi", r"36\pi", "113.1", 0.0, "approximation"),
    # --- negative numbers -----------------------------------------------------------------------------------------
    EquivCase("negative", "-5", "-5", 1.0, ""),
    EquivCase("negative", r"-\frac{1}{2}", "-0.5", 1.0, ""),
    EquivCase("negative", r"-\frac{1}{2}", r"\frac{-1}{2}", 1.0, "sign in the numerator"),
    EquivCase("negative", r"-\frac{1}{2}", r"\frac{1}{-2}", 1.0, "sign in the denominator"),
    EquivCase("negative", "-2", "- 2", 1.0, "space after the sign"),
    EquivCase("negative", "-7", "(-7)", 1.0, "parenthesised"),
    EquivCase("negative", "-5", "5", 0.0, "sign dropped"),
    EquivCase("negative", r"-\frac{3}{4}", r"\frac{3}{4}", 0.0, ""),
    EquivCase("negative", "3", "-3", 0.0, "spurious sign"),
    EquivCase("negative", "-0.25", "-0.5", 0.0, ""),
    # --- scientific notation --------------------------------------------------------------------------------------
    EquivCase("scientific", r"3 \times 10^{5}", "300000", 1.0, ""),
    EquivCase("scientific", "300000", r"3 \times 10^5", 1.0, ""),
    EquivCase("scientific", r"1.5 \times 10^{-3}", "0.0015", 1.0, "negative exponent"),
    EquivCase("scientific", r"6.02 \times 10^{23}", r"6.02 \cdot 10^{23}", 1.0, "cdot"),
    EquivCase("scientific", r"2.5 \times 10^{3}", r"25 \times 10^{2}", 1.0, "non-normalised mantissa"),
    EquivCase("scientific", r"3 \times 10^{5}", r"3 \times 10^{6}", 0.0, ""),
    EquivCase("scientific", r"1.5 \times 10^{-3}", "0.015", 0.0, ""),
    EquivCase("scientific", r"6.02 \times 10^{23}", r"6.02 \times 10^{22}", 0.0, ""),
    # --- thousands separators -------------------------------------------------------------------------------------
    EquivCase("thousands", "1,000", "1000", 1.0, ""),
    EquivCase("thousands", "1000", "1,000", 1.0, ""),
    EquivCase("thousands", "1{,}000", "1000", 1.0, "braced comma"),
    EquivCase("thousands", "12,345", "12345", 1.0, ""),
    EquivCase("thousands", "1,000,000", "10^6", 1.0, ""),
    EquivCase("thousands", "2,500", "2500.0", 1.0, ""),
    EquivCase("thousands", "1000", r"1\,000", 1.0, "thin-space separator"),
    EquivCase("thousands", "1,000", "100", 0.0, ""),
    EquivCase("thousands", "12,345", "12,354", 0.0, "transposed digits"),
    EquivCase("thousands", "1,000,000", "100,000", 0.0, ""),
    # --- matrices -------------------------------------------------------------------------------------------------
    EquivCase("matrices", PMATRIX_12_34, PMATRIX_12_34, 1.0, ""),
    EquivCase("matrices", PMATRIX_12_34, r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}", 1.0, "bmatrix"),
    EquivCase(
        "matrices", r"\begin{pmatrix} 1/2 \\ 0 \end{pmatrix}", r"\begin{pmatrix} 0.5 \\ 0 \end{pmatrix}", 1.0, ""
    ),
    EquivCase(
        "matrices", r"\begin{pmatrix} \frac{1}{2} \\ -3 \end{pmatrix}", r"\begin{pmatrix} 0.5 \\ -3 \end{pmatrix}", 1.0
    ),
    EquivCase(
        "matrices", r"$\begin{pmatrix} 1 \\ 2 \end{pmatrix}$", r"\begin{bmatrix} 1 \\ 2 \end{bmatrix}", 1.0, "$-gold"
    ),
    EquivCase(
        "matrices",
        r"So the vector is $\boxed{\begin{pmatrix} -1 \\ \frac{3}{2} \end{pmatrix}}$.",
        r"\begin{pmatrix} -1 \\ 1.5 \end{pmatrix}",
        1.0,
        "full solution gold",
    ),
    EquivCase("matrices", PMATRIX_12_34, r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}", 0.0, "transposed"),
    EquivCase("matrices", r"$\begin{pmatrix} 1 \\ 2 \end{pmatrix}$", r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}", 0.0, ""),
    EquivCase("matrices", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}", 0.0, ""),
    EquivCase("matrices", PMATRIX_12_34, r"\begin{pmatrix} 1 & 2 \\ 3 & 5 \end{pmatrix}", 0.0, ""),
    # --- equations ------------------------------------------------------------------------------------------------
    EquivCase("equations", "5", "x = 5", 1.0, "answer as an assignment"),
    EquivCase("equations", "x = 5", "5", 1.0, "gold as an assignment"),
    EquivCase("equations", "$x=5$", "x=5", 1.0, ""),
    EquivCase("equations", "-3", "x = -3", 1.0, ""),
    EquivCase("equations", "7", "k = 7", 1.0, ""),
    EquivCase("equations", "y = 2x + 3", "y = 3 + 2x", 1.0, "line, terms reordered"),
    EquivCase("equations", "x^2 + y^2 = 25", "x^2+y^2=25", 1.0, "circle"),
    EquivCase("equations", "x = 5", "x = 6", 0.0, ""),
    EquivCase("equations", "5", "x = 6", 0.0, ""),
    EquivCase("equations", "y = 2x + 3", "y = 3x + 2", 0.0, ""),
    EquivCase("equations", "x^2 + y^2 = 25", "x^2 + y^2 = 5", 0.0, ""),
    # --- \left( ... \right) wrappers ------------------------------------------------------------------------------
    EquivCase("left_right", "(1, 2)", r"\left(1, 2\right)", 1.0, ""),
    EquivCase("left_right", r"\left(1, 2\right)", "(1, 2)", 1.0, "wrapper in the gold"),
    EquivCase("left_right", "[0, 1]", r"\left[0, 1\right]", 1.0, ""),
    EquivCase("left_right", r"\{1, 2\}", r"\left\{1, 2\right\}", 1.0, ""),
    EquivCase("left_right", r"\left( \frac{1}{2}, 3 \right)", "(0.5, 3)", 1.0, ""),
    EquivCase("left_right", "6", r"\left(2 \cdot 3\right)", 0.0, "a product still to compute, not the number"),
    EquivCase("left_right", "6", r"\left(6\right)", 1.0, "a parenthesised number"),
    EquivCase("left_right", "(1, 2)", r"\left(2, 1\right)", 0.0, ""),
    EquivCase("left_right", "[0, 1]", r"\left(0, 1\right]", 0.0, ""),
    EquivCase("left_right", r"\left( \frac{1}{2}, 3 \right)", r"\left(\frac{1}{3}, 3\right)", 0.0, ""),
    # --- spacing commands: \! \, \; \  ----------------------------------------------------------------------------
    EquivCase("spacing", r"1,\!000", "1000", 1.0, "MATH-style thousands separator"),
    EquivCase("spacing", r"10,\!000", r"10,\!000", 1.0, ""),
    EquivCase("spacing", "10000", r"10,\!000", 1.0, ""),
    EquivCase("spacing", r"2\sqrt{3}", r"2\,\sqrt{3}", 1.0, "thin space"),
    EquivCase("spacing", "x = 5", r"x\;=\;5", 1.0, "thick spaces"),
    EquivCase("spacing", "3", r"3\ \text{cm}", 1.0, "control space before a unit"),
    EquivCase("spacing", r"\frac{1}{2}", r"\frac{1}{\,2}", 1.0, ""),
    EquivCase("spacing", r"\frac{1}{2}", r"\displaystyle \frac{1}{2}", 1.0, "displaystyle"),
    EquivCase("spacing", "5", r"x\,=\,5", 1.0, ""),
    EquivCase("spacing", r"1,\!000", "100", 0.0, ""),
    EquivCase("spacing", r"10,\!000", "1000", 0.0, ""),
    EquivCase("spacing", r"2\sqrt{3}", r"3\,\sqrt{2}", 0.0, ""),
    # --- gold forms: bare, $...$, full solutions ------------------------------------------------------------------
    EquivCase("gold_forms", "420", "420", 1.0, "bare integer"),
    EquivCase("gold_forms", "$420$", "420", 1.0, "dollar-delimited"),
    EquivCase("gold_forms", r"\boxed{420}", "420", 1.0, "boxed only"),
    EquivCase("gold_forms", r"So the answer is $\boxed{\textbf{(081)}}$.", "81", 1.0, "AIME, bold parentheses"),
    EquivCase("gold_forms", r"So the answer is $\boxed{\textbf{(081)}}$.", "82", 0.0, "AIME, bold parentheses"),
    EquivCase("gold_forms", r"$\frac{7}{2}$", "3.5", 1.0, ""),
    EquivCase("gold_forms", r"We have $x = 3$, so $2x = 6$ and the answer is $\boxed{6}$.", "6", 1.0, "full solution"),
    EquivCase(
        "gold_forms",
        r"Since $a + b = 10$ and $a - b = 4$, we get $a = 7$, $b = 3$, so $ab = \boxed{21}$.",
        "21",
        1.0,
        "full solution with several inline formulas",
    ),
    EquivCase(
        "gold_forms", r"The probability is $\dfrac{1}{3}$, i.e. $\boxed{\dfrac{1}{3}}$.", "1/3", 1.0, "boxed dfrac"
    ),
    EquivCase("gold_forms", r"Thus the answer is $7$.", "7", 1.0, "solution without a box"),
    EquivCase("gold_forms", "420", "42", 0.0, ""),
    EquivCase("gold_forms", "$420$", "421", 0.0, ""),
    EquivCase(
        "gold_forms", r"We have $x = 3$, so $2x = 6$ and the answer is $\boxed{6}$.", "3", 0.0, "intermediate value"
    ),
    EquivCase(
        "gold_forms",
        r"Since $a + b = 10$ and $a - b = 4$, we get $a = 7$, $b = 3$, so $ab = \boxed{21}$.",
        "10",
        0.0,
        "value from the problem statement",
    ),
    # --- completion forms: first-match rule, several boxes, no box ------------------------------------------------
    # math-verify tries the rightmost match first and stops at the first one (extraction_mode="first_match"); a bare
    # `\boxed{` match runs from the first box to the last `}`, and boxed="all" then joins every box in it.
    EquivCase("completion_forms", "5", think("So the answer is 5.", r"The answer is $\boxed{5}$."), 1.0, "plain"),
    EquivCase("completion_forms", "5", think("", r"\boxed{5}"), 1.0, "bare box at the very end"),
    EquivCase(
        "completion_forms",
        "5",
        think(r"I get $\boxed{5}$ here.", r"Final answer: $\boxed{5}$."),
        1.0,
        "same answer boxed in the thinking and after it",
    ),
    EquivCase(
        "completion_forms",
        "5",
        think(r"A first guess is $\boxed{3}$, but that misses a case.", r"Final answer: $\boxed{5}$."),
        1.0,
        "draft box in the thinking, corrected final box",
    ),
    EquivCase(
        "completion_forms",
        "5",
        think(r"A first guess is \boxed{3}, but that misses a case.", "**Final Answer**\n\\[\n\\boxed{5}\n\\]"),
        1.0,
        "draft box in the thinking, final display-math box",
    ),
    EquivCase(
        "completion_forms",
        "5",
        think(r"A first guess is \boxed{3}, but that misses a case.", "**Final Answer**\n\\boxed{5}"),
        1.0,
        "draft box in the thinking, final bare box (R1 style)",
    ),
    EquivCase(
        "completion_forms",
        "2, 3",
        think("Both roots satisfy the equation.", r"The solutions are $\boxed{2}$ and $\boxed{3}$."),
        1.0,
        "two boxes for two solutions",
    ),
    EquivCase(
        "completion_forms", "5", think("", r"The answer is $\boxed{3}$ or $\boxed{5}$."), 0.0, "hedge: two boxes"
    ),
    EquivCase("completion_forms", "3", think("", r"The answer is $\boxed{3}$ or maybe $\boxed{5}$."), 0.0, "hedge"),
    EquivCase("completion_forms", "5", think("", "The final answer is $5$."), 1.0, "no box, anchored LaTeX answer"),
    EquivCase("completion_forms", "5", think("The answer is 5.", "The answer is 5."), 0.0, "no box, no LaTeX"),
    EquivCase("completion_forms", "5", "", 0.0, "empty completion"),
    EquivCase("completion_forms", "5", think("Hmm, maybe 5?", "I could not finish the problem."), 0.0, "no answer"),
    EquivCase("completion_forms", "5", think("", r"The answer is $\boxed{6}$."), 0.0, "wrong box"),
]

CATEGORIES = (
    "fractions",
    "units",
    "intervals",
    "sets_tuples",
    "text",
    "percent",
    "multiple_choice",
    "sqrt",
    "pi",
    "negative",
    "scientific",
    "thousands",
    "matrices",
    "equations",
    "left_right",
    "spacing",
    "gold_forms",
    "completion_forms",
)


def _case_ids(cases: list[EquivCase]) -> list[str]:
    counters: dict[str, int] = {}
    ids = []
    for case in cases:
        counters[case.category] = counters.get(case.category, 0) + 1
        ids.append(f"{case.category}-{counters[case.category]:02d}")
    return ids


CASE_IDS = _case_ids(CASES)


@pytest.fixture(scope="module")
def scores() -> dict[str, float | None]:
    """Score the whole table in one reward call (as a GRPO batch would be)."""
    accuracy = get_reward("accuracy")
    rewards = accuracy(
        completions=[as_completion(case.answer) for case in CASES],
        solution=[case.gold for case in CASES],
    )
    assert len(rewards) == len(CASES)
    return dict(zip(CASE_IDS, rewards, strict=True))


@pytest.mark.parametrize(("case_id", "case"), list(zip(CASE_IDS, CASES, strict=True)), ids=CASE_IDS)
def test_equivalence(case_id: str, case: EquivCase, scores: dict[str, float | None]) -> None:
    assert scores[case_id] == case.expected, (
        f"{case.note or case.category}: gold {case.gold!r}, answer {case.answer!r} scored {scores[case_id]}"
    )


def test_the_reward_tells_right_from_wrong_in_every_category(scores: dict[str, float | None]) -> None:
    """The real scores, per category, are both 1.0 and 0.0 and nothing else: a grader that is constant within a
    category (every unit stripped to nothing, every matrix rejected) or that returns None or a partial score fails
    here even if the table's expectations were edited to match it."""
    seen: dict[str, set[float | None]] = {category: set() for category in CATEGORIES}
    for case_id, case in zip(CASE_IDS, CASES, strict=True):
        seen[case.category].add(scores[case_id])
    assert seen == {category: {0.0, 1.0} for category in CATEGORIES}
