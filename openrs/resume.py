"""Find the run directory and checkpoint to continue from when `resume` is set."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from openrs.errors import ConfigError

log = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_dirs(parent: Path, containing: str | None = None) -> list[tuple[int, Path]]:
    """(N, path) of every `checkpoint-N` folder in `parent` (with the file `containing`, if given), by N."""
    found = []
    for path in Path(parent).glob("checkpoint-*"):
        match = CHECKPOINT.match(path.name)
        if match and path.is_dir() and (containing is None or (path / containing).is_file()):
            found.append((int(match.group(1)), path))
    return sorted(found)


#: transformers' Trainer writes this last when it saves a checkpoint: a folder without it was cut short by a kill.
COMPLETE_MARKER = "trainer_state.json"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint-N folder with the highest N in a run dir, or None. A newer folder that a kill cut
    short during its save (no trainer_state.json) is passed over, with a warning."""
    found = checkpoint_dirs(run_dir)
    complete = [(step, path) for step, path in found if (path / COMPLETE_MARKER).is_file()]
    last = complete[-1][0] if complete else -1
    cut_short = [path.name for step, path in found if step > last]
    if cut_short:
        log.warning("passing over %s in %s: no %s (its save was cut short)", ", ".join(cut_short), run_dir,
                    COMPLETE_MARKER)  # fmt: skip
    return complete[-1][1] if complete else None


def unfinished_run(fresh_run_dir: Path, run_name: str) -> Path | None:
    """The newest earlier run of the same command (same `run_name`) that did not complete and has a checkpoint.

    The fresh run dir itself counts (a job requeued by Slurm reruns in its own dir). Looked for beside it
    (`outputs/<name>/<time>`) and, for sweeps, in the other launches of the sweep
    (`outputs/multirun/<name>/<time>/<job dir of the same name>`).
    """
    parent = fresh_run_dir.parent
    candidates = [p for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
    if parent.parent.is_dir():
        candidates += [p / fresh_run_dir.name for p in parent.parent.iterdir() if p.is_dir() and p != parent]
    found = []
    for run_dir in candidates:
        summary = run_dir / "summary.json"
        if not summary.is_file() or latest_checkpoint(run_dir) is None:  # the fresh dir itself: a requeued job
            continue
        try:
            record = json.loads(summary.read_text())
        except json.JSONDecodeError:
            continue
        if record.get("run_name") == run_name and record.get("status") != "completed":
            found.append((summary.stat().st_mtime, run_dir))
    return max(found)[1] if found else None


def resume_target(resume: object, fresh_run_dir: Path, run_name: str | None = None) -> tuple[Path, Path | None]:
    """(run dir to write into, checkpoint to load). `resume` is `auto`, false, true, or a run directory path.

    `auto` (the default) continues an earlier run of the same command that was killed or failed after a checkpoint
    (:func:`unfinished_run`), so relaunching a preempted job resumes it; otherwise it starts fresh. `true` picks the
    most recent sibling of the fresh Hydra run dir (same experiment name) that has a checkpoint.
    """
    if resume in (False, None, "false", "False", ""):
        return fresh_run_dir, None
    if resume == "auto":
        earlier = unfinished_run(fresh_run_dir, run_name) if run_name else None
        return (earlier, latest_checkpoint(earlier)) if earlier else (fresh_run_dir, None)
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
