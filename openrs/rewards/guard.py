"""Guards around a reward call: what it returns is checked on every call (one finite number or None per
completion), and a user-defined reward's exceptions and hangs are reported with the reward's name and the step.

TRL would turn a wrong length into its own ValueError, a string into a torch error deep in the step, and NaN into a
silently missing reward; a reward that never returns would hang the run. A time limit is enforced from a watchdog
thread that signals the main thread (SIGUSR2), so a reward that uses math-verify's own signal-based timeouts still
works; a call off the main thread (an async reward) runs without one.
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from openrs.errors import ConfigError

WATCHDOG_SIGNAL = signal.SIGUSR2


class RewardError(ConfigError):
    """A reward raised, returned something TRL cannot use, or ran past its time limit."""


def where(name: str, kwargs: dict[str, Any]) -> str:
    """`reward 'name' while training step N` (from TRL's trainer_state when there is one: its global_step counts
    the steps done, so the step being scored is the next one, the step metrics.jsonl would show for it)."""
    state = kwargs.get("trainer_state")
    done = None if getattr(state, "test_batch", False) else getattr(state, "global_step", None)
    return f"reward {name!r}" + (f" while training step {done + 1}" if done is not None else "")


def check_output(name: str, output: Any, expected: int, kwargs: dict[str, Any]) -> None:
    """One finite number (or None: no reward for that completion) per completion, in a list."""
    if not isinstance(output, list | tuple):
        raise RewardError(
            f"{where(name, kwargs)} returned {type(output).__name__} {short(output)}; a reward returns a list with "
            "one float (or None) per completion."
        )
    if len(output) != expected:
        raise RewardError(f"{where(name, kwargs)} returned {len(output)} values for {expected} completions; return one "
                          "per completion.")  # fmt: skip
    for index, value in enumerate(output):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise RewardError(f"{where(name, kwargs)} returned {short(value)} ({type(value).__name__}) for completion "
                              f"{index}; each value must be a float, or None for no reward.")  # fmt: skip
        if not math.isfinite(value):
            raise RewardError(f"{where(name, kwargs)} returned {value} for completion {index}; return a finite float, "
                              "or None when the completion cannot be scored.")  # fmt: skip


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def call_guarded(name: str, func: Callable[..., Any], time_limit_s: float | None, kwargs: dict[str, Any]) -> Any:
    """func(**kwargs); its exception, or running past `time_limit_s`, becomes a RewardError naming the reward."""
    try:
        with time_limit(time_limit_s, name, kwargs):
            return func(**kwargs)
    except RewardError:
        raise
    except SystemExit as err:  # a reward must not end the run, least of all with exit code 0
        raise RewardError(f"{where(name, kwargs)} called sys.exit({err.code})") from err
    except Exception as err:
        raise RewardError(f"{where(name, kwargs)} raised {type(err).__name__}: {err}") from err


class time_limit:  # noqa: N801 - used as a context manager
    """Raise RewardError in the main thread when the block runs past `seconds` (no limit off the main thread)."""

    def __init__(self, seconds: float | None, name: str, kwargs: dict[str, Any]) -> None:
        on_main = threading.current_thread() is threading.main_thread()
        self.seconds = seconds if on_main else None
        self.message = f"{where(name, kwargs)} did not return within reward.time_limit_s={seconds} s"
        self.done = False

    def __enter__(self) -> time_limit:
        if self.seconds is None:
            return self
        self.previous = signal.signal(WATCHDOG_SIGNAL, self.interrupt)
        main_id = threading.main_thread().ident
        self.timer = threading.Timer(self.seconds, signal.pthread_kill, args=(main_id, WATCHDOG_SIGNAL))
        self.timer.daemon = True
        self.timer.start()
        return self

    def interrupt(self, signum: int, frame: Any) -> None:
        if not self.done:  # a signal that raced the block's end is ignored
            raise RewardError(self.message + "; fix the reward or raise the limit.")

    def __exit__(self, *exc: Any) -> None:
        if self.seconds is None:
            return
        self.done = True
        self.timer.cancel()
        self.timer.join()  # a signal already sent is handled (ignored) before the old handler returns
        signal.signal(WATCHDOG_SIGNAL, self.previous if self.previous is not None else signal.SIG_DFL)


def sample_batch(max_steps: int) -> dict[str, Any]:
    """A small batch as TRL passes it to a reward: conversational prompts and completions, token ids, the dataset's
    `solution` column, and the trainer hooks (a stand-in trainer_state at step 0)."""
    prompt = [{"role": "user", "content": "What is 1+1?"}]
    texts = ["<think>\n1+1=2\n</think>\n<answer>\n\\boxed{2}\n</answer>", "The answer is \\boxed{3}.", ""]
    return {
        "prompts": [prompt] * len(texts),
        "completions": [[{"role": "assistant", "content": text}] for text in texts],
        "completion_ids": [list(range(len(text.split()))) for text in texts],
        "solution": ["\\boxed{2}"] * len(texts),
        "trainer_state": SimpleNamespace(
            global_step=0, max_steps=max_steps, epoch=0.0, log_history=[], test_batch=True
        ),
        "log_metric": lambda *args, **kwargs: None,
        "log_extra": lambda *args, **kwargs: None,
    }
