"""The accelerate config file a launch uses, and what it says of DeepSpeed (read once, here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openrs.config import Device, LauncherName, OpenRSConfig
from openrs.errors import ConfigError

#: The accelerate configs openrs ships (zero2, zero3, ddp).
SHIPPED_ACCELERATE_CONFIGS = Path(__file__).resolve().parent / "accelerate_configs"


def accelerate_config_path(name_or_path: str) -> Path:
    """A shipped accelerate config (`zero2`, `zero3`, `ddp`) or a user's yaml path."""
    shipped = SHIPPED_ACCELERATE_CONFIGS / f"{name_or_path}.yaml"
    return shipped if shipped.exists() else Path(name_or_path)


#: Shipped accelerate configs that use DeepSpeed (CUDA only).
DEEPSPEED_CONFIGS = ("zero2", "zero3")


def effective_accelerate_config(cfg: OpenRSConfig) -> str:
    """The accelerate config file a launch uses. Always a file, so a user's own default accelerate config never
    changes a run: null means plain DDP (`ddp`), and on CPU (`train.device=cpu`) the DeepSpeed configs become `ddp`
    (DeepSpeed needs CUDA; the processes then talk over gloo)."""
    name = cfg.launcher.accelerate_config
    if name is None or (cfg.train.device == Device.cpu and name in DEEPSPEED_CONFIGS):
        name = "ddp"
    return str(accelerate_config_path(name))


@dataclass(frozen=True)
class DeepSpeedSettings:
    """What an accelerate config file says of DeepSpeed: None stage means no DeepSpeed."""

    zero_stage: int | None = None
    offload_optimizer: bool = False
    offload_params: bool = False


def deepspeed_settings(accelerate_config: Path) -> DeepSpeedSettings:
    """The ZeRO stage and offloads of an accelerate config file (unreadable: no DeepSpeed; accelerate reports it)."""
    import yaml

    try:
        settings = yaml.safe_load(accelerate_config.read_text())
    except (OSError, yaml.YAMLError):
        return DeepSpeedSettings()
    if not isinstance(settings, dict) or settings.get("distributed_type") != "DEEPSPEED":
        return DeepSpeedSettings()
    deepspeed = settings.get("deepspeed_config")
    deepspeed = deepspeed if isinstance(deepspeed, dict) else {}
    stage = deepspeed.get("zero_stage", 0)
    if stage not in (0, 1, 2, 3):
        raise ConfigError(
            f"{accelerate_config}: deepspeed_config.zero_stage={stage!r}; DeepSpeed's ZeRO stages are 0, 1, 2 and 3."
        )
    return DeepSpeedSettings(
        zero_stage=stage,
        offload_optimizer=deepspeed.get("offload_optimizer_device", "none") not in ("none", None),
        offload_params=deepspeed.get("offload_param_device", "none") not in ("none", None),
    )


def uses_deepspeed(cfg: OpenRSConfig) -> bool:
    """Whether the run trains under DeepSpeed: launcher=accelerate with an accelerate config that asks for it (never
    on CPU, where the DeepSpeed configs become ddp)."""
    if cfg.launcher.name != LauncherName.accelerate:
        return False
    return deepspeed_settings(Path(effective_accelerate_config(cfg))).zero_stage is not None
