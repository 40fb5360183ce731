"""`python -m openrs.process_guard <pid> <command...>`: run a command that must not outlive process `pid`.

The launcher starts the vLLM server through this guard, in a session of its own (so a Ctrl-C in the terminal does not
reach the server before the launcher has stopped the training): the guard runs the server in its own process group,
checks every second that the launcher is alive, and when it is gone (a SIGKILL, an OOM kill) stops the whole group:
SIGTERM, then SIGKILL after a grace period. Without it, a killed launcher left the server holding its GPU and port,
and the next launch's health poll could accept the stale server. The guard exits with the command's exit code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

GRACE_S = 30.0


def alive(pid: int) -> bool:
    """Whether process `pid` exists (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def stop_group(child: subprocess.Popen) -> int:
    """SIGTERM this process group (the guard stays), wait up to GRACE_S for the command, then SIGKILL the group."""
    try:
        os.killpg(os.getpgrp(), signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        return child.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.killpg(os.getpgrp(), signal.SIGKILL)
        return child.wait()


def main(argv: list[str]) -> int:
    parent, command = int(argv[0]), argv[1:]
    child = subprocess.Popen(command)  # in the guard's own process group; default signal handlers
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    while child.poll() is None:
        if stopping or not alive(parent):
            if not stopping:
                print(f"openrs.process_guard: the launcher (pid {parent}) is gone: stopping {command[0]}", flush=True)
            return stop_group(child)
        time.sleep(1)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
