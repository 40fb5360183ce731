"""Every sweep file's grid, composed job by job the way Hydra's basic sweeper would (compose only, no training)."""

from __future__ import annotations

import itertools
import re
from functools import cache

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from openrs.__main__ import CONF_DIR
from openrs.config import OpenRSConfig, typed_config
from openrs.naming import run_name
from openrs.plan import build_plan

SWEEP_DIR = CONF_DIR / "sweep"
SWEEPS = sorted(path.stem for path in SWEEP_DIR.glob("*.yaml"))

# The paper's budget (Open-RS Table 4): a 500-step run in 24 h on 4 A40s at $0.44 per GPU-hour.
PAPER_HOURS_PER_STEP = 24 / 500
A40_PRICE = 0.44


@cache
def sweep_params(name: str) -> dict[str, str]:
    """`hydra.sweeper.params` of one sweep file, as the multirun reads them."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"+sweep={name}"], return_hydra_config=True)
    return {key: str(value) for key, value in OmegaConf.to_container(cfg.hydra.sweeper.params).items()}


def job_overrides(name: str) -> list[list[str]]:
    """The overrides of each job: the Cartesian product of the params, in order, then the `+sweep=` argument."""
    overrides = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in sweep_params(name).items()])
    axes = []
    for override in overrides:
        key = override.get_key_element()
        values = (
            override.sweep_string_iterator() if override.is_sweep_override() else [override.get_value_element_as_str()]
        )
        axes.append([f"{key}={value}" for value in values])
    return [[*combo, f"+sweep={name}"] for combo in itertools.product(*axes)]


@cache
def jobs(name: str) -> list[tuple[tuple[str, ...], OpenRSConfig, dict]]:
    """(overrides, composed config, plan) for every job of a sweep."""
    found = []
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for overrides in job_overrides(name):
            cfg = typed_config(compose("config", overrides=overrides), OpenRSConfig)  # as openrs.run types it
            found.append((tuple(overrides), cfg, build_plan(cfg, "/tmp/openrs-sweep-test")))
    return found


def header(name: str) -> str:
    """The comment block at the top of the file (before the first YAML key)."""
    lines = []
    for line in (SWEEP_DIR / f"{name}.yaml").read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def reward(plan: dict, reward_name: str) -> dict:
    return next(r for r in plan["rewards"] if r["name"] == reward_name)


def is_exp3(cfg: OpenRSConfig, plan: dict) -> None:
    """exp3's data, rewards and budget as published (what a swept value does not touch)."""
    assert plan["dataset"]["path"] == "knoveleng/open-rs"
    assert [(r["name"], r["weight"]) for r in plan["rewards"]] == [("format", 1.0), ("cosine", 2.0)]
    assert reward(plan, "cosine")["params"]["max_len"] == 3584
    assert plan["model"]["name_or_path"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    assert cfg.train.max_steps == 500
    assert plan["launcher"]["training_gpus"] == 3 and plan["launcher"]["vllm_server_gpus"] == 1


def test_the_expected_sweeps_exist() -> None:
    assert set(SWEEPS) >= {"reproduce", "seeds", "length_budget", "algorithms", "cosine_fix", "lora", "tiny"}


@pytest.mark.parametrize("name", SWEEPS)
def test_header_states_question_runs_and_cost(name: str) -> None:
    text = header(name)
    assert text.startswith("# @package _global_\n")
    assert re.search(r"^# Question: \S", text, re.MULTILINE), "no '# Question:' line"
    runs = re.search(r"^# Runs: (\d+) ", text, re.MULTILINE)
    assert runs, "no '# Runs: N' line"
    assert int(runs.group(1)) == len(job_overrides(name)), "the Runs line disagrees with the grid"
    cost = re.search(r"^# Cost: (.*)$", text, re.MULTILINE)
    assert cost and "GPU-hours" in cost.group(1) and "$" in cost.group(1), "no '# Cost: ... GPU-hours, $...' line"


@pytest.mark.parametrize("name", SWEEPS)
def test_cost_line_follows_from_the_papers_budget(name: str) -> None:
    """GPU-hours (the low end of a range) = 24 h per 500 steps x the job's GPUs, summed; $ = that x $0.44."""
    expected_hours = sum(
        PAPER_HOURS_PER_STEP * cfg.train.max_steps * plan["launcher"]["total_gpus"]
        for _, cfg, plan in jobs(name)
        if plan["rollout"]["backend"] == "vllm"  # vLLM is CUDA-only; the rest are CPU runs
    )
    text = header(name)
    cost = re.search(r"^# Cost: ~?([\d,]+)(?:-[\d,]+)? GPU-hours, ~?\$([\d,]+)", text, re.MULTILINE)
    assert cost, "cost line not in the form '# Cost: ~H GPU-hours, ~$D ...'"
    hours, dollars = (float(group.replace(",", "")) for group in cost.groups())
    assert hours == pytest.approx(expected_hours, abs=1)
    assert dollars == pytest.approx(expected_hours * A40_PRICE, abs=1)
    if expected_hours:
        assert "estimate" in text and "Derivation" in text and "24 h" in text


@pytest.mark.parametrize("name", SWEEPS)
def test_every_job_is_named_and_grouped_by_the_sweep(name: str) -> None:
    names = []
    for overrides, cfg, _ in jobs(name):
        assert cfg.name == f"sweep-{name}"  # the sweep's name wins over the experiment's (composed after it)
        assert cfg.logger.group in (None, f"sweep-{name}")  # the W&B group defaults to the name
        names.append(run_name(cfg.name, list(overrides)))
    assert all("sweep=" not in n and n.startswith(f"sweep-{name}") for n in names), names
    assert len(set(names)) == len(names), f"run names repeat (resume=auto tells jobs apart by them): {names}"


@pytest.mark.parametrize("name", SWEEPS)
def test_swept_keys_appear_in_job_dirs(name: str) -> None:
    """Job dirs are <n>_<overrides without exclude_keys>: a swept key excluded there would make them look alike."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"+sweep={name}"], return_hydra_config=True)
    excluded = set(cfg.hydra.job.config.override_dirname.exclude_keys)
    assert "sweep" in excluded
    swept = {key.lstrip("+~") for key, value in sweep_params(name).items() if "," in value}
    assert not swept & excluded


def test_reproduce_runs_the_three_experiments_as_published() -> None:
    found = jobs("reproduce")
    assert [o[0] for o, _, _ in found] == ["+experiment=exp1", "+experiment=exp2", "+experiment=exp3"]
    datasets = [plan["dataset"]["path"] for _, _, plan in found]
    assert datasets == ["knoveleng/open-s1", "knoveleng/open-rs", "knoveleng/open-rs"]
    assert [plan["length"]["max_completion_length"] for _, _, plan in found] == [4096, 3584, 3584]
    rewards = [[r["name"] for r in plan["rewards"]] for _, _, plan in found]
    assert rewards == [["accuracy", "format"], ["accuracy", "format"], ["format", "cosine"]]
    for _, cfg, plan in found:
        assert cfg.train.seed == 42 and cfg.train.max_steps == 500 and plan["grpo"]["learning_rate"] == 1e-6
        assert plan["grpo"]["loss_type"] == "grpo" and plan["grpo"]["beta"] == 0.04
        assert plan["peft"]["enabled"] is False


def test_seeds_sweep_is_exp3_over_five_seeds() -> None:
    found = jobs("seeds")
    assert [cfg.train.seed for _, cfg, _ in found] == [0, 1, 2, 3, 4]  # not exp3's own 42
    for _, cfg, plan in found:
        is_exp3(cfg, plan)
        assert plan["grpo"]["seed"] == cfg.train.seed
        assert plan["length"]["max_completion_length"] == 3584
        assert reward(plan, "cosine")["params"]["mode"] == "faithful"
        assert cfg.algorithm.name == "grpo_2025" and plan["peft"]["enabled"] is False


def test_length_budget_sweep_moves_only_the_budget() -> None:
    found = jobs("length_budget")
    budgets = [plan["length"]["max_completion_length"] for _, _, plan in found]
    assert budgets == [2048, 3584, 4096, 8192]  # the swept group wins over exp3's `override /length: l3584`
    for (_, cfg, plan), budget in zip(found, budgets, strict=True):
        is_exp3(cfg, plan)
        assert plan["grpo"]["max_completion_length"] == budget
        assert plan["length"]["vllm_max_model_length"] == 512 + budget
        assert cfg.train.seed == 42 and cfg.algorithm.name == "grpo_2025"


def test_algorithms_sweep_swaps_the_loss_on_exp3() -> None:
    found = jobs("algorithms")
    grpo = [plan["grpo"] for _, _, plan in found]
    assert [cfg.algorithm.name for _, cfg, _ in found] == ["grpo_2025", "dr_grpo", "dapo", "gspo"]
    assert [g["loss_type"] for g in grpo] == ["grpo", "dr_grpo", "dapo", "grpo"]
    assert [g["beta"] for g in grpo] == [0.04, 0.0, 0.0, 0.0]
    assert [g["importance_sampling_level"] for g in grpo] == ["token", "token", "token", "sequence"]
    assert [g["epsilon_high"] for g in grpo] == [None, None, 0.28, 4e-4]
    for _, cfg, plan in found:
        is_exp3(cfg, plan)


def test_cosine_fix_sweep_differs_only_in_the_cosine_mode() -> None:
    (_, cfg_a, faithful), (_, cfg_b, fixed) = jobs("cosine_fix")
    assert reward(faithful, "cosine")["params"]["mode"] == "faithful"
    assert reward(fixed, "cosine")["params"]["mode"] == "fixed"
    assert reward(fixed, "cosine")["params"]["max_len"] == 3584  # the token budget, as exp3's 3584
    for cfg, plan in ((cfg_a, faithful), (cfg_b, fixed)):
        is_exp3(cfg, plan)
    without_cosine = [{k: v for k, v in p.items() if k not in ("rewards", "grpo")} for p in (faithful, fixed)]
    assert without_cosine[0] == without_cosine[1]
    assert {k: v for k, v in faithful["grpo"].items() if k not in ("output_dir",)} == {
        k: v for k, v in fixed["grpo"].items() if k not in ("output_dir",)
    }


def test_lora_sweep_compares_full_fine_tuning_with_tina_style_lora() -> None:
    found = jobs("lora")
    assert [o[0] for o, _, _ in found] == [
        "+experiment=exp3",
        "+experiment=exp3_lora",
        "+experiment=exp3_lora_5xlr",
    ]
    peft = [plan["peft"] for _, _, plan in found]
    assert [p["enabled"] for p in peft] == [False, True, True]
    for p in peft[1:]:
        assert (p["r"], p["lora_alpha"], p["lora_dropout"]) == (32, 128, 0.05)  # Tina's
        assert set(p["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    lrs = [plan["grpo"]["learning_rate"] for _, _, plan in found]
    assert lrs == [1e-6, 1e-6, 5e-6]  # full FT and Tina at the paper's 1e-6; the scaled LoRA arm at 5x
    for _, cfg, plan in found:
        is_exp3(cfg, plan)
        assert reward(plan, "cosine")["params"]["mode"] == "faithful"
        assert plan["grpo"]["lr_scheduler_type"] == "cosine_with_min_lr"  # only the peak lr moves


def test_tiny_sweep_is_two_cpu_runs_over_the_seed() -> None:
    found = jobs("tiny")
    assert [cfg.train.seed for _, cfg, _ in found] == [1, 2]
    for _, cfg, plan in found:
        assert cfg.model.name_or_path == "openrs-tiny" and plan["rollout"]["backend"] == "hf"


def test_readme_lists_every_sweep_with_its_runs_and_cost() -> None:
    text = (SWEEP_DIR / "README.md").read_text()
    for name in SWEEPS:
        row = re.search(rf"^\| `{name}` \|.*$", text, re.MULTILINE)
        assert row, f"{name} missing from the table in sweep/README.md"
        cells = [cell.strip() for cell in row.group(0).strip("|").split("|")]
        assert cells[2] == str(len(job_overrides(name))), row.group(0)
        dollars = re.search(r"^# Cost: .*?\$([\d,]+(?:-[\d,]+)?)", header(name), re.MULTILINE)
        assert dollars and dollars.group(1) in cells[4], (name, cells[4])
