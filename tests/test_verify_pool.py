"""Bounded-time verification: adversarial completions, hung and dead workers, threads, batching.

No wall-time asserts here (shared 2-core machines make them flaky): an item past the limit shows as a TIMEOUT verdict,
a kill in `pool.kills` and a replaced worker process. The latency per adversarial item is measured by
`benchmarks/rewards.py` (its "adversarial" workload).
"""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from openrs.rewards import get_reward
from openrs.rewards.math_verify_utils import Verdict
from openrs.rewards.verify_pool import VerifierPool, check_golds, default_workers, get_pool

LIMIT_S = 1.0


class MetricSink:
    def __init__(self) -> None:
        self.values: dict[str, list[float]] = defaultdict(list)

    def __call__(self, name: str, value: float) -> None:
        self.values[name].append(value)


ADVERSARIAL = {
    "power_tower": "Thus \\boxed{9^{9^{9^{9^{9}}}}}",
    "nested_braces_1mb": "{" * 500_000 + "}" * 500_000,
    "boxed_nested_braces": "\\boxed{" + "{" * 100_000 + "1" + "}" * 100_000 + "}",
    "digits_100k": "\\boxed{" + "7" * 100_000 + "}",
    "digits_100k_power": "\\boxed{" + "7" * 100_000 + "^{" + "9" * 1000 + "}}",
    "malformed_latex": "\\boxed{\\frac{1}{\\sqrt{}}}\\left( \\begin{matrix} 1 & \\\\ \\end{pmatrix} ^^_ \\boxed{",
    "unclosed_boxed": "The answer is \\boxed{\\frac{420",
    "empty": "",
    "non_utf8_junk": b"\xff\xfe\x00\x9f\xc3\x28\xa0\xa1\xe2\x28\xa1 \\boxed{\xf0\x28\x8c\xbc}".decode(
        "utf-8", "surrogateescape"
    ),
    "control_chars": "\x00\x01\x1b[31m\\boxed{\x00}\u202e\ufffd",
}
UNBOUNDED = {"power_tower", "boxed_nested_braces"}  # sympy / the parser would run for ever: always cut at the limit
QUICK = {"control_chars", "empty", "malformed_latex", "non_utf8_junk", "unclosed_boxed"}  # ~0.02 s: never cut
# the rest (1 MB of braces, 100k digits) take a good part of the limit: cut or judged, depending on the machine


@pytest.fixture(scope="module")
def warm_accuracy():
    """A shared 2-worker pool, started before timing so start-up never counts."""
    accuracy = get_reward("accuracy", timeout_s=LIMIT_S, workers=2)
    get_pool(2).warm_up()
    assert accuracy(["\\boxed{1}"], solution=["1"]) == [1.0]
    return accuracy


@pytest.fixture()
def own_pool() -> Iterator[VerifierPool]:
    pool = VerifierPool(2)
    yield pool
    pool.close()


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_completion_is_cut_at_the_limit_or_judged_and_scores_zero(warm_accuracy, name: str):
    sink = MetricSink()
    # the gold is written as an expression, so the completion reaches sympy (a number gold refuses `9^{9^...}` at
    # once: see test_a_number_gold_refuses_the_tower_without_computing_it)
    rewards = warm_accuracy([ADVERSARIAL[name]], solution=[f"{420 + len(name)} + 0"], log_metric=sink)
    assert rewards == [0.0]
    assert sink.values["accuracy/verify_errors"] == [0]
    if name in UNBOUNDED:
        assert sink.values["accuracy/verify_timeouts"] == [1]
    elif name in QUICK:
        assert sink.values["accuracy/verify_timeouts"] == [0]


def test_a_number_gold_refuses_the_tower_without_computing_it(warm_accuracy):
    sink = MetricSink()
    assert warm_accuracy([ADVERSARIAL["power_tower"]], solution=["421"], log_metric=sink) == [0.0]
    assert sink.values["accuracy/verify_timeouts"] == [0]  # judged wrong before sympy is asked, not cut at the limit


def test_adversarial_batch_is_bounded_and_correct_answers_still_score(warm_accuracy):
    completions = list(ADVERSARIAL.values()) + ["so \\boxed{421}"]
    golds = ["421 + 0"] * len(completions)  # an expression gold: the tower reaches sympy
    sink = MetricSink()
    rewards = warm_accuracy(completions, solution=golds, log_metric=sink)
    assert rewards == [0.0] * len(ADVERSARIAL) + [1.0]  # the items cut at the limit do not take the others down
    assert len(UNBOUNDED) <= sink.values["accuracy/verify_timeouts"][0] <= len(ADVERSARIAL) - len(QUICK)


def test_verification_from_worker_threads_is_bounded(warm_accuracy):
    sinks = [MetricSink(), MetricSink()]
    with ThreadPoolExecutor(max_workers=2) as executor:
        futures = [
            executor.submit(
                warm_accuracy, [ADVERSARIAL["power_tower"], "\\boxed{7}"], solution=["7+0"] * 2, log_metric=sink
            )
            for sink in sinks
        ]
        results = [future.result(timeout=60) for future in futures]
    assert results == [[0.0, 1.0], [0.0, 1.0]]  # calls from two threads share the pool and each gets its own verdicts
    assert [sink.values["accuracy/verify_timeouts"] for sink in sinks] == [[1], [1]]


def _signal_workers(pool: VerifierPool, signum: int) -> list[int]:
    pids = [worker.process.pid for worker in pool._workers]
    for pid in pids:
        os.kill(pid, signum)
    return pids


