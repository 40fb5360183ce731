"""A verification worker process: ``python -m openrs.rewards.verify_worker READ_FD WRITE_FD``.

Started by :class:`openrs.rewards.verify_pool.VerifierPool` as a fresh interpreter (never a fork of the training
process, and without re-running the caller's ``__main__`` as multiprocessing's spawn/forkserver would). Protocol over
two :class:`multiprocessing.connection.Connection` pipes: it sends ``"ready"`` once imported, then for every
``(task_id, gold, texts, soft_limit_s, scheme)`` received sends ``(task_id, index, verdict, answer)`` per step of
:func:`openrs.rewards.math_verify_utils.judge_group`. ``None`` or a closed pipe ends it.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from openrs.rewards.math_verify_utils import GoldCache, Verdict, judge_group


def serve(inbox: Connection, outbox: Connection) -> None:
    """Judge tasks from ``inbox`` until it closes or sends ``None``."""
    cache = GoldCache()
    outbox.send("ready")
    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        task_id, gold, texts, soft_limit_s, scheme = message

        def emit(index: int, verdict: Verdict, answer: str | None, task_id: int = task_id) -> None:
            outbox.send((task_id, index, int(verdict), answer))

        judge_group(gold, texts, emit, cache, soft_limit_s, scheme)


def main(argv: list[str]) -> None:
    read_fd, write_fd = (int(fd) for fd in argv)
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False))


if __name__ == "__main__":
    main(sys.argv[1:])
