"""GPU memory by card: the verdict's denominator.

Totals are what `nvidia-smi` reports for each card (MiB), which is the memory a process can be given: the marketed
"48 GB" of an A40 is 46,068 MiB. A card found here is matched by a part of its name, longest first, so "A100-80GB"
is not read as "A100" (40 GB). With no `cost.gpu_type`, the plan uses the GPU torch sees, by its own total.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
GIB = 1 << 30

#: nvidia-smi's memory total (MiB) of common cards, by a part of their name (case-insensitive).
GPU_MEMORY_MIB = {
    "A40": 46068,
    "L40S": 46068,
    "L40": 46068,
    "A6000": 49140,
    "A100": 40960,  # the 40 GB card; a name with "80" (A100-80GB, A100 80GB) is the 80 GB one
    "H100": 81559,
    "H200": 143771,
    "RTX 4090": 24564,
    "4090": 24564,
    "RTX 3090": 24576,
    "3090": 24576,
    "A10G": 23028,
    "A10": 23028,
    "L4": 23034,
    "V100": 16384,  # a name with "32" is the 32 GB card
    "T4": 15360,
}


#: Cards sold with two memory sizes: the larger one's total, when its size is in the name.
LARGER_VARIANT_MIB = {"A100": ("80", 81920), "V100": ("32", 32768)}


@dataclass(frozen=True)
class Gpu:
    """A GPU type and its memory in bytes."""

    name: str
    memory: int


def spaced(name: str) -> str:
    """Upper case, each run of other characters one space: `NVIDIA A100-SXM4-80GB` -> `NVIDIA A100 SXM4 80GB`."""
    return " ".join("".join(char if char.isalnum() else " " for char in name.upper()).split())


def part_at(name: str, key: str) -> int:
    """Where `key` occurs in `name` as a whole model number (not followed by a digit, so `A40` is not in `RTX A4000`
    and `A100` not in `RTX A1000`), both compared spaced; -1 when it does not."""
    wanted, part = spaced(name), spaced(key)
    at = wanted.find(part)
    while at >= 0:
        after = wanted[at + len(part) : at + len(part) + 1]
        if not after.isdigit():
            return at
        at = wanted.find(part, at + 1)
    return -1


def known_gpu(name: str) -> Gpu | None:
    """The table's card whose key is the longest part of `name` (case, spaces and dashes ignored), or None."""
    for key in sorted(GPU_MEMORY_MIB, key=len, reverse=True):
        at = part_at(name, key)
        if at < 0:
            continue
        mib = GPU_MEMORY_MIB[key]
        size, larger = LARGER_VARIANT_MIB.get(key, ("", 0))
        if size and size in spaced(name)[at + len(spaced(key)) :]:
            mib = larger
        return Gpu(name=name, memory=mib * MIB)
    return None


#: Present when NVIDIA's driver is loaded (Linux): without it torch is not even imported to look.
NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")


def detected_gpu() -> Gpu | None:
    """The first visible CUDA GPU by torch's own name and total, or None without one."""
    if not NVIDIA_DRIVER.exists():
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    properties = torch.cuda.get_device_properties(0)
    return Gpu(name=properties.name, memory=properties.total_memory)


def known_cards() -> str:
    """The table's names, for an error message."""
    return ", ".join(GPU_MEMORY_MIB)
