"""Where a relaunch of the same command may find its earlier dirs: the dirs its dir pattern gave on other launches.

A run dir (or an evaluation's output dir) written with a part that changes between two launches of one command —
`${now:...}` in Hydra's default `outputs/${name}/${now:%Y-%m-%d_%H-%M-%S}` and in a user's
`/scratch/me/runs/${now:...}`, or `${oc.env:SLURM_JOB_ID}` — lands somewhere new on each launch, so a killed run is
looked for among the dirs the same pattern matches. A pattern without such a part names one fixed dir: only it is
looked at. `${hydra:...}` and plain `${key}` references stay the same between launches of the same command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DirSearch", "dir_search"]

#: `${resolver:...}`: a value computed at launch (the time, an environment variable), unlike `${key}` references.
RESOLVER_CALL = re.compile(r"\$\{\s*([\w.]+)\s*:")
#: Resolvers whose value is the same on every launch of one command.
STEADY_RESOLVERS = frozenset({"hydra"})
INTERPOLATION = re.compile(r"\$\{[^{}]*\}")


def varies(part: str) -> bool:
    """Whether one path component of a pattern may differ between launches of the same command."""
    return any(name not in STEADY_RESOLVERS for name in RESOLVER_CALL.findall(part))


@dataclass(frozen=True)
class DirSearch:
    """The dirs `root.glob(pattern)` matches (with `pattern` empty: `root` alone, a fixed dir)."""

    root: Path
    pattern: str = ""

    @property
    def fixed(self) -> bool:
        return not self.pattern

    def candidates(self) -> list[Path]:
        """Every existing dir the search matches, the fixed dir included."""
        if self.fixed:
            return [self.root] if self.root.is_dir() else []
        return sorted(path for path in self.root.glob(self.pattern) if path.is_dir())


def dir_search(pattern: str, resolved: Path) -> DirSearch:
    """The search for the dirs that `pattern` (as written, interpolations unresolved) gives on other launches, from
    the dir it gave on this one. The components from the first varying one on become globs (`run_${now:%H}` ->
    `run_*`); components before it are this launch's. A pattern whose components do not line up with the resolved
    dir's (an interpolation that gave a `/`) is searched for beside the resolved dir."""
    parts, got = Path(pattern).parts, Path(resolved).parts
    first = next((i for i, part in enumerate(parts) if varies(part)), None)
    if first is None:
        return DirSearch(Path(resolved))
    offset = len(got) - len(parts)
    if offset < 0 or any(not INTERPOLATION.search(p) and p != got[offset + i] for i, p in enumerate(parts)):
        return DirSearch(Path(resolved).parent, "*")
    globs = [INTERPOLATION.sub("*", part) if varies(part) else got[offset + i]
             for i, part in enumerate(parts) if i >= first]  # fmt: skip
    return DirSearch(Path(*got[: offset + first]), "/".join(globs))


def raw_value(node: object, key: str) -> str:
    """`key` of an OmegaConf node as written, interpolations unresolved."""
    from omegaconf import OmegaConf

    return str(OmegaConf.to_container(node, resolve=False)[key])


def hydra_dir_search(hydra_cfg: object, task_cfg: object = None, output_key: str | None = None) -> DirSearch:
    """The search for this Hydra job's dir: its run dir pattern, or for a multirun job the sweep dir pattern with the
    job's own subdir. `output_key`: a task config key the run dir is written as (`hydra.run.dir: ${output_dir}`)."""
    from hydra.types import RunMode

    resolved = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        pattern = str(Path(raw_value(hydra_cfg.sweep, "dir")) / str(hydra_cfg.sweep.subdir))
    else:
        pattern = raw_value(hydra_cfg.run, "dir")
        if output_key is not None and pattern.strip() == f"${{{output_key}}}":
            pattern = raw_value(task_cfg, output_key)
    return dir_search(pattern, resolved)
