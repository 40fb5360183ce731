"""Where openrs writes, checked before Hydra creates anything, and file-system errors told as one line.

A run dir, an output dir or the cache (`$OPENRS_CACHE`, `cache_dir`) that cannot be created or written is named
with the setting that moves it; a full disk says "disk full" with the path and the space left.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from openrs.errors import ConfigError

#: override key -> what the message calls it
WRITTEN_KEYS = {
    "hydra.run.dir": "the run dir",
    "hydra.sweep.dir": "the sweep dir",
    "output_dir": "the output dir",
    "cache_dir": "the cache",
}


def first_existing(path: Path) -> Path:
    """The path itself or its nearest existing ancestor."""
    path = path.expanduser().absolute()
    return next(p for p in (path, *path.parents) if p.exists())


def writable_problem(path: Path) -> str | None:
    """Why a directory could not be created or written at `path`, or None."""
    existing = first_existing(path)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:  # created as Hydra or the run would next; a file written and removed proves it writable
        path.expanduser().mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.expanduser()):
            pass
    except OSError as err:
        return f"{err.strerror or err} ({err.filename or path})"
    return None


def check_run_name(name: str) -> None:
    """`name` is one folder of the run dir (outputs/<name>/<time>) and the W&B group: no path of its own."""
    if not name.strip() or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(
            f"name={name!r}: the experiment name is one folder of the run dir and the W&B group, so it cannot be "
            "empty or hold / or \\ or be . or ..; to put runs elsewhere set hydra.run.dir."
        )


def check_locations(argv: list[str]) -> None:
    """Each location an override or $OPENRS_CACHE points at (else ./outputs, Hydra's default) can be written, and a
    `name=` override stays one folder inside it."""
    chosen = {}
    for argument in argv:
        key, _, value = argument.lstrip("+").partition("=")
        if key == "name" and "${" not in value:
            check_run_name(value.strip("'\""))
        if key in WRITTEN_KEYS and value and "${" not in value and value != "null":
            chosen[key] = value
    targets = [(f"{key}={value}", WRITTEN_KEYS[key], Path(value)) for key, value in chosen.items()]
    if not {"hydra.run.dir", "hydra.sweep.dir", "output_dir"} & set(chosen):
        targets.append(("hydra.run.dir", "the run dir (./outputs by default)", Path("outputs")))
    if os.environ.get("OPENRS_CACHE") and "cache_dir" not in chosen:
        targets.append(("$OPENRS_CACHE", "the cache", Path(os.environ["OPENRS_CACHE"])))
    for setting, what, path in targets:
        problem = writable_problem(path)
        if problem:
            raise ConfigError(f"{setting}: cannot write {what} there: {problem}. Point {setting.split('=')[0]} at a "
                              "writable folder.")  # fmt: skip
