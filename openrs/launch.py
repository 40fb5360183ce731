"""Multi-GPU layouts: the argv for `accelerate launch` and `trl vllm-serve`, and the orchestration around them.

The argv builders are pure functions (tested on CPU); `launch_distributed` runs them: it starts the vLLM server
on the reserved GPU(s), waits until it answers, trains on the others, and stops the server on exit or failure.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from omegaconf import DictConfig

from openrs.errors import ConfigError
from openrs.plan import (
    accelerate_config_path,
    to_plain,
    training_processes,
    vllm_max_model_length,
    vllm_server_gpus,
)

log = logging.getLogger(__name__)


def inside_distributed_launch() -> bool:
    """True in a process started by accelerate/torchrun (they set LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ


def gpu_split(cfg: DictConfig) -> tuple[list[int], list[int]]:
    """(training GPU ids, vLLM server GPU ids): training on the first GPUs, the server on the next ones."""
    train_gpus = list(range(training_processes(cfg)))
    return train_gpus, list(range(len(train_gpus), len(train_gpus) + vllm_server_gpus(cfg)))


def accelerate_argv(cfg: DictConfig, overrides: list[str], run_dir: Path, resuming: bool = False) -> list[str]:
    """`accelerate launch ... -m openrs <overrides>`; every rank writes into the same run dir."""
    argv = [sys.executable, "-m", "accelerate.commands.launch"]
    if cfg.launcher.accelerate_config:
        argv += ["--config_file", str(accelerate_config_path(cfg.launcher.accelerate_config))]
    argv += [
        "--num_processes",
        str(cfg.launcher.num_processes),
        "--main_process_port",
        str(cfg.launcher.main_process_port),
    ]
    kept = [o for o in overrides if not o.startswith(("hydra.run.dir=", "resume="))]
    return argv + ["-m", "openrs", *kept, f"hydra.run.dir={run_dir}", f"resume={run_dir if resuming else False}"]


def vllm_server_argv(cfg: DictConfig) -> list[str]:
    """`trl vllm-serve` with the rollout settings (the generation GPU of the paper's 3 + 1 layout)."""
    rollout = cfg.rollout
    argv = [
        "trl",
        "vllm-serve",
        "--model",
        cfg.model.name_or_path,
        "--revision",
        cfg.model.revision,
        "--tensor_parallel_size",
        str(rollout.tensor_parallel_size),
        "--data_parallel_size",
        str(max(1, rollout.server_gpus // rollout.tensor_parallel_size)),
        "--host",
        rollout.server_host,
        "--port",
        str(rollout.server_port),
        "--gpu_memory_utilization",
        str(rollout.gpu_memory_utilization),
        "--max_model_len",
        str(vllm_max_model_length(cfg)),
        "--dtype",
        to_plain(cfg.model.dtype),
    ]
    if rollout.enforce_eager:
        argv += ["--enforce_eager", "true"]
    return argv


def wait_for_server(host: str, port: int, timeout_s: float, process: subprocess.Popen) -> None:
    """Poll the server's /health/ endpoint until it answers 200, it dies, or the timeout passes."""
    url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/health/"
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the vLLM server exited with code {process.returncode} before becoming healthy")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(5)
    raise TimeoutError(f"the vLLM server did not answer {url} within {timeout_s:.0f}s (rollout.server_timeout)")


def launch_distributed(cfg: DictConfig, overrides: list[str], run_dir: Path, gpu_count: int, resuming: bool) -> int:
    """Run the configured layout; returns the training exit code."""
    train_gpus, server_gpus = gpu_split(cfg)
    needed = len(train_gpus) + len(server_gpus)
    if gpu_count < needed:
        raise ConfigError(
            f"This layout needs {needed} GPUs (launcher.num_processes={len(train_gpus)} + rollout.server_gpus="
            f"{len(server_gpus)}), but {gpu_count} are visible. Lower launcher.num_processes or use "
            "rollout=vllm_colocate launcher=local on one GPU."
        )
    server = None
    try:
        if server_gpus:
            env = dict(os.environ, CUDA_VISIBLE_DEVICES=",".join(map(str, server_gpus)))
            log_path = run_dir / "vllm_server.log"
            log.info("Starting the vLLM server on GPU(s) %s (log: %s)", server_gpus, log_path)
            server = subprocess.Popen(
                vllm_server_argv(cfg), env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT
            )
            wait_for_server(cfg.rollout.server_host, cfg.rollout.server_port, cfg.rollout.server_timeout, server)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=",".join(map(str, train_gpus)))
        return subprocess.run(accelerate_argv(cfg, overrides, run_dir, resuming), env=env, check=False).returncode
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
