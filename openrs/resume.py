"""Find the run directory and checkpoint to continue from when `resume` is set."""

from __future__ import annotations

import json
import logging
import re
import zipfile
from pathlib import Path

from openrs.dir_search import DirSearch
from openrs.errors import ConfigError
from openrs.run_dir import ENDED

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


def checkpoint_step(checkpoint: Path | None) -> int:
    """The step N of a `checkpoint-N` folder; 0 for no checkpoint (a run from the start)."""
    return int(CHECKPOINT.match(checkpoint.name).group(1)) if checkpoint is not None else 0


#: transformers' Trainer writes this after the weights, optimizer and RNG states of a checkpoint.
COMPLETE_MARKER = "trainer_state.json"
TORCH_FILES = (".pt", ".pth", ".bin")


def file_problem(path: Path) -> str | None:
    """Why a weights or state file is not whole, or None: a safetensors file must be as long as its header says, a
    torch file must end with its zip directory (a kill or a full disk cuts both short)."""
    size = path.stat().st_size
    if path.suffix == ".safetensors":
        with path.open("rb") as handle:
            head = handle.read(8)
            header_length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if header_length < 0 or 8 + header_length > size:
                return f"{path.name} is cut short ({size} bytes, its header runs past the end)"
            try:
                header = json.loads(handle.read(header_length))
            except (json.JSONDecodeError, UnicodeDecodeError):
                return f"{path.name} has an unreadable header"
        end = max((entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"), default=0)
        if 8 + header_length + end != size:
            return f"{path.name} is {size} bytes, its header says {8 + header_length + end} (cut short)"
    elif path.suffix in TORCH_FILES and not zipfile.is_zipfile(path):
        return f"{path.name} is cut short or corrupt ({size} bytes, no zip directory at its end)"
    return None


def checkpoint_problem(folder: Path, marker: str | None = COMPLETE_MARKER) -> str | None:
    """Why a checkpoint (or, with marker=None, a saved model) cannot be loaded, or None when it is whole: the marker
    file must parse and every weights/state file in it be whole."""
    if marker is not None:
        try:
            json.loads((folder / marker).read_text())
        except FileNotFoundError:
            return f"no {marker} (its save was cut short)"
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            return f"{marker} is unreadable (its save was cut short)"
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".safetensors", *TORCH_FILES)]
    if marker is None and not files:
        return "no weights file"
    return next((problem for problem in map(file_problem, sorted(files)) if problem), None)


_warned: set[tuple[Path, str]] = set()


def is_whole(path: Path, marker: str | None = COMPLETE_MARKER) -> bool:
    """True for a whole checkpoint (or saved model); a partial one is named with why, once per process."""
    problem = checkpoint_problem(path, marker)
    if problem and (path, problem) not in _warned:
        _warned.add((path, problem))
        log.warning("passing over %s: %s", path, problem)
    return problem is None


def complete_checkpoints(run_dir: Path, marker: str | None = COMPLETE_MARKER) -> list[tuple[int, Path]]:
    """(N, path) of the whole checkpoint-N folders of a run, by N; each one passed over is named with why. With
    marker=None (evaluation), whole weights suffice: a save cut short after them still holds a loadable model."""
    return [(step, path) for step, path in checkpoint_dirs(run_dir) if is_whole(path, marker)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The whole checkpoint-N folder with the highest N in a run dir, or None; newer ones a kill, a full disk or a
    truncated copy left partial are passed over with a warning saying why."""
    return next((path for _, path in reversed(checkpoint_dirs(run_dir)) if is_whole(path)), None)


def beside(fresh_run_dir: Path) -> list[Path]:
    """The dirs next to a fresh run dir and, for sweeps, the job dirs of the same name in the sweep's other launches
    (`outputs/multirun/<name>/<time>/<job dir>`): where a relaunch of the same command wrote when nothing else is
    known about its dir pattern."""
    parent = fresh_run_dir.parent
    found = [p for p in parent.iterdir() if p.is_dir()] if parent.is_dir() else []
    if parent.parent.is_dir():
        found += [p / fresh_run_dir.name for p in parent.parent.iterdir() if p.is_dir() and p != parent]
    return found


def unfinished_run(fresh_run_dir: Path, run_name: str, search: DirSearch | None = None) -> Path | None:
    """The newest earlier run of the same command (same `run_name`) that did not complete and has a checkpoint.

    The fresh run dir itself counts (a job requeued by Slurm reruns in its own dir). Also looked at: the dirs the
    run dir's pattern gave on other launches (`search`, openrs.dir_search: only the dir itself when the user wrote a
    fixed one), by default those :func:`beside` it.
    """
    candidates = [fresh_run_dir, *(beside(fresh_run_dir) if search is None else search.candidates())]
    found = []
    for run_dir in dict.fromkeys(candidates):
        summary = run_dir / "summary.json"
        if not summary.is_file() or latest_checkpoint(run_dir) is None:  # the fresh dir itself: a requeued job
            continue
        try:
            record = json.loads(summary.read_text())
        except json.JSONDecodeError:
            continue
        if record.get("run_name") == run_name and record.get("status") not in ENDED:
            found.append((summary.stat().st_mtime, run_dir))
    return max(found)[1] if found else None


def resume_target(
    resume: object, fresh_run_dir: Path, run_name: str | None = None, search: DirSearch | None = None
) -> tuple[Path, Path | None]:
    """(run dir to write into, checkpoint to load). `resume` is `auto`, false, true, a run directory path (its latest
    whole checkpoint), or a `checkpoint-N` directory of a run (that checkpoint).

    `auto` (the default) continues an earlier run of the same command that was killed or failed after a checkpoint
    (:func:`unfinished_run`), so relaunching a preempted job resumes it; otherwise it starts fresh. A run a guardrail
    stopped ended on purpose: only `resume=<its dir>` continues it. `true` picks the
    most recent sibling of the fresh Hydra run dir (same experiment name) that has a checkpoint.
    """
    if resume in (False, None, "false", "False", ""):
        return fresh_run_dir, None
    if resume == "auto":
        earlier = unfinished_run(fresh_run_dir, run_name, search) if run_name else None
        return (earlier, latest_checkpoint(earlier)) if earlier else (fresh_run_dir, None)
    if resume in (True, "true", "True"):
        near = fresh_run_dir.parent.iterdir() if search is None or search.fixed else search.candidates()
        siblings = [p for p in near if p.is_dir() and p != fresh_run_dir]
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
        if CHECKPOINT.match(run_dir.name):  # one checkpoint of a run (a rollback's restart point)
            problem = checkpoint_problem(run_dir)
            if problem:
                raise ConfigError(f"resume={resume}: that checkpoint cannot be loaded: {problem}.")
            return run_dir.parent, run_dir
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise ConfigError(f"resume={resume}: {run_dir} has no checkpoint-N folder to continue from.")
    return run_dir, checkpoint
