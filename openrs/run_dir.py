"""Who owns a run directory, and what a resumed run keeps of its earlier attempts.

One process writes a run dir at a time (an advisory lock, released by the kernel when the process dies, even by
SIGKILL); a fresh run never writes into a dir holding another run's records; a resumed run must have the settings of
the run it continues; and its records are rewound to the checkpoint it resumes from, the superseded lines kept aside.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from openrs.errors import ConfigError

LOCK_FILE = ".openrs.lock"
#: Records appended step by step; a resumed run rewinds them to its checkpoint's step.
STEP_RECORDS = ("metrics.jsonl", "completions.jsonl")
#: Keys that may differ between a run and its resumption: how it is launched, logged, evaluated, watched and priced,
#: and train.max_steps (a finished run may be continued to train longer). Everything else is what it trains.
NOT_SETTINGS = ("resume", "dry_run", "logger", "eval", "cost", "guard", "memory", "train.max_steps")
#: How a run ended on purpose: the same command does not resume it (resume=<run dir> does).
ENDED = ("completed", "stopped")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON whole or not at all (a temporary file renamed over the old one): a kill never leaves half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, path)


#: How a run that recorded `running` is shown once no process owns its dir any more (SIGKILL, preemption, OOM).
KILLED = "killed"


def _lock_now(handle: Any, mode: int, patience_s: float = 1.0) -> bool:
    """Take an flock without blocking, retrying for `patience_s` (a status probe may hold it for an instant)."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


class RunDirLock:
    """An exclusive lock on a run dir for this process's lifetime; a second writer is refused with who holds it."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / LOCK_FILE
        self.handle = self.path.open("a+")
        if not _lock_now(self.handle, fcntl.LOCK_EX):
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise ConfigError(
                f"{run_dir} is in use by another openrs run ({holder}). Two runs in one directory would mix their "
                "records: wait for it to end, stop it, or write this run elsewhere (hydra.run.dir=...)."
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        self.handle.flush()

    def release(self) -> None:
        if not self.handle.closed:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def owned(run_dir: Path) -> bool | None:
    """Whether a live process holds the run dir's lock (the kernel drops it when its holder dies, even by SIGKILL);
    None when the dir has no lock file (a run from before locks, or not an openrs run)."""
    path = Path(run_dir) / LOCK_FILE
    try:
        handle = path.open("r")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def live_status(run_dir: Path, recorded: str | None) -> str | None:
    """The recorded status, except that a `running` run nobody owns any more is `killed`."""
    return KILLED if recorded == "running" and owned(run_dir) is False else recorded


def settings(config: dict[str, Any]) -> dict[str, Any]:
    """The config without the NOT_SETTINGS keys."""
    kept = json.loads(json.dumps(config, default=str))
    for key in NOT_SETTINGS:
        *parents, leaf = key.split(".")
        node = kept
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return kept


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """`key: old -> new` for each leaf that differs between two nested configs. An option a later openrs added, unset
    (null) here, is no difference from a record made before it existed."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old and new[key] is None:
                continue
            found += differences(old.get(key, "<absent>"), new.get(key, "<absent>"), f"{prefix}{key}.")
        return found
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return summary if isinstance(summary, dict) else None


def claim_run_dir(run_dir: Path, config: dict[str, Any], resuming: bool) -> bool:
    """Refuse a run into a dir that holds another run's records (a completed run, or one with other settings).
    Returns True when the dir holds an unfinished run of the same settings that saved no checkpoint: it restarts."""
    summary = read_summary(run_dir)
    if summary is None and not (run_dir / "metrics.jsonl").exists():
        return False
    if not resuming and trained_nothing(run_dir):  # an attempt that failed before its first step: nothing to mix
        if summary is not None:
            os.replace(run_dir / "summary.json", run_dir / f"summary.{time.strftime('%Y%m%d-%H%M%S')}.superseded.json")
        return False
    held = f"run {summary.get('run_name')!r} ({summary.get('status')})" if summary else "another run's records"
    elsewhere = "write this run elsewhere (hydra.run.dir=...)"
    if summary is not None and summary.get("status") in ENDED and not resuming:
        raise ConfigError(f"{run_dir} already holds {held}; a new run there would mix its records with it: {elsewhere}"
                          " or delete that directory.")  # fmt: skip
    recorded = recorded_settings(run_dir)
    if recorded is None:
        if resuming:  # a run from before settings were recorded: nothing to compare
            return False
        raise ConfigError(f"{run_dir} already holds {held}, whose settings were not recorded; {elsewhere}.")
    changed = differences(settings(recorded), settings(config))
    if changed:
        raise ConfigError(
            f"{run_dir} holds {held}, started with other settings: {'; '.join(changed[:6])}"
            f"{' ...' if len(changed) > 6 else ''}. Continue it with its own settings, or {elsewhere}."
        )
    return not resuming


def recorded_settings(run_dir: Path) -> dict[str, Any] | None:
    """The settings a run recorded when it started (run_config.json), else its resolved config.yaml, else None."""
    if (run_dir / "run_config.json").is_file():
        return json.loads((run_dir / "run_config.json").read_text())
    if (run_dir / "config.yaml").is_file():
        import yaml

        loaded = yaml.safe_load((run_dir / "config.yaml").read_text())
        return loaded if isinstance(loaded, dict) else None
    return None


def trained_nothing(run_dir: Path) -> bool:
    """No step was logged and no checkpoint saved in the run dir."""
    metrics = run_dir / "metrics.jsonl"
    no_steps = not metrics.exists() or not metrics.read_text(encoding="utf-8").strip()
    return no_steps and not any(path.is_dir() for path in run_dir.glob("checkpoint-*"))


def record_settings(run_dir: Path, config: dict[str, Any]) -> None:
    """The run's settings, for a later resumption to compare against (written when the run starts)."""
    write_json(run_dir / "run_config.json", config)


def rewind_records(run_dir: Path, step: int) -> int:
    """Cut each step record back to `step` (the checkpoint resumed from); the cut lines go to `<name>.superseded.jsonl`
    with `superseded_at` = step, so no line is lost. Returns how many lines were cut."""
    cut_total = 0
    for name in STEP_RECORDS:
        path = run_dir / name
        if not path.exists():
            continue
        kept, cut = [], []
        for line in path.read_text(encoding="utf-8").splitlines():
            row = parse_line(line)
            if row is not None and isinstance(row.get("step"), int) and row["step"] <= step:
                kept.append(line)
            elif row is not None:
                cut.append(json.dumps({**row, "superseded_at": step}, ensure_ascii=False))
            elif line.strip():
                cut.append(line)  # a line the kill cut short
        if cut:
            with (run_dir / f"{path.stem}.superseded.jsonl").open("a", encoding="utf-8") as handle:
                handle.write("\n".join(cut) + "\n")
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
            os.replace(temporary, path)
        cut_total += len(cut)
    return cut_total


def parse_line(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) else None
