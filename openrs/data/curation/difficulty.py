"""The ``difficulty`` step: estimate each problem's pass rate under a model and keep a band of it.

For every row the model samples ``k`` completions of the chat-formatted prompt (``build_messages(problem,
system_prompt)`` through the tokenizer's chat template); each is judged by the accuracy reward's verifier
(:func:`openrs.rewards.correctness.judge_completions`, worker processes with a time limit) against the row's gold
(``row[gold_column]``, else ``row["solution"]`` when that is missing or empty). The pass rate, correct / k, goes into
``row[pass_rate_column]`` (float) and ``row["pass_k"] = k``. Rows with ``band[0] <= pass_rate <= band[1]`` are kept;
the others are removed as ``"too easy"`` (above the band) or ``"too hard"`` (below), with detail ``{"pass_rate": p}``.

* **Unparseable gold**: golds are checked before any generation (one cheap verification per row), and a row whose
  gold math-verify cannot parse, or which has no gold at all, is removed as ``"unparseable gold"`` without sampling.
* **reuse_existing**: a row that already holds a number in ``[0, 1]`` under ``pass_rate_column`` keeps it and is not
  sampled, so a recipe can be re-run, and a dataset shipped with pass rates can be banded without a model (no model
  is loaded when no row needs sampling; ``model`` is then unused). A value outside ``[0, 1]`` is an error; a missing
  value, ``None`` or NaN is computed.
* **extra**: ``pass_rate_histogram`` (rows per pass rate over all rows with one; every 1/k bucket is listed when rows
  were sampled), ``completions``, ``generated_tokens``, ``tokens_per_s`` (generation only), ``generation_s``,
  ``verify_s``, ``wall_s``, ``verdicts`` (counts over sampled completions), ``rows_sampled``, ``rows_reused``.

Backends (``hf``, ``vllm``) are in :mod:`openrs.generation`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openrs.config import R1_SYSTEM_PROMPT
from openrs.data.curation.base import Removal, Row, StepOutput
from openrs.errors import ConfigError
from openrs.generation import BACKENDS, DTYPES, Sampling, chat_prompt, load_generator, require_vllm
from openrs.rewards.correctness import judge_completions
from openrs.rewards.math_verify_utils import Verdict
from openrs.rewards.verify_pool import DEFAULT_TIMEOUT_S, check_golds

__all__ = ["REASON_TOO_EASY", "REASON_TOO_HARD", "REASON_UNPARSEABLE_GOLD", "difficulty"]

logger = logging.getLogger(__name__)

REASON_TOO_EASY = "too easy"
REASON_TOO_HARD = "too hard"
REASON_UNPARSEABLE_GOLD = "unparseable gold"


@dataclass(frozen=True)
class _Settings:
    """The step's parameters as given (checked by :func:`_validate` before any work)."""

    model: str
    backend: str
    k: int
    temperature: float
    top_p: float
    max_new_tokens: int
    band: Sequence[float]
    batch_size: int
    system_prompt: str | None
    gold_column: str
    seed: int
    pass_rate_column: str
    reuse_existing: bool
    dtype: str
    gpu_memory_utilization: float
    tensor_parallel_size: int
    verify_timeout_s: float
    verify_workers: int | None


def _no_generation() -> dict[str, Any]:
    """The generation stats of a run that sampled nothing."""
    return {"completions": 0, "generated_tokens": 0, "tokens_per_s": 0.0, "generation_s": 0.0}


@dataclass
class _Estimation:
    """The rows of one run and what it found so far: pass rates, golds, unparseable golds, timings and counts."""

    rows: list[Row]
    rates: list[float | None]
    golds: dict[int, str | None] = field(default_factory=dict)  # row index -> its gold, for the rows to sample
    unparseable: dict[int, Any] = field(default_factory=dict)  # row index -> its gold
    generation: dict[str, Any] = field(default_factory=_no_generation)
    verdicts: Counter[str] = field(default_factory=Counter)
    verify_s: float = 0.0


