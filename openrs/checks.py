"""Pre-flight checks: everything that can be known wrong from the config alone, raised before any download."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from openrs.config import OpenRSConfig
from openrs.errors import ConfigError
from openrs.plan import to_plain, training_processes

GPU_DTYPES = ("bfloat16", "float16")


def check_schema(cfg: DictConfig, schema_class: type = OpenRSConfig) -> None:
    """Re-validate the composed config against the schema: catches keys added with `+key=...` that it lacks."""
    schema = OmegaConf.structured(schema_class)
    try:
        # as a plain container: merging the typed node itself would carry the added key's flags along
        OmegaConf.merge(schema, OmegaConf.to_container(cfg, resolve=False))
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        parent = OmegaConf.select(schema, key.rsplit(".", 1)[0]) if "." in key else schema
        valid = sorted(parent.keys()) if isinstance(parent, DictConfig) else []
        hint = f"; valid keys here: {', '.join(valid)}" if valid else ""
        raise ConfigError(f"{key}: {str(err).splitlines()[0]}. Fix the spelling or remove it{hint}.") from err


def check_batch_shapes(cfg: DictConfig) -> None:
    """GRPO needs whole groups in every generation batch (TRL's rule, checked here before loading anything)."""
    train = cfg.train
    processes = training_processes(cfg)
    if train.num_generations < 2:
        raise ConfigError(
            f"train.num_generations={train.num_generations}: GRPO compares completions within a group, so it "
            "needs at least 2. Set train.num_generations=2 or more."
        )
    generation_batch = train.per_device_train_batch_size * processes * train.gradient_accumulation_steps
    if generation_batch % train.num_generations != 0:
        raise ConfigError(
            f"The generation batch (train.per_device_train_batch_size={train.per_device_train_batch_size} x "
            f"{processes} process(es) x train.gradient_accumulation_steps={train.gradient_accumulation_steps} = "
            f"{generation_batch}) is not divisible by train.num_generations={train.num_generations}. Choose "
            "sizes whose product is a multiple of num_generations (the paper: 6 x 3 x 4 = 72, 6 generations)."
        )
    for key in ("max_prompt_length", "max_completion_length"):
        if cfg.length[key] < 1:
            raise ConfigError(f"length.{key}={cfg.length[key]} must be at least 1.")
    if train.max_steps < 1:
        raise ConfigError(f"train.max_steps={train.max_steps} must be at least 1.")


def check_rewards(cfg: DictConfig) -> None:
    """Every reward exists and accepts its params (built once here and thrown away)."""
    from openrs.rewards import get_reward

    if len(cfg.reward.functions) == 0:
        raise ConfigError("reward.functions is empty: pick a reward group, e.g. reward=accuracy_format.")
    for index, spec in enumerate(cfg.reward.functions):
        try:
            get_reward(spec.name, **to_plain(spec.params))
        except (ValueError, TypeError) as err:
            raise ConfigError(f"reward.functions[{index}] ({spec.name}): {err}") from err


def gpu_requirements(cfg: DictConfig) -> list[str]:
    """The config keys that need a CUDA GPU, each with its value."""
    needs = []
    if to_plain(cfg.rollout.backend) == "vllm":
        needs.append(f"rollout.backend=vllm (vllm_mode={to_plain(cfg.rollout.vllm_mode)})")
    if to_plain(cfg.model.dtype) in GPU_DTYPES:
        needs.append(f"model.dtype={to_plain(cfg.model.dtype)} (mixed-precision training)")
    if to_plain(cfg.launcher.name) == "accelerate":
        needs.append(f"launcher=accelerate with {cfg.launcher.num_processes} training processes")
    if to_plain(cfg.train.device) == "cuda":
        needs.append("train.device=cuda")
    return needs


def check_machine(cfg: DictConfig, cuda_available: bool) -> None:
    """Stop at once, before any download, when the config needs a GPU this machine lacks."""
    needs = gpu_requirements(cfg)
    if needs and not cuda_available:
        raise ConfigError(
            f"'{cfg.name}' needs a CUDA GPU, and this machine has none. It asks for: " + "; ".join(needs) + ". "
            "Nothing was downloaded. On this machine, run the tiny CPU default with `python -m openrs`, or print "
            "this run's full plan with `python -m openrs <same overrides> dry_run=true`."
        )


def check_config(cfg: DictConfig) -> None:
    """All checks that need no hardware (run for dry runs too)."""
    check_schema(cfg)
    check_batch_shapes(cfg)
    check_rewards(cfg)
