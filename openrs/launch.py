"""Running a layout: the training processes (`accelerate launch`, or one child process) and the vLLM server.

The process the user started is the *launcher*: it checks the machine, resolves the run dir and the model once,
starts `trl vllm-serve` on the reserved GPU(s) when the rollout needs one, waits until it answers, starts the
training processes with `OPENRS_LAUNCHED=1`, and stops the server on exit, failure or SIGTERM. The training
processes (*ranks*) re-enter `python -m openrs` with the run dir and resume point fixed on their command line; they
never re-check the machine or re-launch (:func:`inside_launch`).

Multi-node: one launcher per machine (one Slurm task per node), each starting `accelerate launch` with its
machine rank; the vLLM server runs on the first machine, where global rank 0 talks to it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from openrs.accelerate_files import effective_accelerate_config
from openrs.config import Device, LauncherName, OpenRSConfig
from openrs.errors import ConfigError
from openrs.plan import vllm_max_model_length
from openrs.precision import training_precision

log = logging.getLogger(__name__)

#: Set by the launcher in the environment of the training processes it starts: the flag, and its own pid.
LAUNCHED_ENV = "OPENRS_LAUNCHED"
LAUNCHER_PID_ENV = "OPENRS_LAUNCHER_PID"
#: Variables of a distributed launch (accelerate, torchrun, TRL's colocated vLLM) that a separate engine must not see.
DISTRIBUTED_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK")


def inside_launch() -> bool:
    """True in a training process started by an openrs launcher (or by accelerate/torchrun: LOCAL_RANK is set)."""
    return os.environ.get(LAUNCHED_ENV) == "1" or "LOCAL_RANK" in os.environ


def watch_launcher(interval_s: float = 1.0) -> None:
    """In a rank: end this process when the launcher is gone. torchrun starts each rank in a session of its own, so
    a SIGKILL of the launcher's process group (an OOM kill, `kill -9`) would leave the ranks training on, writing
    into the run dir while the same command is relaunched and resumes it."""
    import threading

    pid = int(os.environ.get(LAUNCHER_PID_ENV, "0"))
    if pid <= 0:
        return

    def watch() -> None:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                log.error("the launcher (pid %d) is gone: stopping this training process", pid)
                os.kill(os.getpid(), signal.SIGKILL)
            except PermissionError:
                pass  # alive, under another user
            time.sleep(interval_s)

    threading.Thread(target=watch, name="openrs-launcher-watch", daemon=True).start()


@dataclass(frozen=True)
class Machine:
    """This machine's place in a (possibly multi-node) launch."""

    rank: int = 0
    count: int = 1
    main_address: str = "127.0.0.1"


def slurm_hostnames() -> list[str]:
    """The job's hosts, in order, from SLURM_JOB_NODELIST (submitit's parser of Slurm's `a[01-03],b` syntax)."""
    from submitit.slurm.slurm import SlurmJobEnvironment, SlurmParseException

    listed = os.environ.get("SLURM_JOB_NODELIST", os.environ.get("SLURM_NODELIST", ""))
    if not listed.strip():
        raise ConfigError("SLURM_JOB_NODELIST is not set, so the first machine's address is unknown: run inside the "
                          "Slurm job's step (srun), or set launcher.main_process_ip.")  # fmt: skip
    try:
        return SlurmJobEnvironment().hostnames
    except SlurmParseException as err:
        raise ConfigError(f"SLURM_JOB_NODELIST={listed!r} is not a Slurm host list: set "
                          "launcher.main_process_ip to the first machine's address instead.") from err  # fmt: skip


def slurm_number(*names: str) -> int | None:
    """The first of these Slurm variables that is set, as a whole number (None when none is); a ConfigError naming
    it when it is not one."""
    for name in names:
        value = os.environ.get(name)
        if value is None:
            continue
        if not value.strip().isdigit():
            raise ConfigError(f"{name}={value!r} is not a whole number: it is Slurm's own variable; run inside a "
                              "Slurm job (or unset it), or set the launcher.* options by hand.")  # fmt: skip
        return int(value)
    return None