def difficulty(
    rows: Sequence[Row],
    *,
    model: str,
    backend: str = "hf",
    k: int = 4,
    temperature: float = 0.7,
    top_p: float = 0.9,
    max_new_tokens: int = 4096,
    band: Sequence[float] = (0.0, 1.0),
    batch_size: int = 16,
    system_prompt: str | None = R1_SYSTEM_PROMPT,
    gold_column: str = "answer",
    seed: int = 0,
    pass_rate_column: str = "pass_rate",
    reuse_existing: bool = True,
    dtype: str = "auto",
    gpu_memory_utilization: float = 0.9,
    tensor_parallel_size: int = 1,
    verify_timeout_s: float = DEFAULT_TIMEOUT_S,
    verify_workers: int | None = None,
) -> StepOutput:
    """Sample ``k`` completions per row with ``model``, store the pass rate, keep rows whose rate is within ``band``.

    ``verify_timeout_s`` / ``verify_workers`` are the verifier's per-item limit and pool size (``None``: one per core
    up to 8; 0: in-process), as for the accuracy reward. Rows are not modified in place: kept rows are copies.
    """
    started = time.perf_counter()
    settings = _Settings(
        model=model,
        backend=backend,
        k=k,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        band=band,
        batch_size=batch_size,
        system_prompt=system_prompt,
        gold_column=gold_column,
        seed=seed,
        pass_rate_column=pass_rate_column,
        reuse_existing=reuse_existing,
        dtype=dtype,
        gpu_memory_utilization=gpu_memory_utilization,
        tensor_parallel_size=tensor_parallel_size,
        verify_timeout_s=verify_timeout_s,
        verify_workers=verify_workers,
    )
    return _estimate_and_band(rows, settings, started)


def _estimate_and_band(rows: Sequence[Row], settings: _Settings, started: float) -> StepOutput:
    """Validate, reuse or sample each row's pass rate, keep the rows within the band, and report."""
    low, high = _validate(settings)
    state = _Estimation(rows=[dict(row) for row in rows], rates=[None] * len(rows))
    to_sample = _reuse_existing_rates(state, settings)
    rows_reused = len(state.rows) - len(to_sample)
    to_sample = _screen_golds(state, to_sample, settings)
    if to_sample:
        _sample_pass_rates(state, to_sample, settings)
    kept, removed = _split_by_band(state, low, high)
    extra = _extra(state, settings, (low, high), to_sample, rows_reused, started)
    _log_summary(extra, unparseable=len(state.unparseable), kept=len(kept), total=len(state.rows))
    return StepOutput(rows=kept, removed=removed, extra=extra)


# --- the steps of one run ----------------------------------------------------------------------------------------


def _reuse_existing_rates(state: _Estimation, settings: _Settings) -> list[int]:
    """Take each row's stored pass rate when allowed and usable; returns the indices of the rows left to sample."""
    to_sample: list[int] = []
    for index, row in enumerate(state.rows):
        existing = _existing_rate(row, settings.pass_rate_column) if settings.reuse_existing else None
        if existing is None:
            to_sample.append(index)
        else:
            state.rates[index] = existing
            row[settings.pass_rate_column] = existing
    return to_sample


def _screen_golds(state: _Estimation, to_sample: list[int], settings: _Settings) -> list[int]:
    """Check the golds of the rows to sample before any generation; returns the rows whose gold parses."""
    if not to_sample:
        return to_sample
    if settings.backend == "vllm":
        require_vllm(settings.tensor_parallel_size, key="difficulty.backend")  # fail before the gold check, not after
    state.golds = {index: _gold(state.rows[index], settings.gold_column) for index in to_sample}
    verify_started = time.perf_counter()
    parses = check_golds(
        [state.golds[i] for i in to_sample], timeout_s=settings.verify_timeout_s, workers=settings.verify_workers
    )
    state.verify_s += time.perf_counter() - verify_started
    for index, parsed in zip(to_sample, parses, strict=True):
        if not parsed:
            state.unparseable[index] = state.golds[index]
    return [index for index in to_sample if index not in state.unparseable]


def _sample_pass_rates(state: _Estimation, to_sample: list[int], settings: _Settings) -> None:
    """Generate ``k`` completions for each row to sample, judge them, and store the rows' pass rates."""
    completions = _generate(state, to_sample, settings)
    verdicts = _judge(state, to_sample, completions, settings)
    _store_pass_rates(state, to_sample, verdicts, settings)


def _generate(state: _Estimation, to_sample: list[int], settings: _Settings) -> list[list[str]]:
    """Load the model and sample ``k`` completions of each row's chat prompt; records the generation stats."""
    generator = load_generator(
        settings.backend,
        settings.model,
        batch_size=settings.batch_size,
        dtype=settings.dtype,
        gpu_memory_utilization=settings.gpu_memory_utilization,
        tensor_parallel_size=settings.tensor_parallel_size,
        seed=settings.seed,
    )
    sampling = Sampling(
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_new_tokens=settings.max_new_tokens,
        seed=settings.seed,
    )
    prompts = [chat_prompt(generator.tokenizer, state.rows[i]["problem"], settings.system_prompt) for i in to_sample]
    completions = generator.generate(prompts, settings.k, sampling)
    state.generation.update(
        completions=generator.stats.completions,
        generated_tokens=generator.stats.tokens,
        tokens_per_s=round(generator.stats.tokens_per_s, 1),
        generation_s=round(generator.stats.seconds, 3),
    )
    return completions


