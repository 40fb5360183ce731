"""Cost accounting: GPU-hours, prices, tokens, and the paper's $42."""

from __future__ import annotations

import pytest

from openrs.cost import cost_usd, generated_tokens, gpu_hours, price_for, run_resources
from tests.conftest import compose_config


@pytest.mark.parametrize(
    ("wall_time_s", "gpus", "price"), [(24 * 3600, 4, 0.44), (5400, 4, 2.5), (1800, 1, 1.99), (100, 8, 3.0)]
)
def test_cost_is_wall_time_times_gpus_times_the_price(wall_time_s: float, gpus: int, price: float) -> None:
    """Cloud billing: every GPU held for the whole wall time, at the price per GPU-hour, in cents."""
    hours = gpu_hours(wall_time_s, gpus)
    assert hours == pytest.approx(wall_time_s / 3600 * gpus)
    assert cost_usd(hours, price) == pytest.approx(round(wall_time_s * gpus * price / 3600, 2))
    assert cost_usd(hours, None) is None  # no price: unknown, not free


def test_the_papers_42_dollars() -> None:
    # Open-RS Table 4: 4 A40 GPUs for 24 hours, "about $42": the A40 price in the config reproduces the paper's figure
    cost = cost_usd(gpu_hours(24 * 3600, 4), price_for("NVIDIA A40", compose_config().cost.gpu_prices))
    assert round(cost) == 42


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA A40", 0.44),
        ("NVIDIA A100-SXM4-80GB", 1.8),
        ("NVIDIA A100-SXM4-40GB", 1.2),
        ("Tesla T4", None),
        (None, None),
        ("NVIDIA RTX A4000", None),  # a 16 GB card: "A40" is not a whole model number in it
        ("NVIDIA RTX A1000", None),
    ],
)
def test_price_lookup_by_part_of_the_gpu_name(name: str | None, expected: float | None) -> None:
    prices = {"A40": 0.44, "A100": 1.2, "A100-SXM4-80GB": 1.8}
    assert price_for(name, prices) == expected


def test_generated_tokens_from_logged_lengths() -> None:
    rows = [{"completions/mean_length": 100.0}, {"loss": 0.1}, {"completions/mean_length": 50.5}]
    assert generated_tokens(rows, per_step=16, logging_steps=1) == 2408  # (100 + 50.5) * 16
    assert generated_tokens(rows, per_step=16, logging_steps=2) == 4816


def test_run_resources_for_the_papers_layout_and_for_cpu() -> None:
    cfg = compose_config("+experiment=exp3")  # 3 training GPUs + 1 vLLM server GPU
    # the GPU list is a parameter: no GPU exists on this machine
    resources = run_resources(cfg, 24 * 3600, [{"completions/mean_length": 1000.0}], ["NVIDIA A40"] * 4)
    a40 = cfg.cost.gpu_prices["A40"]
    assert (resources["gpu_count"], resources["gpu_hours"]) == (4, 96.0)  # 3 training + 1 server GPU x 24 h
    assert resources["cost_usd"] == round(96 * a40, 2) and resources["price_per_gpu_hour"] == a40
    assert resources["generated_tokens"] == 1000 * 6 * 4 * 3  # per-device batch 6 x accumulation 4 x 3 processes
    unknown = run_resources(compose_config("+experiment=exp3", "cost.gpu_type=H100"), 3600, [], ["NVIDIA H100"])
    assert unknown["cost_usd"] is None and unknown["price_per_gpu_hour"] is None
    priced = run_resources(compose_config("+experiment=exp3", "cost.price_per_gpu_hour=2.0"), 5400, [], ["H100"])
    assert priced["cost_usd"] == 1.5 * 4 * 2.0  # 1.5 h x 4 GPUs x $2: the set price wins over the name lookup
    cpu = run_resources(compose_config(), 60, [], [])
    assert (cpu["gpu_count"], cpu["cost_usd"]) == (0, 0.0)