def machine_layout(cfg: OpenRSConfig) -> Machine:
    """This machine's rank and the main machine's address: from `launcher.*`, else from Slurm's environment."""
    launcher = cfg.launcher
    if launcher.num_machines == 1:
        return Machine()
    rank, address, source = launcher.machine_rank, launcher.main_process_ip, "launcher.machine_rank"
    nodes = slurm_number("SLURM_JOB_NUM_NODES", "SLURM_NNODES") or 1
    if nodes > 1:
        if nodes != launcher.num_machines:
            raise ConfigError(
                f"Slurm gave this job {nodes} nodes (SLURM_JOB_NUM_NODES) and launcher.num_machines="
                f"{launcher.num_machines}: the launchers would wait for machines that never join. Set "
                f"launcher.num_machines={nodes}, or ask Slurm for {launcher.num_machines} nodes (--nodes)."
            )
        if rank is None:
            rank, source = slurm_number("SLURM_NODEID"), "SLURM_NODEID"
            if rank is None:
                raise ConfigError("SLURM_NODEID is not set: start one openrs per node inside the job (srun "
                                  "--ntasks-per-node=1), or set launcher.machine_rank.")  # fmt: skip
        address = slurm_hostnames()[0] if address is None else address
    if rank is None or address is None:
        raise ConfigError(
            f"launcher.num_machines={launcher.num_machines} needs this machine's rank and the first machine's address: "
            "set launcher.machine_rank and launcher.main_process_ip on each machine, or launch one task per node "
            "under Slurm (they are read from SLURM_NODEID and SLURM_JOB_NODELIST)."
        )
    if not 0 <= rank < launcher.num_machines:
        raise ConfigError(f"{source}={rank}: this machine's rank must be in [0, {launcher.num_machines - 1}] "
                          f"(launcher.num_machines={launcher.num_machines}).")  # fmt: skip
    return Machine(rank=int(rank), count=int(launcher.num_machines), main_address=str(address))


