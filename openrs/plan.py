"""Translate a resolved openrs config into the exact arguments of TRL, PEFT and the launcher: the run's plan.

`build_plan` is a pure function of the config: `dry_run=true` prints it, the trainer is built from it, and the
tests pin every experiment through it. Nothing here imports torch or loads a model.
"""

from __future__ import annotations

from typing import Any

from openrs.accelerate_files import effective_accelerate_config
from openrs.config import Device, LauncherName, LoggerName, OpenRSConfig, RolloutBackend, VllmMode, plain_dict
from openrs.guardrails.detectors import blind_detectors
from openrs.naming import run_tags
from openrs.precision import training_precision


def vllm_max_model_length(cfg: OpenRSConfig) -> int:
    """The vLLM context: explicit `length.vllm_max_model_length`, else prompt budget + completion budget."""
    explicit = cfg.length.vllm_max_model_length
    return int(explicit) if explicit is not None else cfg.length.max_prompt_length + cfg.length.max_completion_length


def model_init_kwargs(cfg: OpenRSConfig) -> dict[str, Any]:
    """`GRPOConfig.model_init_kwargs`: how TRL loads the policy (and reference) model."""
    return {
        "dtype": training_precision(cfg).load_dtype,  # float32 master weights where nothing else keeps them
        "attn_implementation": cfg.model.attn_implementation.value,
        "revision": cfg.model.revision,
    }


def grpo_arguments(cfg: OpenRSConfig, output_dir: str) -> dict[str, Any]:
    """Every argument passed to `trl.GRPOConfig`, by TRL's own field names (TRL 1.16).

    Each one is set explicitly, including those equal to TRL's defaults, because TRL's defaults moved since the
    paper (beta 0.04 -> 0.0, loss "grpo" -> "dapo") and may move again.
    """
    return trainer_arguments(cfg, output_dir) | algorithm_arguments(cfg) | rollout_arguments(cfg)


def trainer_arguments(cfg: OpenRSConfig, output_dir: str) -> dict[str, Any]:
    """The transformers Trainer's part: batches, precision, model loading, optimiser, schedule, logging, saving."""
    train, opt = cfg.train, cfg.optimizer
    return {
        "output_dir": output_dir,
        "run_name": None,  # filled by the trainer with the derived run name
        "seed": train.seed,
        "data_seed": train.seed,
        "max_steps": train.max_steps,
        "per_device_train_batch_size": train.per_device_train_batch_size,
        "gradient_accumulation_steps": train.gradient_accumulation_steps,
        "gradient_checkpointing": train.gradient_checkpointing,
        "gradient_checkpointing_kwargs": {"use_reentrant": False} if train.gradient_checkpointing else None,
        "bf16": training_precision(cfg).mixed_precision == "bf16",
        "fp16": training_precision(cfg).mixed_precision == "fp16",
        "use_cpu": train.device == Device.cpu,
        "model_init_kwargs": model_init_kwargs(cfg),
        "trust_remote_code": cfg.model.trust_remote_code,
        # optimiser and schedule
        "optim": opt.optim,
        "learning_rate": opt.learning_rate,
        "weight_decay": opt.weight_decay,
        "adam_beta1": opt.adam_beta1,
        "adam_beta2": opt.adam_beta2,
        "adam_epsilon": opt.adam_epsilon,
        "max_grad_norm": opt.max_grad_norm,
        "lr_scheduler_type": opt.lr_scheduler_type,
        "lr_scheduler_kwargs": {"min_lr_rate": opt.min_lr_rate} if opt.min_lr_rate is not None else None,
        "warmup_steps": opt.warmup_ratio,  # transformers 5: a value < 1 is a ratio of the total steps
        # logging and checkpoints
        "logging_steps": train.logging_steps,
        # a NaN or infinite loss is logged as it is (transformers would log the mean of the earlier ones instead),
        # so the `nonfinite` guardrail and the user see it
        "logging_nan_inf_filter": False,
        "save_strategy": "steps",
        "save_steps": train.save_steps,
        "save_total_limit": train.save_total_limit,
        # a held-out validation split (dataset.validation_size > 0) is scored with the rewards at every save
        "eval_strategy": "steps" if cfg.dataset.validation_size > 0 else "no",
        "eval_steps": train.save_steps,
        "per_device_eval_batch_size": train.per_device_train_batch_size,
        "report_to": ["wandb"] if cfg.logger.name == LoggerName.wandb else [],
        "log_completions": train.log_completions,
    }


def algorithm_arguments(cfg: OpenRSConfig) -> dict[str, Any]:
    """GRPO's part: the group and its sampling, the loss, clipping, KL and the reward weights."""
    train, algo = cfg.train, cfg.algorithm
    return {
        # generation
        "num_generations": train.num_generations,
        "max_completion_length": cfg.length.max_completion_length,
        "temperature": train.temperature,
        "top_p": train.top_p,
        # the algorithm
        "beta": algo.beta,
        "loss_type": algo.loss_type.value,
        "scale_rewards": algo.scale_rewards.value,
        "epsilon": algo.epsilon,
        "epsilon_high": algo.epsilon_high,
        "num_iterations": algo.num_iterations,
        "importance_sampling_level": algo.importance_sampling_level.value,
        "mask_truncated_completions": algo.mask_truncated_completions,
        "use_bias_correction_kl": algo.use_bias_correction_kl,
        "multi_objective_aggregation": "sum_then_normalize",
        "reward_weights": [float(spec.weight) for spec in cfg.reward.functions],
    }


