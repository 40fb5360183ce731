"""Build a model directory in the openrs cache once, atomically, and say whether a cached build is whole."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Return the openrs cache directory: ``$OPENRS_CACHE`` if set, else ``~/.cache/openrs``."""
    env = os.environ.get("OPENRS_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "openrs"


def cache_root(cache_dir: str | Path | None) -> Path:
    """``cache_dir`` expanded, or :func:`default_cache_dir` when None."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def stamped_version(path: Path, stamp_file: str) -> int | None:
    """The ``build_version`` recorded in ``path/stamp_file`` (written last by a finished build), None if absent."""
    try:
        return json.loads((path / stamp_file).read_text(encoding="utf-8")).get("build_version")
    except (OSError, ValueError, AttributeError):
        return None


def build_once(target: Path, build: Callable[[Path], None], is_complete: Callable[[Path], bool]) -> Path:
    """``target``, built by ``build(tmp_dir)`` when not already complete.

    The build happens in a temporary sibling directory that is renamed into place only once complete, so a crash or
    two concurrent builders never leave a half-written model behind.
    """
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        # Not produced by a finished build (those appear atomically with a stamp); replace it.
        logger.warning("Removing incomplete model directory %s", target)
        shutil.rmtree(target, ignore_errors=True)

    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        build(tmp)
        tmp.chmod(0o755)  # mkdtemp creates 0o700 (and files may be 0o600); the cache may be shared between users.
        for path in tmp.iterdir():
            path.chmod(0o644)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished first; keep its (identical) build.
            if not is_complete(target):
                raise
            logger.info("Model was built concurrently by another process at %s", target)
            return target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("Built %s in %.1fs", target, time.perf_counter() - start)
    return target