def visible_gpu_ids(gpu_count: int) -> list[str]:
    """The GPU ids this process may use: CUDA_VISIBLE_DEVICES's entries (a node may have assigned us 4-7), else
    0..gpu_count-1."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None and listed.strip():
        return [item.strip() for item in listed.split(",") if item.strip()]
    return [str(i) for i in range(gpu_count)]


def gpu_split(cfg: OpenRSConfig, visible: list[str], machine: Machine = Machine()) -> tuple[list[str], list[str]]:
    """(training GPU ids, vLLM server GPU ids) on this machine, indexing into the visible ids: training on the first,
    the server (first machine only) on the next ones."""
    train_count = cfg.launcher.processes_per_machine
    server_count = cfg.rollout.reserved_server_gpus if machine.rank == 0 else 0
    return visible[:train_count], visible[train_count : train_count + server_count]


def rank_overrides(overrides: list[str], run_dir: Path, checkpoint: Path | None) -> list[str]:
    """The user's overrides, with the run dir and resume point (the checkpoint's dir, or False) fixed, for the
    training processes (which write no Hydra record of their own: the launcher's is in the run dir)."""
    fixed = ("hydra.run.dir=", "hydra.output_subdir=", "resume=")
    kept = [o for o in overrides if not o.lstrip("+~").startswith(fixed)]
    return [*kept, f"hydra.run.dir={run_dir}", f"resume={checkpoint or False}", "hydra.output_subdir=null"]


def accelerate_argv(
    cfg: OpenRSConfig, overrides: list[str], run_dir: Path, checkpoint: Path | None = None,
    machine: Machine = Machine(),
) -> list[str]:  # fmt: skip
    """`accelerate launch ... -m openrs <overrides>`; every rank writes into the same run dir."""
    argv = [sys.executable, "-m", "accelerate.commands.launch"]
    config = effective_accelerate_config(cfg)
    if config is not None:
        argv += ["--config_file", config]
    argv += [
        "--num_processes",
        str(cfg.launcher.training_processes),
        "--num_machines",
        str(machine.count),
        "--machine_rank",
        str(machine.rank),
        "--main_process_ip",
        machine.main_address,
        "--main_process_port",
        str(cfg.launcher.main_process_port),
        "--mixed_precision",  # from model.dtype, whatever the accelerate config file says (openrs.precision)
        training_precision(cfg).mixed_precision,
    ]
    return argv + ["-m", "openrs", *rank_overrides(overrides, run_dir, checkpoint)]


def local_argv(overrides: list[str], run_dir: Path, checkpoint: Path | None = None) -> list[str]:
    """One training process (launcher=local beside a vLLM server on another GPU, or a run that may roll back)."""
    return [sys.executable, "-m", "openrs", *rank_overrides(overrides, run_dir, checkpoint)]


def training_argv(cfg: OpenRSConfig, overrides: list[str], run_dir: Path, checkpoint: Path | None,
                  machine: Machine) -> list[str]:  # fmt: skip
    """The command that starts this machine's training processes, resuming from `checkpoint` when given. Beside a
    vLLM server with no `rollout.group_port`, a free port is picked for the weight-transfer group's rendezvous (rank
    0 hosts it: TRL's fixed 51216 made two runs on one machine collide)."""
    if cfg.rollout.reserved_server_gpus and cfg.rollout.group_port is None:
        overrides = [*overrides, f"rollout.group_port={free_port()}"]
    if cfg.launcher.name == LauncherName.accelerate:
        return accelerate_argv(cfg, overrides, run_dir, checkpoint, machine)
    return local_argv(overrides, run_dir, checkpoint)


def vllm_server_argv(cfg: OpenRSConfig, model_path: str) -> list[str]:
    """The `vllm serve` command line that `trl vllm-serve` runs (TRL's own builder: the weight-transfer and logprob
    flags TRL's client relies on), for the resolved local model dir (the pinned revision, nothing to download).

    One model copy: TRL 1.16 errors with data_parallel_size > 1 for dense models, so the server's GPUs are its
    tensor-parallel group (RolloutConfig checks it)."""
    from trl.scripts.vllm_serve import ScriptArguments, build_command

    rollout = cfg.rollout
    arguments = ScriptArguments(
        model=model_path,
        tensor_parallel_size=rollout.tensor_parallel_size,
        data_parallel_size=1,
        host=rollout.server_host,
        port=rollout.server_port,
        gpu_memory_utilization=rollout.gpu_memory_utilization,
        max_model_len=vllm_max_model_length(cfg),
        dtype=cfg.model.dtype.value,
        enforce_eager=rollout.enforce_eager,
        trust_remote_code=cfg.model.trust_remote_code,
    )
    return build_command(arguments)


def server_url(host: str, port: int) -> str:
    return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"


def wait_for_server(host: str, port: int, timeout_s: float, process: subprocess.Popen, log_path: Path | None = None):
    """Poll the server's `/health` until it answers 200, it dies, or `timeout_s` passes (progress every 30 s)."""
    url = f"{server_url(host, port)}/health"
    started = time.monotonic()
    last_note = started
    where = f" (log: {log_path})" if log_path else ""
    while time.monotonic() - started < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"the vLLM server exited with code {process.returncode} before answering{where}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    log.info("vLLM server healthy after %.0fs at %s", time.monotonic() - started, url)
                    return
        except OSError:
            pass
        if time.monotonic() - last_note >= 30:
            last_note = time.monotonic()
            log.info("waiting for the vLLM server: %.0fs of %.0fs%s", last_note - started, timeout_s, where)
        time.sleep(1)
    raise TimeoutError(
        f"the vLLM server did not answer {url} within {timeout_s:.0f}s (rollout.server_timeout; the model was "
        f"already on disk, so this is engine start-up){where}"
    )


def start_vllm_server(cfg: OpenRSConfig, model_path: str, gpu_ids: list[str], log_path: Path) -> subprocess.Popen:
    """`trl vllm-serve`'s command in its own process group (vLLM starts engine processes of its own)."""
    from openrs.vllm_colocate import DEFAULT_CPU_KV_CACHE_GIB
    from openrs.vllm_support import vllm_device

    env = dict(os.environ, VLLM_SERVER_DEV_MODE="1")  # the weight-transfer endpoints TRL uses (as trl vllm-serve)
    if vllm_device() == "cpu":
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", DEFAULT_CPU_KV_CACHE_GIB)
    if gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    for variable in (*DISTRIBUTED_ENV, LAUNCHED_ENV, LAUNCHER_PID_ENV):
        env.pop(variable, None)
    log.info("Starting the vLLM server on GPU(s) %s (log: %s)", ",".join(gpu_ids) or "-", log_path)
    guarded = [sys.executable, "-m", "openrs.process_guard", str(os.getpid()), *vllm_server_argv(cfg, model_path)]
    with log_path.open("ab") as sink:
        return subprocess.Popen(guarded, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def port_holder(host: str, port: int) -> str | None:
    """Who listens on `port` (None: it is free): the process, by pid and command line, when it can be found."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed socket's TIME_WAIT does not count
        try:
            probe.bind(("" if host == "0.0.0.0" else host, port))
            return None
        except OSError:
            pass
    import psutil

    try:
        pids = {c.pid for c in psutil.net_connections(kind="tcp") if c.laddr and c.laddr.port == port and c.pid}
    except psutil.Error:
        pids = set()
    for pid in sorted(pids):
        try:
            return f"pid {pid} ({' '.join(psutil.Process(pid).cmdline())[:160]})"
        except psutil.Error:
            continue
    return "another process"


def check_ports(cfg: OpenRSConfig, machine: Machine) -> None:
    """The ports this launch will open on this machine are free, before anything starts: the vLLM server's (a stale
    server's /health would otherwise answer for the new one), its weight-transfer group's when set, and accelerate's
    main process port on the first machine. A taken port is named with the process that holds it."""
    if machine.rank != 0:
        return
    rollout, wanted = cfg.rollout, []
    if rollout.reserved_server_gpus:
        wanted.append(("rollout.server_port", rollout.server_host, rollout.server_port))
        if rollout.group_port is not None:
            wanted.append(("rollout.group_port", "0.0.0.0", rollout.group_port))
    if cfg.launcher.name == LauncherName.accelerate:
        wanted.append(("launcher.main_process_port", "0.0.0.0", cfg.launcher.main_process_port))
    for key, host, port in wanted:
        holder = port_holder(host, port)
        if holder is not None:
            raise ConfigError(
                f"{key}={port} is already in use by {holder}: another run on this machine, or a server an earlier "
                f"run left? Stop it, or set {key} to a free port."
            )


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def stop_process_group(process: subprocess.Popen | None, grace_s: float = 60) -> None:
    """SIGTERM a process group, wait up to `grace_s`, then SIGKILL it."""
    if process is None or process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


class Terminated(Exception):
    """The launcher got SIGTERM (a preempted Slurm job): stop the server and the ranks, then exit."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signal.Signals(signum).name)


def training_env(cfg: OpenRSConfig, gpu_ids: list[str]) -> dict[str, str]:
    """The ranks' environment: marked as launched, on their GPUs, with a thread count chosen for CPU runs."""
    env = dict(os.environ, **{LAUNCHED_ENV: "1", LAUNCHER_PID_ENV: str(os.getpid())})
    if gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    if cfg.train.device == Device.cpu and "OMP_NUM_THREADS" not in env:
        # several processes on few cores: more threads than cores per process makes torch many times slower
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // cfg.launcher.processes_per_machine))
    return env


def rollback_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint a guardrail's rollback restarts from, when the training processes ended for one (rank 0 wrote
    status `rolling_back` in summary.json before every rank left), else None."""
    from openrs.run_dir import read_summary

    summary = read_summary(run_dir) or {}
    if summary.get("status") != "rolling_back":
        return None
    return Path(summary["guard"]["rollbacks"][-1]["to"])


def release_weight_transfer(cfg: OpenRSConfig, server: subprocess.Popen, model_path: str, gpu_ids: list[str],
                            log_path: Path) -> subprocess.Popen:  # fmt: skip
    """Before the training processes start again: the server drops the ended trainer's weight-transfer group
    (vLLM's `/shutdown_weight_transfer_engine`; TRL's client only closes its own side), so the new trainer's
    `init_communicator` opens a fresh one. A server without that route is restarted instead. Returns the server."""
    rollout = cfg.rollout
    url = f"{server_url(rollout.server_host, rollout.server_port)}/shutdown_weight_transfer_engine"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=60) as response:
            released = response.status == 200
    except OSError as err:
        log.warning("the vLLM server did not release its weight-transfer group (%s): restarting it", err)
        released = False
    if not released:
        stop_process_group(server)
        server = start_vllm_server(cfg, model_path, gpu_ids, log_path)
    wait_for_server(rollout.server_host, rollout.server_port, rollout.server_timeout, server, log_path)
    return server


def launch(
    cfg: OpenRSConfig, overrides: list[str], run_dir: Path, *, model_path: str, checkpoint: Path | None,
    machine: Machine, gpu_count: int,
) -> int:  # fmt: skip
    """Run the configured layout from this launcher; returns the training exit code. When the training processes end
    for a guardrail's rollback, they are started again from its checkpoint (the server kept, its weight-transfer
    group released), as a relaunch after a kill resumes: every engine and process group is new."""
    train_gpus, server_gpus = gpu_split(cfg, visible_gpu_ids(gpu_count) if gpu_count else [], machine)
    server = trainers = None
    log_path = run_dir / "vllm_server.log"
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        if cfg.rollout.reserved_server_gpus and machine.rank == 0:
            server = start_vllm_server(cfg, model_path, server_gpus, log_path)
            rollout = cfg.rollout
            wait_for_server(rollout.server_host, rollout.server_port, rollout.server_timeout, server, log_path)
        while True:
            argv = training_argv(cfg, overrides, run_dir, checkpoint, machine)
            log.info("Starting %d training process(es) on this machine: %s", cfg.launcher.processes_per_machine,
                     " ".join(argv))  # fmt: skip
            trainers = subprocess.Popen(argv, env=training_env(cfg, train_gpus))
            code = trainers.wait()
            checkpoint = rollback_checkpoint(run_dir) if code == 0 else None
            if checkpoint is None:
                return code
            log.warning("openrs guard: the training processes ended for a rollback; starting them again from %s",
                        checkpoint)  # fmt: skip
            if server is not None:
                server = release_weight_transfer(cfg, server, model_path, server_gpus, log_path)
    except (Terminated, KeyboardInterrupt) as stop:
        log.warning("launcher stopped (%s): stopping the training processes and the vLLM server", stop or "SIGINT")
        return 143 if isinstance(stop, Terminated) else 130
    finally:
        if trainers is not None and trainers.poll() is None:
            trainers.terminate()  # accelerate forwards it to the ranks
            try:
                trainers.wait(timeout=120)
            except subprocess.TimeoutExpired:
                trainers.kill()
        stop_process_group(server)
        signal.signal(signal.SIGTERM, previous)
