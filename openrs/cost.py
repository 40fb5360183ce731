"""What a run used and what it cost: GPU type and count, wall time, GPU-hours, generated tokens, dollars.

GPU-hours are wall time x GPUs held (training GPUs plus a vLLM server's), the way cloud GPUs are billed. The price per
GPU-hour comes from `cost.price_per_gpu_hour`, else from `cost.gpu_prices` by the GPU's name (a key contained in
`torch.cuda.get_device_name`, case-insensitive), else it is unknown and the cost is null. The paper's figure
reproduces: 4 A40 x 24 h x $0.44 = $42.24 ("about $42", Open-RS arXiv 2503.16219, Table 4). Generated tokens are
estimated from the logged mean completion length times the completions per logged step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from openrs.config import Device, OpenRSConfig
from openrs.memory.gpus import part_at

__all__ = ["completions_per_step", "cost_usd", "generated_tokens", "gpu_hours", "price_for", "run_resources"]


def gpu_hours(wall_time_s: float, gpu_count: int) -> float:
    return wall_time_s / 3600.0 * gpu_count


def cost_usd(hours: float, price_per_gpu_hour: float | None) -> float | None:
    return None if price_per_gpu_hour is None else round(hours * price_per_gpu_hour, 2)


def price_for(gpu_name: str | None, prices: Mapping[str, float]) -> float | None:
    """The price of the first key of `prices` in `gpu_name` (longest keys first: `A100-80GB` before `A100`)."""
    if not gpu_name:
        return None
    for key in sorted(prices, key=len, reverse=True):
        if part_at(gpu_name, key) >= 0:
            return float(prices[key])
    return None


def completions_per_step(cfg: OpenRSConfig) -> int:
    """Completions generated per optimizer step: per-device batch x accumulation x training processes."""
    train = cfg.train
    return train.per_device_train_batch_size * train.gradient_accumulation_steps * cfg.launcher.training_processes


def generated_tokens(metrics: Iterable[Mapping[str, Any]], per_step: int, logging_steps: int) -> int:
    """Sum over logged steps of mean completion length x completions in the logging interval."""
    total = 0.0
    for row in metrics:
        length = row.get("completions/mean_length")
        if isinstance(length, (int, float)):
            total += length * per_step * logging_steps
    return int(round(total))


def run_resources(
    cfg: OpenRSConfig, wall_time_s: float, metrics: Iterable[Mapping[str, Any]], gpus_visible: list[str]
) -> dict[str, Any]:
    """The `resources` block of summary.json."""
    on_gpu = bool(gpus_visible) and cfg.train.device != Device.cpu
    count = (cfg.launcher.training_processes + cfg.rollout.reserved_server_gpus) if on_gpu else 0
    gpu_type = cfg.cost.gpu_type or (gpus_visible[0] if on_gpu else None)
    price = cfg.cost.price_per_gpu_hour
    if price is None:
        price = price_for(gpu_type, cfg.cost.gpu_prices) if count else 0.0
    hours = gpu_hours(wall_time_s, count)
    return {
        "gpu_type": gpu_type,
        "gpu_count": count,
        "wall_time_s": round(wall_time_s, 2),
        "gpu_hours": round(hours, 4),
        "generated_tokens": generated_tokens(metrics, completions_per_step(cfg), cfg.train.logging_steps),
        "price_per_gpu_hour": price,
        "cost_usd": cost_usd(hours, price),
    }
