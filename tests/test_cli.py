"""Hydra's own flags work as Hydra users expect, and every config group lists its options."""

from __future__ import annotations

from tests.conftest import CONF_DIR, run_openrs

GROUPS = ["model", "dataset", "reward", "optimizer", "length", "algorithm", "peft", "rollout", "launcher", "logger"]


def test_help_lists_every_group_and_option(tmp_path) -> None:
    result = run_openrs("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for group in [*GROUPS, "experiment"]:
        options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        assert options, group
        assert f"{group}: {', '.join(options)}" in result.stdout


def test_cfg_job_prints_the_composed_config(tmp_path) -> None:
    result = run_openrs("--cfg", "job", "+experiment=exp2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "name: exp2" in result.stdout
    assert "path: knoveleng/open-rs" in result.stdout
