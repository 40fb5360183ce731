"""Correctness of a batch of completions, shared by the ``accuracy``, ``cosine`` and ``length`` rewards.

Judging happens in :mod:`openrs.rewards.verify_pool` (bounded time, worker processes). This module adapts it to TRL:
it reads the gold column from the reward kwargs, maps verdicts to ``True``/``False``/``None``, reports counts through
TRL's ``log_metric`` kwarg (averaged per logging step by TRL) and warns about unparseable golds.

Metrics, each a count of samples in the call, prefixed by the reward name (e.g. ``accuracy/verify_timeouts``):

* ``unparseable_gold`` -- the gold yields no answer (or its parsing timed out): reward ``None``.
* ``no_answer`` -- no answer could be extracted from the completion (scored as wrong).
* ``verify_timeouts`` -- parsing/verifying the completion exceeded ``timeout_s`` (scored as wrong).
* ``verify_errors`` -- parsing/verifying raised or crashed its worker (scored as wrong).

Common params of the correctness rewards: ``gold_column`` (str, ``"solution"``), ``timeout_s`` (float, 5.0: the
per-item limit), ``workers`` (int or None, None: one per core up to 8, divided among the node's training processes;
0: judge in-process with only a soft, main-thread limit -- for debugging), ``scheme`` (str, ``"recipe"``: how the
answer is found, a key of :data:`openrs.rewards.math_verify_utils.SCHEMES`; ``recipe`` takes only a ``\\boxed{}`` or
``$...$`` answer, ``latex_gold_fixed`` also a final plain expression such as ``5 + 7 = 12``, as lighteval does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openrs.rewards.math_verify_utils import SCHEMES, Verdict
from openrs.rewards.params import check_column_name, check_positive_real
from openrs.rewards.verify_pool import DEFAULT_TIMEOUT_S, judge_batch

__all__ = [
    "correctness",
    "get_gold_column",
    "judge_completions",
    "report_verdicts",
    "score_completions",
    "validate_correctness_params",
]

logger = logging.getLogger(__name__)

_NON_COLUMN_KWARGS = frozenset(
    {"prompts", "completion_ids", "trainer_state", "log_metric", "log_extra", "environments"}
)
_WARNED_GOLDS: set[str] = set()
_MAX_WARNED_GOLDS = 10_000
_METRICS = {
    "unparseable_gold": Verdict.GOLD_UNPARSEABLE,
    "no_answer": Verdict.NO_ANSWER,
    "verify_timeouts": Verdict.TIMEOUT,
    "verify_errors": Verdict.ERROR,
}


def validate_correctness_params(reward: str, params: Mapping[str, Any]) -> None:
    """Check ``gold_column``, ``timeout_s`` and ``workers`` when present."""
    if "gold_column" in params:
        check_column_name(reward, "gold_column", params["gold_column"])
    if "timeout_s" in params:
        check_positive_real(reward, "timeout_s", params["timeout_s"])
    if "scheme" in params and params["scheme"] not in SCHEMES:
        raise ValueError(
            f"Reward '{reward}': parameter 'scheme' must be one of {sorted(SCHEMES)}, got {params['scheme']!r}"
        )
    workers = params.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ValueError(
            f"Reward '{reward}': parameter 'workers' must be null (one per core), 0 (in-process) or a positive "
            f"integer, got {workers!r}"
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


def _gold_text(gold: Any) -> str | None:
    if gold is None:
        return None
    text = str(gold).strip()
    return text or None


def judge_completions(
    texts: Sequence[str],
    golds: Sequence[Any],
    reward_name: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    prompts: Sequence[Any] | None = None,
    scheme: str = "recipe",
) -> list[Verdict]:
    """A :class:`Verdict` per completion; warns once per distinct unparseable gold, naming its problem (``prompts``)."""
    if len(texts) != len(golds):
        raise ValueError(f"Reward '{reward_name}' got {len(texts)} completions but {len(golds)} gold answers")
    verdicts = judge_batch([_gold_text(g) for g in golds], texts, timeout_s=timeout_s, workers=workers, scheme=scheme)
    for index, (gold, verdict) in enumerate(zip(golds, verdicts, strict=True)):
        if verdict is Verdict.GOLD_UNPARSEABLE:
            _warn_unparseable_gold(gold, reward_name, None if prompts is None else prompts[index])
    return verdicts


def correctness(verdicts: Sequence[Verdict]) -> list[bool | None]:
    """``True`` for correct, ``None`` for an unparseable gold, ``False`` for everything else."""
    return [None if v is Verdict.GOLD_UNPARSEABLE else v is Verdict.CORRECT for v in verdicts]


def report_verdicts(kwargs: Mapping[str, Any], verdicts: Sequence[Verdict], reward_name: str) -> dict[str, int]:
    """Count the verdicts of :data:`_METRICS` and log them via TRL's ``log_metric`` kwarg when present."""
    counts = {name: sum(1 for v in verdicts if v is verdict) for name, verdict in _METRICS.items()}
    log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
    if log_metric is not None:
        for name, count in counts.items():
            log_metric(f"{reward_name}/{name}", count)
    return counts


def score_completions(
    texts: Sequence[str],
    kwargs: Mapping[str, Any],
    reward_name: str,
    *,
    gold_column: str,
    timeout_s: float,
    workers: int | None,
    scheme: str = "recipe",
) -> list[bool | None]:
    """Gold column -> verdicts -> metrics -> correctness: the whole path a correctness reward takes."""
    golds = get_gold_column(kwargs, gold_column, reward_name)
    verdicts = judge_completions(
        texts, golds, reward_name, timeout_s=timeout_s, workers=workers, prompts=kwargs.get("prompts"), scheme=scheme
    )
    report_verdicts(kwargs, verdicts, reward_name)
    judged = correctness(verdicts)
    RECENT[reward_name] = judged
    return judged


#: The correctness a correctness reward judged in its latest call in this process, by reward name: what dynamic
#: sampling filters on (openrs.trainer), whatever value the reward makes of it (cosine: a length-dependent one).
RECENT: dict[str, list[bool | None]] = {}


def _problem_text(prompt: Any) -> str:
    """The last user message of a conversational prompt, or the prompt itself, on one line."""
    if isinstance(prompt, Sequence) and not isinstance(prompt, str):
        users = [m.get("content") for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"]
        prompt = users[-1] if users else prompt
    return " ".join(str(prompt).split())


def _warn_unparseable_gold(gold: Any, reward_name: str, prompt: Any = None) -> None:
    key = repr(gold)
    if key in _WARNED_GOLDS or len(_WARNED_GOLDS) >= _MAX_WARNED_GOLDS:
        return
    _WARNED_GOLDS.add(key)
    problem = "" if prompt is None else f" (problem: {_problem_text(prompt)[:160]!r})"
    logger.warning(
        "math-verify could not parse the gold answer %s%s; the '%s' reward returns None for its completions "
        "(counted in metric '%s/unparseable_gold'). Warned once per distinct gold; fix or drop such rows in the data.",
        key[:300],
        problem,
        reward_name,
        reward_name,
    )
