"""Bounded-time math verification in a pool of worker processes.

math-verify bounds its own work with ``signal.alarm``, which only works in a process's main thread and cannot
interrupt C code (``9^{9^{9^{9^9}}}`` evaluates inside CPython's integer power). TRL may call rewards from any
thread, and one stuck completion must not stall a training step. So verification runs in worker processes:

* Each distinct gold of a batch becomes one task, so a worker parses the gold once and then judges that group's
  completions one by one, reporting after each. When there are fewer golds than 4 tasks per worker, a gold's
  completions are split into smaller tasks so that slow items spread over the workers; each worker keeps the golds it
  parsed (an LRU cache), so a gold is parsed at most once per worker.
* **Hard limit**: the parent gives every item (the gold parse, then each completion) ``timeout_s`` seconds, counted
  from the previous report. A worker that overruns is killed (``SIGKILL``) and replaced; its item is ``TIMEOUT`` and
  the rest of its task goes back to the queue. A worker that dies (segfault, out of memory) gives ``ERROR``.
* **Soft limit**: inside the worker a ``SIGALRM`` timer at 90% of the limit interrupts Python-level work (most slow
  sympy cases) so the worker reports ``TIMEOUT`` and lives on, avoiding a respawn.
* Workers are fresh interpreters (:mod:`openrs.rewards.verify_worker`, about 0.5 s to start), never a ``fork`` of
  the training process (which holds threads and, on GPU, CUDA state), and unlike multiprocessing's spawn they do not
  re-run the caller's ``__main__``. They live in their own session, so Ctrl-C reaches only the parent, and exit when
  the parent's pipe closes. A task is only handed to a worker once it reports ready, so start-up time never counts
  against an item.
* Verdicts are cached in the parent by ``(gold, completion)``, so rewards that judge the same batch (``accuracy`` and
  ``cosine`` together) pay once; golds that failed are remembered and not parsed again.

``workers=0`` judges in the calling process instead: only the soft limit applies, and only in the main thread. It is
for debugging; it is also used automatically inside daemonic processes, which may not start children.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

import openrs
from openrs.rewards.math_verify_utils import GoldCache, Verdict, judge_group

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "VerifierPool",
    "check_golds",
    "default_workers",
    "get_pool",
    "judge_batch",
    "judge_outcomes",
    "shutdown_pools",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
SOFT_LIMIT_FRACTION = 0.9
TASKS_PER_WORKER = 4
MAX_AUTO_WORKERS = 8
STARTUP_TIMEOUT_S = 120.0
_VERDICT_CACHE_SIZE = 16_384
_GOLD_FAILED = "\x00gold"  # second key part for a gold's own failure in the verdict cache


def default_workers() -> int:
    """Usable cores divided among the training processes on this node (``LOCAL_WORLD_SIZE``), at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    local_processes = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, min(MAX_AUTO_WORKERS, cores // local_processes))


Outcome = tuple[Verdict, str | None]  # the verdict and the extracted answer's key (for majority votes)


@dataclass
class _Task:
    task_id: int
    gold: str
    scheme: str
    texts: list[str]
    positions: list[list[int]]  # where each (distinct) text's verdict goes in the caller's result list;
    # a gold-only task (no texts, see VerifierPool.check_golds) holds its gold's own result slot here


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    inbox: Connection  # worker -> parent
    outbox: Connection  # parent -> worker
    ready: bool = False
    started_at: float = field(default_factory=time.monotonic)
    task: _Task | None = None
    next_index: int = -1  # -1: the gold is being parsed
    deadline: float = math.inf


def _worker_env() -> dict[str, str]:
    """The parent's environment, with the directory holding ``openrs`` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    package_root = str(Path(openrs.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


class VerifierPool:
    """``workers`` processes judging completions under a per-item time limit. Thread-safe (calls are serialised)."""

    def __init__(self, workers: int, soft_limit_fraction: float | None = SOFT_LIMIT_FRACTION) -> None:
        if workers < 1:
            raise ValueError(f"VerifierPool needs at least one worker, got {workers}")
        self.size = workers
        self.soft_limit_fraction = soft_limit_fraction  # None: only the hard limit (the kill)
        self.owner_pid = os.getpid()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._next_task_id = 0
        self._verdicts: OrderedDict[tuple[str, str, str], Outcome] = OrderedDict()
        self.kills = 0  # workers killed for overrunning, over the pool's life

    # -- worker management --

    def _start_worker(self) -> _Worker:
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "openrs.rewards.verify_worker", str(to_child_r), str(to_parent_w)],
                pass_fds=(to_child_r, to_parent_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=_worker_env(),
                start_new_session=True,
            )
        finally:
            os.close(to_child_r)
            os.close(to_parent_w)
        return _Worker(
            process=process,
            inbox=Connection(to_parent_r, writable=False),
            outbox=Connection(to_child_w, readable=False),
        )

    def _stop_worker(self, worker: _Worker) -> None:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait(timeout=10)
        worker.inbox.close()
        worker.outbox.close()
        self._workers.remove(worker)

    def warm_up(self) -> None:
        """Start the workers and wait until every one is ready (so that benchmarks and tests time judging only)."""
        with self._lock:
            while len(self._workers) < self.size:
                self._workers.append(self._start_worker())
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not all(worker.ready for worker in self._workers):
                starting = [worker for worker in self._workers if not worker.ready]
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(starting)} openrs verification worker(s) did not start")
                for conn in wait([worker.inbox for worker in starting], timeout=max(0.0, deadline - time.monotonic())):
                    worker = next(w for w in starting if w.inbox is conn)
                    if not self._drain(worker, [], 0.0):
                        raise RuntimeError("an openrs verification worker died while starting; see its error above")

    def close(self) -> None:
        """Stop all workers."""
        for worker in list(self._workers):
            try:
                worker.outbox.send(None)
            except OSError:
                pass
            self._stop_worker(worker)

    # -- verdict cache --

    def _cached(self, key: tuple[str, str, str]) -> Outcome | None:
        outcome = self._verdicts.get(key)
        if outcome is not None:
            self._verdicts.move_to_end(key)
        return outcome

    def _remember(self, key: tuple[str, str, str], outcome: Outcome) -> None:
        self._verdicts[key] = outcome
        self._verdicts.move_to_end(key)
        while len(self._verdicts) > _VERDICT_CACHE_SIZE:
            self._verdicts.popitem(last=False)

    # -- judging --

    def judge(
        self, golds: Sequence[str | None], texts: Sequence[str], timeout_s: float, scheme: str = "recipe"
    ) -> list[Verdict]:
        """One verdict per ``(gold, text)`` pair; a ``None`` gold is ``GOLD_UNPARSEABLE``. Never raises for content."""
        return [verdict for verdict, _ in self.judge_outcomes(golds, texts, timeout_s, scheme)]

    def judge_outcomes(
        self, golds: Sequence[str | None], texts: Sequence[str], timeout_s: float, scheme: str = "recipe"
    ) -> list[Outcome]:
        """:meth:`judge` with each completion's extracted answer key (None when nothing was extracted)."""
        if len(golds) != len(texts):
            raise ValueError(f"got {len(texts)} completions but {len(golds)} gold answers")
        with self._lock:
            results: list[Outcome | None] = [None] * len(texts)
            # gold -> distinct text -> positions: identical completions of one prompt are judged once
            groups: dict[str, dict[str, list[int]]] = {}
            for position, (gold, text) in enumerate(zip(golds, texts, strict=True)):
                if gold is None:
                    results[position] = (Verdict.GOLD_UNPARSEABLE, None)
                    continue
                cached = self._cached((scheme, gold, _GOLD_FAILED)) or self._cached((scheme, gold, text))
                if cached is not None:
                    results[position] = cached
                else:
                    groups.setdefault(gold, {}).setdefault(text, []).append(position)
            if groups:
                self._run(self._make_tasks(groups, scheme), results, timeout_s)
                for gold, by_text in groups.items():
                    for text, positions in by_text.items():
                        outcome = results[positions[0]]
                        if outcome is not None and outcome[0] is not Verdict.GOLD_UNPARSEABLE:
                            self._remember((scheme, gold, text), outcome)
            return [(Verdict.ERROR, None) if outcome is None else outcome for outcome in results]

    def check_golds(self, golds: Sequence[str | None], timeout_s: float, scheme: str = "recipe") -> list[bool]:
        """Whether each gold parses to an answer (each distinct gold parsed once, under the time limit)."""
        with self._lock:
            distinct = list(dict.fromkeys(g for g in golds if g is not None))
            results: list[Outcome | None] = [None] * len(distinct)
            pending: deque[_Task] = deque()
            for slot, gold in enumerate(distinct):
                if self._cached((scheme, gold, _GOLD_FAILED)) is not None:
                    results[slot] = (Verdict.GOLD_UNPARSEABLE, None)
                else:
                    pending.append(self._task(gold, scheme, [], [[slot]]))
            if pending:
                self._run(pending, results, timeout_s)
            parsed = {gold: (results[slot] or (None,))[0] is Verdict.CORRECT for slot, gold in enumerate(distinct)}
            return [gold is not None and parsed[gold] for gold in golds]

    def _make_tasks(self, groups: dict[str, dict[str, list[int]]], scheme: str = "recipe") -> deque[_Task]:
        """One task per gold; with fewer golds than ``TASKS_PER_WORKER`` x workers a gold's completions are split,
        so that a few slow completions of one prompt do not queue behind each other while workers sit idle."""
        chunks_per_group = max(1, math.ceil(self.size * TASKS_PER_WORKER / len(groups)))
        tasks: deque[_Task] = deque()
        for gold, by_text in groups.items():
            texts, positions = list(by_text), list(by_text.values())
            chunk = max(1, math.ceil(len(texts) / chunks_per_group))
            for start in range(0, len(texts), chunk):
                tasks.append(self._task(gold, scheme, texts[start : start + chunk], positions[start : start + chunk]))
        return tasks

    def _task(self, gold: str, scheme: str, texts: list[str], positions: list[list[int]]) -> _Task:
        self._next_task_id += 1
        return _Task(self._next_task_id, gold, scheme, texts, positions)

    def _run(self, pending: deque[_Task], results: list[Outcome | None], timeout_s: float) -> None:
        soft_limit_s = None if self.soft_limit_fraction is None else timeout_s * self.soft_limit_fraction
        failed_starts = 0
        while pending or any(worker.task is not None for worker in self._workers):
            while len(self._workers) < self.size:
                self._workers.append(self._start_worker())
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.ready and worker.task is None and pending:
                    task = pending.popleft()
                    try:
                        worker.outbox.send((task.task_id, task.gold, task.texts, soft_limit_s, task.scheme))
                    except OSError:  # died while idle
                        pending.appendleft(task)
                        self._stop_worker(worker)
                        continue
                    worker.task, worker.next_index, worker.deadline = task, -1, now + timeout_s
            waiting = [worker for worker in self._workers if worker.task is not None or not worker.ready]
            if not waiting:  # every idle worker was found dead: start replacements
                continue
            next_deadline = min(
                [w.deadline for w in waiting if w.task is not None]
                + [w.started_at + STARTUP_TIMEOUT_S for w in waiting if not w.ready]
            )
            ready = wait([worker.inbox for worker in waiting], timeout=max(0.0, next_deadline - time.monotonic()))
            by_conn = {id(worker.inbox): worker for worker in waiting}
            for conn in ready:
                worker = by_conn[id(conn)]
                if not self._drain(worker, results, timeout_s):
                    failed_starts += 0 if worker.ready else 1
                    self._fail_current(worker, Verdict.ERROR, results, pending)
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.task is not None and now > worker.deadline:
                    self.kills += 1
                    self._fail_current(worker, Verdict.TIMEOUT, results, pending)
                elif not worker.ready and now > worker.started_at + STARTUP_TIMEOUT_S:
                    failed_starts += 1
                    self._stop_worker(worker)
            if failed_starts >= 3:
                raise RuntimeError(
                    "openrs verification workers failed to start 3 times; use the reward param workers=0 to verify "
                    "in-process (no hard time limit) and see the worker's error above."
                )

    def _drain(self, worker: _Worker, results: list[Outcome | None], timeout_s: float) -> bool:
        """Read every message the worker has sent; False when it has died."""
        try:
            while worker.inbox.poll():
                message = worker.inbox.recv()
                if message == "ready":
                    worker.ready = True
                    continue
                task_id, index, code, answer = message
                task = worker.task
                if task is None or task_id != task.task_id:
                    continue  # a late report from a task already given up on
                verdict = Verdict(code)
                if index < 0:
                    if verdict is not Verdict.CORRECT:  # the gold failed: every completion shares it
                        self._fail_gold(task, results, remember=verdict is Verdict.GOLD_UNPARSEABLE)
                        worker.task = None
                        continue
                    if not task.texts:  # a gold-only task: CORRECT means the gold parsed
                        self._set(results, task.positions[0], (Verdict.CORRECT, None))
                else:
                    self._set(results, task.positions[index], (verdict, answer))
                worker.next_index = index + 1
                worker.deadline = time.monotonic() + timeout_s
                if worker.next_index >= len(task.texts):
                    worker.task = None
        except (EOFError, OSError):
            return False
        return True

    @staticmethod
    def _set(results: list[Outcome | None], positions: list[int], outcome: Outcome) -> None:
        for position in positions:
            results[position] = outcome

    def _fail_gold(self, task: _Task, results: list[Outcome | None], remember: bool) -> None:
        """Every completion of the task shares its gold's failure; only a gold that truly parses to nothing is
        remembered (a timeout may be the machine's load, so that gold is tried again in the next call)."""
        if remember:
            self._remember((task.scheme, task.gold, _GOLD_FAILED), (Verdict.GOLD_UNPARSEABLE, None))
        for positions in task.positions:
            self._set(results, positions, (Verdict.GOLD_UNPARSEABLE, None))

    def _fail_current(
        self, worker: _Worker, verdict: Verdict, results: list[Outcome | None], pending: deque[_Task]
    ) -> None:
        """Kill ``worker``; its current item gets ``verdict`` and the rest of its task is queued again."""
        task, index = worker.task, worker.next_index
        self._stop_worker(worker)
        if task is None:
            return
        if index < 0:  # the gold itself overran or crashed the worker
            self._fail_gold(task, results, remember=False)
            what = "timed out" if verdict is Verdict.TIMEOUT else "crashed a verification worker"
            logger.warning("Parsing the gold answer %r %s; its completions get reward None.", task.gold[:200], what)
            return
        self._set(results, task.positions[index], (verdict, None))
        if index + 1 < len(task.texts):
            rest = self._task(task.gold, task.scheme, task.texts[index + 1 :], task.positions[index + 1 :])
            pending.appendleft(rest)


_POOLS: dict[int, VerifierPool] = {}
_POOLS_LOCK = threading.Lock()


def get_pool(workers: int) -> VerifierPool:
    """The process-wide pool with ``workers`` workers (created on first use, recreated in a forked child)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None or pool.owner_pid != os.getpid():
            pool = _POOLS[workers] = VerifierPool(workers)
        return pool


def shutdown_pools() -> None:
    """Stop every pool's workers (also registered at exit)."""
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            if pool.owner_pid == os.getpid():
                pool.close()
        _POOLS.clear()


def _judge_inline(
    golds: Sequence[str | None], texts: Sequence[str], timeout_s: float, scheme: str = "recipe"
) -> list[Outcome]:
    results: list[Outcome] = [(Verdict.GOLD_UNPARSEABLE, None)] * len(texts)
    groups: dict[str, list[int]] = {}
    for position, gold in enumerate(golds):
        if gold is not None:
            groups.setdefault(gold, []).append(position)
    cache = GoldCache()
    for gold, positions in groups.items():

        def emit(index: int, verdict: Verdict, answer: str | None, positions: list[int] = positions) -> None:
            if index >= 0:
                results[positions[index]] = (verdict, answer)

        judge_group(gold, [texts[p] for p in positions], emit, cache, timeout_s, scheme)
    return results


def _inline(workers: int | None) -> tuple[bool, int]:
    workers = default_workers() if workers is None else workers
    return workers == 0 or multiprocessing.current_process().daemon, workers


def check_golds(
    golds: Sequence[str | None],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    scheme: str = "recipe",
) -> list[bool]:
    """Whether each gold parses to an answer, with the same limits and pool as :func:`judge_batch`."""
    inline, workers = _inline(workers)
    if not inline:
        return get_pool(workers).check_golds(golds, timeout_s, scheme)
    outcome: dict[str, bool] = {}
    cache = GoldCache()
    for gold in dict.fromkeys(g for g in golds if g is not None):

        def emit(index: int, verdict: Verdict, answer: str | None, gold: str = gold) -> None:
            outcome[gold] = verdict is Verdict.CORRECT

        judge_group(gold, [], emit, cache, timeout_s, scheme)
    return [gold is not None and outcome[gold] for gold in golds]


def judge_outcomes(
    golds: Sequence[str | None],
    texts: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    scheme: str = "recipe",
) -> list[Outcome]:
    """Judge each text against its gold (scheme: see ``math_verify_utils.SCHEMES``) with a pool of ``workers``
    (``None``: :func:`default_workers`; 0: in-process): the verdict and the extracted answer's key per text."""
    inline, workers = _inline(workers)
    if inline:
        return _judge_inline(golds, texts, timeout_s, scheme)
    return get_pool(workers).judge_outcomes(golds, texts, timeout_s, scheme)


def judge_batch(
    golds: Sequence[str | None],
    texts: Sequence[str],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None,
    scheme: str = "recipe",
) -> list[Verdict]:
    """:func:`judge_outcomes` without the answers."""
    return [verdict for verdict, _ in judge_outcomes(golds, texts, timeout_s=timeout_s, workers=workers, scheme=scheme)]


import atexit  # noqa: E402  (registered after the definitions it calls)

atexit.register(shutdown_pools)