def test_item_past_the_limit_is_killed_and_the_rest_of_its_task_goes_on():
    pool = VerifierPool(2, soft_limit_fraction=None)  # no soft timer: only the parent's kill can stop the tower
    try:
        pool.warm_up()
        first_pids = {worker.process.pid for worker in pool._workers}
        tower = ADVERSARIAL["power_tower"]
        texts = [tower, "\\boxed{3}", "\\boxed{4}", tower + " ", "\\boxed{5}", "\\boxed{3}"]
        verdicts = pool.judge(["3 + 0"] * 6, texts, LIMIT_S)  # an expression gold: the tower reaches sympy
        # One task per text: each tower is killed at the limit while the other worker judges the rest.
        timeout, correct, wrong = Verdict.TIMEOUT, Verdict.CORRECT, Verdict.WRONG
        assert verdicts == [timeout, correct, wrong, timeout, wrong, correct]
        assert pool.kills == 2
        # the second tower went to the other worker while the first was stuck: both original processes were killed
        # (run one after the other on one worker, the other worker would have survived)
        assert len(first_pids) == 2 and not first_pids & {worker.process.pid for worker in pool._workers}
    finally:
        pool.close()


def test_hung_worker_during_gold_parse_gives_none_and_the_gold_is_tried_again(own_pool: VerifierPool):
    own_pool.warm_up()
    stopped = _signal_workers(own_pool, signal.SIGSTOP)  # a stopped process answers nothing, like one stuck in C
    verdicts = own_pool.judge(["3"] * 4, ["\\boxed{3}"] * 2 + ["\\boxed{4}"] * 2, LIMIT_S)
    assert verdicts == [Verdict.GOLD_UNPARSEABLE] * 4
    assert own_pool.kills == 2
    assert not any(worker.process.pid in stopped for worker in own_pool._workers)
    # A gold that timed out is not remembered as unparseable: fresh workers judge it next time.
    assert own_pool.judge(["3", "3"], ["\\boxed{3}", "\\boxed{4}"], LIMIT_S) == [Verdict.CORRECT, Verdict.WRONG]


def test_dead_workers_are_replaced_without_losing_items(own_pool: VerifierPool):
    own_pool.warm_up()
    _signal_workers(own_pool, signal.SIGKILL)
    time.sleep(0.2)
    texts = ["\\boxed{5}", "\\boxed{6}", "\\boxed{5}", "no answer"]
    assert own_pool.judge(["5", "5", "6", "5"], texts, LIMIT_S) == [
        Verdict.CORRECT,
        Verdict.WRONG,
        Verdict.WRONG,
        Verdict.NO_ANSWER,
    ]


def test_repeated_pairs_are_answered_from_the_cache(own_pool: VerifierPool):
    texts, golds = ["\\boxed{2}", "\\boxed{3}"], ["2", "2"]
    assert own_pool.judge(golds, texts, LIMIT_S) == [Verdict.CORRECT, Verdict.WRONG]
    _signal_workers(own_pool, signal.SIGSTOP)  # a cache miss would now reach a stopped worker: a timeout and a kill
    assert own_pool.judge(golds, texts, LIMIT_S) == [Verdict.CORRECT, Verdict.WRONG]
    assert own_pool.kills == 0


def test_unparseable_gold_is_not_sent_again(own_pool: VerifierPool):
    assert own_pool.judge(["see figure", None], ["\\boxed{1}", "\\boxed{1}"], LIMIT_S) == [
        Verdict.GOLD_UNPARSEABLE,
        Verdict.GOLD_UNPARSEABLE,
    ]
    _signal_workers(own_pool, signal.SIGSTOP)
    assert own_pool.judge(["see figure"], ["\\boxed{2}"], LIMIT_S) == [Verdict.GOLD_UNPARSEABLE]
    assert own_pool.kills == 0


def test_tasks_group_by_gold_split_across_workers_and_judge_duplicates_once():
    groups = {"7": {"a": [0, 2], "b": [1], "c": [3], "d": [4]}, "8": {"e": [5], "f": [6]}}
    # 1 worker: 4 tasks wanted, 2 golds -> each gold's distinct texts in 2 chunks; "a" (twice in the batch) once
    tasks = list(VerifierPool(1)._make_tasks(groups))  # no worker is started until judge() runs
    assert [(t.gold, t.texts) for t in tasks] == [("7", ["a", "b"]), ("7", ["c", "d"]), ("8", ["e"]), ("8", ["f"])]
    assert tasks[0].positions == [[0, 2], [1]]
    # many golds per worker: one task per gold
    many = {str(i): {f"t{i}-{j}": [8 * i + j] for j in range(8)} for i in range(16)}
    assert [len(t.texts) for t in VerifierPool(2)._make_tasks(many)] == [8] * 16


def test_default_workers_divides_cores_among_local_processes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(32)), raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert default_workers() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")
    assert default_workers() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    assert default_workers() == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert default_workers() == 1


def test_shared_pool_is_per_worker_count():
    assert get_pool(2) is get_pool(2)
    assert get_pool(2) is not get_pool(3)
    get_pool(3).close()


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"timeout_s": 0}, "'timeout_s' must be positive"),
        ({"timeout_s": "5"}, "'timeout_s' must be a finite number"),
        ({"workers": -1}, "'workers' must be null"),
        ({"workers": 1.5}, "'workers' must be null"),
    ],
)
@pytest.mark.parametrize("name", ["accuracy", "cosine", "length"])
def test_bad_verification_params(name: str, params: dict, pattern: str):
    with pytest.raises(ValueError, match=pattern):
        get_reward(name, **params)


@pytest.mark.parametrize("workers", [0, 2])
def test_check_golds_says_which_golds_parse(workers: int):
    golds = ["420", "see figure", None, "\\frac{1}{9}", "420", "", "The answer is $\\boxed{7}$."]
    assert check_golds(golds, workers=workers, timeout_s=LIMIT_S) == [True, False, False, True, True, False, True]
