"""Find the run directory and checkpoint to continue from when `resume` is set."""

from __future__ import annotations

import re
from pathlib import Path

from openrs.errors import ConfigError

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint-N folder with the highest N in a run dir, or None."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("checkpoint-*") if (m := CHECKPOINT.match(p.name))]
    return max(found)[1] if found else None


def resume_target(resume: object, fresh_run_dir: Path) -> tuple[Path, Path | None]:
    """(run dir to write into, checkpoint to load). `resume` is false, true, or a run directory path.

    `true` picks the most recent sibling of the fresh Hydra run dir (same experiment name) that has a checkpoint.
    """
    if resume in (False, None, "false", "False", ""):
        return fresh_run_dir, None
    if resume in (True, "true", "True"):
        siblings = [p for p in fresh_run_dir.parent.iterdir() if p.is_dir() and p != fresh_run_dir]
        candidates = sorted((p for p in siblings if latest_checkpoint(p)), key=lambda p: p.name)
        if not candidates:
            raise ConfigError(
                f"resume=true: no earlier run with a checkpoint under {fresh_run_dir.parent}. Start without resume, "
                "or pass the run directory: resume=outputs/<name>/<timestamp>."
            )
        run_dir = candidates[-1]
    else:
        run_dir = Path(str(resume)).expanduser()
        if not run_dir.is_dir():
            raise ConfigError(f"resume={resume}: no such run directory.")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise ConfigError(f"resume={resume}: {run_dir} has no checkpoint-N folder to continue from.")
    return run_dir, checkpoint
