"""Launcher command construction for the multi-GPU layouts (pure functions; the GPUs themselves cannot exist here)."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from openrs.errors import ConfigError
from openrs.launch import accelerate_argv, gpu_split, launch_distributed, vllm_server_argv, wait_for_server
from tests.conftest import compose_config


def test_paper_layout_is_three_trainers_and_one_generator() -> None:
    assert gpu_split(compose_config("+experiment=exp3")) == ([0, 1, 2], [3])
    assert gpu_split(compose_config("+experiment=exp3", "rollout=vllm_colocate")) == ([0, 1, 2], [])


def test_accelerate_argv_relaunches_openrs_with_the_same_overrides(tmp_path: Path) -> None:
    cfg = compose_config("+experiment=exp3", "train.seed=3")
    argv = accelerate_argv(cfg, ["+experiment=exp3", "train.seed=3", "hydra.run.dir=elsewhere"], tmp_path)
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert argv[argv.index("--config_file") + 1].endswith("openrs/accelerate_configs/zero2.yaml")
    assert argv[argv.index("--num_processes") + 1] == "3"
    assert argv[argv.index("-m", 3) :] == [
        "-m",
        "openrs",
        "+experiment=exp3",
        "train.seed=3",
        f"hydra.run.dir={tmp_path}",
        "resume=False",
    ]
    assert accelerate_argv(cfg, [], tmp_path, resuming=True)[-1] == f"resume={tmp_path}"


def test_vllm_server_argv_carries_the_rollout_settings() -> None:
    argv = vllm_server_argv(compose_config("+experiment=exp3"))
    assert argv[:2] == ["trl", "vllm-serve"]
    pairs = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert pairs["--model"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    assert pairs["--gpu_memory_utilization"] == "0.7"
    assert pairs["--max_model_len"] == "4096"
    assert pairs["--enforce_eager"] == "true"
    assert pairs["--port"] == "8000"
    assert pairs["--dtype"] == "bfloat16"


def test_too_few_gpus_is_refused_before_anything_starts(tmp_path: Path) -> None:
    cfg = compose_config("+experiment=exp3")
    with pytest.raises(ConfigError, match="needs 4 GPUs"):
        launch_distributed(cfg, [], tmp_path, gpu_count=2, resuming=False)


class Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        self.send_response(200 if self.path == "/health/" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_wait_for_server_returns_once_healthy() -> None:
    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        wait_for_server("127.0.0.1", server.server_address[1], timeout_s=10, process=idle)
    finally:
        idle.kill()
        server.shutdown()


def test_wait_for_server_reports_a_dead_server() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_for_server("127.0.0.1", 9, timeout_s=10, process=dead)
