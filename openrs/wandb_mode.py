"""Which W&B mode a run uses, decided before any W&B code runs, so W&B never prompts or hangs.

`logger.mode=auto` takes `WANDB_MODE` when the user set it, else online with an API key, else offline. Whatever asks
for online (logger.mode or WANDB_MODE) falls back to offline, with one line saying why, when there is no API key or
the W&B server cannot be reached within a few seconds; the offline run syncs later with `wandb sync`.
"""

from __future__ import annotations

import functools
import logging
import netrc
import os
import socket
from urllib.parse import urlparse

from openrs.errors import ConfigError

log = logging.getLogger(__name__)

#: WANDB_MODE values W&B accepts -> the mode they mean.
ENV_MODES = {"online": "online", "run": "online", "offline": "offline", "dryrun": "offline", "disabled": "disabled"}
REACH_TIMEOUT_S = 5.0


def has_wandb_key() -> bool:
    """True when W&B credentials exist (env var or ~/.netrc), so online logging cannot prompt."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(urlparse(wandb_url()).hostname or "api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_url() -> str:
    return os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")


def server_reachable(timeout_s: float = REACH_TIMEOUT_S) -> bool:
    """A TCP connection to the W&B server opens within `timeout_s`."""
    url = urlparse(wandb_url())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "api.wandb.ai", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def requested_mode(logger_mode: str) -> tuple[str, str]:
    """(mode, the setting that asked for it): an explicit logger.mode wins, then WANDB_MODE, then the key."""
    if logger_mode != "auto":
        return logger_mode, f"logger.mode={logger_mode}"
    env = os.environ.get("WANDB_MODE")
    if env:
        if env not in ENV_MODES:
            raise ConfigError(f"WANDB_MODE={env} is not a W&B mode; use one of {', '.join(ENV_MODES)}, or unset it.")
        return ENV_MODES[env], f"WANDB_MODE={env}"
    return ("online" if has_wandb_key() else "offline"), "logger.mode=auto"


@functools.cache
def choose_wandb_mode(logger_mode: str) -> str:
    """The mode to run W&B in; an online request without a key or a reachable server becomes offline, said once."""
    mode, asked_by = requested_mode(logger_mode)
    if mode != "online":
        return mode
    problem = None
    if not has_wandb_key():
        problem = "no W&B API key is configured (WANDB_API_KEY or `wandb login`)"
    elif not server_reachable():
        problem = f"the W&B server {wandb_url()} cannot be reached within {REACH_TIMEOUT_S:.0f} s"
    if problem:
        log.warning("openrs: %s asks for online W&B, but %s: logging offline instead (sync later: wandb sync "
                    "<run dir>/wandb/offline-run-*)", asked_by, problem)  # fmt: skip
        return "offline"
    return mode
