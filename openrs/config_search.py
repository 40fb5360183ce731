"""The config dirs Hydra will compose from, read off the command line before Hydra runs: the package's `conf/`, each
`--config-dir`/`-cd` and each `hydra.searchpath` entry (Hydra's documented ways to add a user's own configs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from openrs.config import CONF_DIR

__all__ = ["SearchPath", "search_path"]


@dataclasses.dataclass(frozen=True)
class SearchPath:
    """The config dirs Hydra will compose from: the package's, `--config-dir`/`-cd`, `hydra.searchpath` entries.
    `complete` is false when some entry cannot be read here (a `pkg://` module that is not importable): then a
    choice missing from the dirs read may still exist, and is left to Hydra."""

    dirs: tuple[Path, ...]
    complete: bool = True

    def has_group(self, group: str) -> bool:
        return any((folder / group).is_dir() for folder in self.dirs)

    def options(self, group: str) -> list[str]:
        return sorted({path.stem for folder in self.dirs for path in (folder / group).glob("*.yaml")})

    def groups(self) -> list[str]:
        return sorted({path.name for folder in self.dirs if folder.is_dir() for path in folder.iterdir()
                       if path.is_dir()})  # fmt: skip

    def primary(self, config_name: str) -> Path:
        """The root config file Hydra composes first: the first dir that has `<config_name>.yaml`."""
        found = [folder / f"{config_name}.yaml" for folder in self.dirs if (folder / f"{config_name}.yaml").is_file()]
        return found[0] if found else CONF_DIR / f"{config_name}.yaml"


def flag_values(argv: list[str], *flags: str) -> list[str]:
    """The values of a Hydra flag, written `--flag value` or `--flag=value`."""
    values = []
    for i, argument in enumerate(argv):
        name, _, value = argument.partition("=")
        if name in flags:
            values.append(value if value else (argv[i + 1] if i + 1 < len(argv) else ""))
    return values


def search_path(argv: list[str]) -> SearchPath:
    """Where Hydra will look for configs with this command line (read before Hydra runs)."""
    dirs = [Path(value).expanduser().resolve() for value in flag_values(argv, "--config-dir", "-cd") if value]
    complete = True
    for argument in argv:
        key, _, value = argument.lstrip("+").partition("=")
        if key != "hydra.searchpath":
            continue
        for entry in value.strip("[]").split(","):
            entry = entry.strip().strip("'\"")
            folder = searchpath_dir(entry)
            complete &= folder is not None or not entry
            dirs += [folder] if folder is not None else []
    return SearchPath((CONF_DIR, *dirs), complete)


def searchpath_dir(entry: str) -> Path | None:
    """A `hydra.searchpath` entry as a dir: `file://dir` or a plain path, `pkg://module.path` when importable."""
    if entry.startswith("pkg://"):
        import importlib.util

        module, _, rest = entry[len("pkg://") :].partition("/")
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        locations = list(spec.submodule_search_locations or []) if spec else []
        return Path(locations[0], rest) if locations else None
    path = entry[len("file://") :] if entry.startswith("file://") else entry
    return Path(path).expanduser().resolve() if path else None
