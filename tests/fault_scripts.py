"""Command lines with a fault injected, for the fault tests: each is a module text to write beside the test and run
with `python -m <module> <overrides>` (PYTHONPATH: that dir and the repo)."""

from __future__ import annotations

import textwrap

#: `python -m openrs.evaluate` killed (SIGKILL) right after its first chunk of samples reached the disk.
KILLED_AFTER_FIRST_CHUNK = textwrap.dedent(
    """
    import os, runpy, signal, sys
    from openrs.evaluation import samples

    original = samples.SampleStore.append

    def append_then_die(self, records):
        original(self, records)
        os.kill(os.getpid(), signal.SIGKILL)

    samples.SampleStore.append = append_then_die
    sys.argv = ["openrs.evaluate", *sys.argv[1:]]
    runpy.run_module("openrs.evaluate", run_name="__main__")
    """
)
