"""The one exception type for bad input (its message names the config key and the fix), and how a CLI tells it."""

from __future__ import annotations

import errno
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path


class ConfigError(ValueError):
    """A config value, dataset or machine that cannot run; raised before any expensive work starts."""


def run_explained(prog: str, job: Callable[[], object], disk_need: Callable[[], str | None] | None = None) -> int:
    """Run a CLI's job (an int it returns is the exit code). A ConfigError (exit 2), a file-system error the user
    can fix (exit 1) or Ctrl-C (exit 130) is one line on stderr instead of a traceback; HYDRA_FULL_ERROR=1 shows the
    traceback as well. `disk_need` says, for a full disk, how much space the job needs."""
    full = os.environ.get("HYDRA_FULL_ERROR") == "1"
    try:
        code = job()
        return code if isinstance(code, int) else 0  # a job returning its result (not an exit code) succeeded
    except ConfigError as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        if full:
            raise
        return 2
    except KeyboardInterrupt:
        if full:
            raise
        sys.stderr.write(f"{prog}: interrupted (what was written is kept; the same command continues it)\n")
        return 130
    except OSError as err:
        message = explain_os_error(err, disk_need() if disk_need and err.errno == errno.ENOSPC else None)
        if message is None or full:
            raise
        sys.stderr.write(f"{prog}: error: {message}\n")
        return 1


def explain_os_error(err: OSError, need: str | None = None) -> str | None:
    """One line for a file-system error a user can fix (full disk, no permission, read-only, not a folder), naming the
    path and the setting that moves it; None for any other OSError."""
    path = err.filename or "?"
    if err.errno == errno.ENOSPC:
        free = shutil.disk_usage(existing_parent(Path(path))).free if path != "?" else None
        left = f"; {free / 1e9:.2f} GB free there" if free is not None else ""
        needed = f"; {need}" if need else ""
        return (
            f"disk full while writing {path}{left}{needed}. Free space, keep fewer checkpoints "
            "(train.save_total_limit), or write runs to a bigger disk (hydra.run.dir=...). A checkpoint cut short is "
            "passed over when the run resumes."
        )
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR):
        return (
            f"cannot write {path}: {err.strerror}. Move what is written there: hydra.run.dir=... (runs), "
            "output_dir=... (evaluations, curated data), --out (compare), cache_dir=... or $OPENRS_CACHE (the tiny "
            "model)."
        )
    return None


def existing_parent(path: Path) -> Path:
    return next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