def rollout_arguments(cfg: OpenRSConfig) -> dict[str, Any]:
    """Who generates: the trainer itself (hf), or vLLM colocated or as a server, with its settings."""
    rollout = cfg.rollout
    if rollout.backend != RolloutBackend.vllm:
        # NaN or infinite logits (weights a step blew up) become finite before sampling: the step's loss is then
        # logged as NaN and the `nonfinite` guardrail acts, instead of torch.multinomial ending the run
        return {"use_vllm": False, "generation_kwargs": {"remove_invalid_values": True}}
    args: dict[str, Any] = {
        "use_vllm": True,
        "vllm_mode": rollout.vllm_mode.value,
        "vllm_importance_sampling_correction": cfg.algorithm.vllm_importance_sampling_correction,
        "vllm_max_model_length": vllm_max_model_length(cfg),
    }
    if rollout.vllm_mode == VllmMode.colocate:
        return args | {
            "vllm_gpu_memory_utilization": rollout.gpu_memory_utilization,
            "vllm_tensor_parallel_size": rollout.tensor_parallel_size,
        }
    server = {
        "vllm_server_host": rollout.server_host,
        "vllm_server_port": rollout.server_port,
        "vllm_server_timeout": rollout.server_timeout,
    }
    if rollout.group_port is not None:  # else the launcher picks a free one for the ranks (openrs.launch)
        server["vllm_group_port"] = rollout.group_port
    return args | server


def launcher_plan(cfg: OpenRSConfig) -> dict[str, Any]:
    """How the run is launched: processes, accelerate config and GPUs needed in total."""
    launcher = plain_dict(cfg.launcher)
    if cfg.launcher.name == LauncherName.accelerate:
        launcher["accelerate_config"] = effective_accelerate_config(cfg)
    launcher["training_gpus"] = cfg.launcher.training_processes
    launcher["training_gpus_per_machine"] = cfg.launcher.processes_per_machine
    launcher["vllm_server_gpus"] = cfg.rollout.reserved_server_gpus
    launcher["total_gpus"] = launcher["training_gpus"] + launcher["vllm_server_gpus"]
    return launcher


def build_plan(cfg: OpenRSConfig, output_dir: str) -> dict[str, Any]:
    """The whole run as one JSON-serialisable dict (what `dry_run=true` prints)."""
    length = plain_dict(cfg.length)
    length["vllm_max_model_length"] = vllm_max_model_length(cfg)
    return {
        "name": cfg.name,
        "grpo": grpo_arguments(cfg, output_dir),
        "rewards": [
            {"name": spec.name, "weight": float(spec.weight), "params": spec.params} for spec in cfg.reward.functions
        ],
        "model": {
            key: plain_dict(cfg.model)[key] for key in ("name_or_path", "revision", "dtype", "attn_implementation")
        },
        "dataset": plain_dict(cfg.dataset),
        "length": length,
        "precision": training_precision(cfg).as_dict(),
        "peft": plain_dict(cfg.peft),
        "rollout": plain_dict(cfg.rollout),
        "launcher": launcher_plan(cfg),
        "logger": plain_dict(cfg.logger),
        "openrs": openrs_plan(cfg),
    }


def openrs_plan(cfg: OpenRSConfig) -> dict[str, Any]:
    """What openrs itself does around TRL's training, one key per behaviour: the run's records and resume, dynamic
    sampling, the guardrails and their rollback, evaluation before, during and after training, the memory check,
    the reward limits and the cost estimate."""
    return {
        "run": {"resume": cfg.resume, "cache_dir": cfg.cache_dir, "device": cfg.train.device.value,
                "sample_completions_every": cfg.logger.sample_completions_every,
                "tags": run_tags(cfg.name, cfg.model.name_or_path, cfg.algorithm.name, list(cfg.logger.tags))},
        "algorithm": plain_dict(cfg.algorithm),  # as configured (vLLM's options are inert with rollout=hf)
        "dynamic_sampling": dynamic_sampling_plan(cfg),
        "guardrails": guard_plan(cfg),
        "evaluation": evaluation_plan(cfg),
        "memory_check": plain_dict(cfg.memory),
        "rewards": {"time_limit_s": cfg.reward.time_limit_s},
        "cost": plain_dict(cfg.cost),
        "model": {"trust_remote_code": cfg.model.trust_remote_code},
    }  # fmt: skip


def dynamic_sampling_plan(cfg: OpenRSConfig) -> dict[str, Any] | None:
    """`algorithm.dynamic_sampling`: its cap and its filter's signal (None: off)."""
    algorithm = cfg.algorithm
    if not algorithm.dynamic_sampling:
        return None
    return {"max_sampling_rounds": algorithm.max_sampling_rounds, "signal": algorithm.dynamic_sampling_reward}


def guard_plan(cfg: OpenRSConfig) -> dict[str, Any]:
    """Each detector that watches the run (action not off) with its settings, and what a rollback does."""
    watching = {name: plain_dict(detector) for name, detector in cfg.guard.detectors().items()
                if detector.action.value != "off"}  # fmt: skip
    rollback = plain_dict(cfg.guard.rollback)
    rollback["learning_rate_after_n_rollbacks"] = f"{cfg.optimizer.learning_rate:g} x {rollback['lr_factor']:g}^n"
    off = sorted(set(cfg.guard.detectors()) - set(watching))
    return {"detectors": watching, "rollback": rollback, "off": off, "blind": blind_detectors(cfg)}


def evaluation_plan(cfg: OpenRSConfig) -> dict[str, Any]:
    """Benchmark evaluations the run makes: before and after training (the preset, in a fresh process) and during it
    (at every save, with the trainer's generation backend); None for each that is off."""
    preset = plain_dict(cfg.eval)
    during = preset.pop("during_training")
    before, after = preset.pop("before_train"), preset.pop("after_train")
    return {
        "preset": preset,
        "before_train": before,
        "after_train": after,
        "during_training": during if during["enabled"] else None,
    }