def _judge(
    state: _Estimation, to_sample: list[int], completions: list[list[str]], settings: _Settings
) -> list[Verdict]:
    """Verify every completion against its row's gold; records the verdict counts and the verifier's time."""
    k = settings.k
    texts = [text for group in completions for text in group]
    flat_golds = [state.golds[index] for index in to_sample for _ in range(k)]
    problems = [state.rows[index]["problem"] for index in to_sample for _ in range(k)]
    verify_started = time.perf_counter()
    verdicts = judge_completions(
        texts,
        flat_golds,
        "difficulty",
        timeout_s=settings.verify_timeout_s,
        workers=settings.verify_workers,
        prompts=problems,
    )
    state.verify_s += time.perf_counter() - verify_started
    state.verdicts.update(verdict.name.lower() for verdict in verdicts)
    return verdicts


def _store_pass_rates(state: _Estimation, to_sample: list[int], verdicts: list[Verdict], settings: _Settings) -> None:
    """Store each sampled row's pass rate (correct / k); a row whose gold failed to parse this time is unparseable."""
    k = settings.k
    for position, index in enumerate(to_sample):
        group = verdicts[position * k : (position + 1) * k]
        if any(v is Verdict.GOLD_UNPARSEABLE for v in group):  # its parse timed out now, under load
            state.unparseable[index] = state.golds[index]
            continue
        rate = sum(v is Verdict.CORRECT for v in group) / k
        state.rates[index] = rate
        state.rows[index][settings.pass_rate_column] = rate
        state.rows[index]["pass_k"] = k


def _split_by_band(state: _Estimation, low: float, high: float) -> tuple[list[Row], list[Removal]]:
    """Keep the rows whose pass rate is in ``[low, high]``; remove the others as too easy, too hard or unparseable."""
    kept: list[Row] = []
    removed: list[Removal] = []
    for index, row in enumerate(state.rows):
        rate = state.rates[index]
        if index in state.unparseable:
            removed.append(Removal(row, REASON_UNPARSEABLE_GOLD, {"gold": _preview(state.unparseable[index])}))
        elif rate is None:  # not reached: every row is reused, sampled or unparseable
            raise AssertionError(f"difficulty: row {row.get('id')!r} got no pass rate")
        elif rate > high:
            removed.append(Removal(row, REASON_TOO_EASY, {"pass_rate": rate}))
        elif rate < low:
            removed.append(Removal(row, REASON_TOO_HARD, {"pass_rate": rate}))
        else:
            kept.append(row)
    return kept, removed


def _extra(
    state: _Estimation,
    settings: _Settings,
    band: tuple[float, float],
    to_sample: list[int],
    rows_reused: int,
    started: float,
) -> dict[str, Any]:
    """The step's ``extra``: model, k, band, row counts, pass-rate histogram, generation and verification stats."""
    rows_sampled = sum(index not in state.unparseable for index in to_sample)
    rates = [rate for rate in state.rates if rate is not None]
    return {
        "model": settings.model if to_sample else None,
        "backend": settings.backend if to_sample else None,
        "k": settings.k,
        "band": list(band),
        "rows_sampled": rows_sampled,
        "rows_reused": rows_reused,
        "pass_rate_histogram": _histogram(rates, settings.k if rows_sampled else None),
        **state.generation,
        "verdicts": dict(sorted(state.verdicts.items())),
        "verify_s": round(state.verify_s, 3),
        "wall_s": round(time.perf_counter() - started, 3),
    }


def _log_summary(extra: dict[str, Any], *, unparseable: int, kept: int, total: int) -> None:
    """Log how many rows were sampled, reused and unparseable, and how many of them the band kept."""
    low, high = extra["band"]
    logger.info(
        "difficulty: %d rows sampled (k=%d, %s tokens/s), %d reused, %d unparseable gold; kept %d of %d in [%g, %g]",
        extra["rows_sampled"],
        extra["k"],
        extra["tokens_per_s"],
        extra["rows_reused"],
        unparseable,
        kept,
        total,
        low,
        high,
    )


# --- helpers -------------------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _existing_rate(row: Row, column: str) -> float | None:
    """The row's pass rate when it has a usable one; ``None`` when it must be computed."""
    value = row.get(column)
    if value is None:
        return None
    if isinstance(value, np.generic):  # a numpy scalar, as pandas gives
        value = value.item()
    if not _is_number(value) or math.isnan(value):
        return None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"difficulty: row {row.get('id')!r} has {column}={value!r}, outside [0, 1]. Fix the data, or set "
            f"reuse_existing=false to recompute, or pass_rate_column to another column."
        )
    return float(value)


def _gold(row: Row, gold_column: str) -> str | None:
    """``row[gold_column]``, else ``row["solution"]``, as stripped text; ``None`` when neither has any."""
    for column in (gold_column, "solution"):
        value = row.get(column)
        text = None if value is None else str(value).strip()
        if text:
            return text
    return None


def _preview(gold: Any, limit: int = 200) -> str | None:
    return None if gold is None else str(gold)[:limit]


def _histogram(rates: list[float], k: int | None) -> dict[str, int]:
    """Rows per pass rate (rounded to 4 places), in increasing order; with ``k``, every multiple of 1/k is listed."""
    counts: Counter[float] = Counter(round(rate, 4) for rate in rates)
    if k is not None:
        for correct in range(k + 1):
            counts.setdefault(round(correct / k, 4), 0)
    return {f"{rate:g}": counts[rate] for rate in sorted(counts)}


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"difficulty: parameter '{name}' must be an integer >= {minimum}, got {value!r}")


def _check_number(name: str, value: Any) -> None:
    if not _is_number(value) or not math.isfinite(value):
        raise ConfigError(f"difficulty: parameter '{name}' must be a finite number, got {value!r}")


def _check_column(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"difficulty: parameter '{name}' must be a non-empty column name, got {value!r}")


def _validate(settings: _Settings) -> tuple[float, float]:
    """Check every parameter before any work; errors name the parameter. Returns the band as two floats."""
    model, backend, temperature, top_p = settings.model, settings.backend, settings.temperature, settings.top_p
    if not isinstance(model, str):
        raise ConfigError(f"difficulty: parameter 'model' must be a hub id, a local path or openrs-tiny, got {model!r}")
    if backend not in BACKENDS:
        raise ConfigError(f"difficulty: parameter 'backend' must be one of {list(BACKENDS)}, got {backend!r}")
    _check_int("k", settings.k, 1)
    _check_number("temperature", temperature)
    if temperature < 0:
        raise ConfigError(f"difficulty: parameter 'temperature' must be >= 0 (0: greedy), got {temperature!r}")
    _check_number("top_p", top_p)
    if not 0 < top_p <= 1:
        raise ConfigError(f"difficulty: parameter 'top_p' must be in (0, 1], got {top_p!r}")
    _check_int("max_new_tokens", settings.max_new_tokens, 1)
    low, high = _band_bounds(settings.band)
    _check_int("batch_size", settings.batch_size, 1)
    if settings.system_prompt is not None and not isinstance(settings.system_prompt, str):
        raise ConfigError(
            f"difficulty: parameter 'system_prompt' must be a string or null, got {settings.system_prompt!r}"
        )
    _check_column("gold_column", settings.gold_column)
    _check_column("pass_rate_column", settings.pass_rate_column)
    _check_int("seed", settings.seed, 0)
    _check_devices_and_verifier(settings)
    return low, high


def _band_bounds(band: Any) -> tuple[float, float]:
    """The band ``[low, high]`` as two floats, checked to satisfy ``0 <= low <= high <= 1``."""
    if isinstance(band, (str, bytes)) or not hasattr(band, "__iter__"):
        raise ConfigError(f"difficulty: parameter 'band' must be a pair [low, high], got {band!r}")
    band = list(band)
    if len(band) != 2 or not all(_is_number(b) and math.isfinite(b) for b in band):
        raise ConfigError(f"difficulty: parameter 'band' must be a pair of numbers [low, high], got {band!r}")
    low, high = float(band[0]), float(band[1])
    if not 0.0 <= low <= high <= 1.0:
        raise ConfigError(f"difficulty: parameter 'band' must satisfy 0 <= low <= high <= 1, got {band!r}")
    return low, high


def _check_devices_and_verifier(settings: _Settings) -> None:
    """Check the model's dtype, GPU memory share and tensor parallelism, and the verifier's time limit and workers."""
    dtype, memory, timeout_s = settings.dtype, settings.gpu_memory_utilization, settings.verify_timeout_s
    if dtype not in DTYPES:
        raise ConfigError(f"difficulty: parameter 'dtype' must be one of {list(DTYPES)}, got {dtype!r}")
    _check_number("gpu_memory_utilization", memory)
    if not 0 < memory <= 1:
        raise ConfigError(f"difficulty: parameter 'gpu_memory_utilization' must be in (0, 1], got {memory!r}")
    _check_int("tensor_parallel_size", settings.tensor_parallel_size, 1)
    _check_number("verify_timeout_s", timeout_s)
    if timeout_s <= 0:
        raise ConfigError(f"difficulty: parameter 'verify_timeout_s' must be positive, got {timeout_s!r}")
    if settings.verify_workers is not None:
        _check_int("verify_workers", settings.verify_workers, 0)
