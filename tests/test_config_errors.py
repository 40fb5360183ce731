"""Bad input gets a clear error naming the key and the fix, before any model or dataset is loaded.

Nearly every `raise ConfigError` in openrs is raised by a test here or beside the module it guards. Not raised by
any test: a hub dataset without the problem column (`benchmarks.load_benchmark`), a model revision or repo the hub
lacks (`models.resolve_model_path`) - they need the hub; reading a W&B group fails or finds no runs
(`compare.wandb_runs`) - they need a W&B server; a data-parallel evaluation shard that exits non-zero - reachable,
not yet written. The faults of issue 12 (unreadable data, user rewards, partial runs, busy run dirs, W&B, locations,
key names) are driven through the command line in test_bad_overrides, test_bad_data, test_user_rewards,
test_partial_runs, test_error_keys and test_preflight.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import torch

from openrs.checks import check_config, check_machine
from openrs.data.prepare import prepare_dataset
from openrs.errors import ConfigError
from tests.conftest import compose_config, run_module, run_openrs


def failing(*overrides: str, tmp_path) -> str:
    """Run the command, assert it fails, return what it printed on stderr."""
    result = run_openrs(*overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip()  # the explanation goes to stderr (stdout may carry library notices)
    return result.stderr


def test_unknown_key_names_the_key(tmp_path) -> None:
    err = failing("model.nme_or_path=x", tmp_path=tmp_path)
    assert "nme_or_path" in err and "model.nme_or_path" in err


def test_unknown_key_added_with_plus_is_rejected_by_the_schema(tmp_path) -> None:
    err = failing("+train.lerning_rate=1", tmp_path=tmp_path)
    assert "lerning_rate" in err and "TrainConfig" in err


def test_wrong_type_names_the_key(tmp_path) -> None:
    err = failing("train.max_steps=many", tmp_path=tmp_path)
    assert "train.max_steps" in err and "many" in err


def test_invalid_choice_lists_the_valid_ones(tmp_path) -> None:
    err = failing("model.dtype=float8", tmp_path=tmp_path)
    assert "model.dtype" in err and "bfloat16" in err


def test_unknown_group_option_lists_the_available_ones(tmp_path) -> None:
    err = failing("algorithm=ppo", tmp_path=tmp_path)
    assert "grpo_2025" in err and "dr_grpo" in err


def test_typo_inside_a_group_yaml_is_caught(tmp_path) -> None:
    (tmp_path / "extra" / "model").mkdir(parents=True)
    (tmp_path / "extra" / "model" / "typo.yaml").write_text("name_or_path: x\nattn_impl: sdpa\n")
    err = failing(f"hydra.searchpath=[file://{tmp_path / 'extra'}]", "model=typo", tmp_path=tmp_path)
    assert "attn_impl" in err


def test_local_dataset_needs_a_path(tmp_path) -> None:
    err = failing("dataset=jsonl", tmp_path=tmp_path)
    assert "dataset.path is required for dataset.source=local: a hub id or a local file/folder" in err


def test_indivisible_generation_batch_is_explained(tmp_path) -> None:
    err = failing("train.num_generations=3", tmp_path=tmp_path)
    assert "train.num_generations=3" in err and "divisible" in err


def test_one_generation_is_not_a_group() -> None:
    with pytest.raises(ConfigError, match="at least 2"):  # checked by TrainConfig as the config becomes typed
        compose_config("train.num_generations=1", "train.per_device_train_batch_size=1")


def test_bad_reward_param_names_the_reward() -> None:
    cfg = compose_config("reward=format_cosine", "reward.functions.1.params.mode=bogus")
    with pytest.raises(ConfigError, match=r"reward.functions\[1\] \(cosine\)"):
        check_config(cfg)


def test_unknown_reward_lists_available() -> None:
    cfg = compose_config("reward.functions=[{name: acuracy}]")
    with pytest.raises(ConfigError, match="accuracy"):
        check_config(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
@pytest.mark.parametrize("experiment", ["exp1", "exp2", "exp3"])
def test_gpu_experiment_on_cpu_stops_fast_before_downloading(experiment: str, tmp_path) -> None:
    started = time.time()
    result = run_openrs(f"+experiment={experiment}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert time.time() - started < 60
    assert result.returncode == 2
    assert "needs a CUDA GPU" in result.stderr
    assert "python -m openrs" in result.stderr and "dry_run=true" in result.stderr
    assert "Traceback" not in result.stderr
    # nothing but Hydra's own record was written: no model, data or W&B files
    assert {p.name for p in (tmp_path / "run").iterdir()} <= {".hydra", "__main__.log"}


def test_gpu_requirements_name_each_offending_key() -> None:
    cfg = compose_config("+experiment=exp3")
    with pytest.raises(ConfigError) as info:
        check_machine(cfg, cuda_available=False)
    for key in ("rollout=vllm_server", "model.dtype=bfloat16", "launcher=accelerate"):
        assert key in str(info.value)
    check_machine(compose_config("+experiment=exp3", "launcher.accelerate_config=ddp"), cuda_available=True)  # a GPU


def test_missing_dataset_column_lists_present_columns(tmp_path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps({"question": f"What is {i}+1?", "answer": str(i + 1)}) for i in range(3)))
    cfg = compose_config("dataset=jsonl", f"dataset.path={data}")
    with pytest.raises(ConfigError) as info:
        prepare_dataset(cfg, tokenizer=None)
    message = str(info.value)
    assert "dataset.prompt_column='problem'" in message
    assert "['question', 'answer']" in message


def test_missing_dataset_column_via_the_command(tmp_path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"problem": "What is 1+1?", "answer": "2"}) + "\n")
    err = failing("dataset=jsonl", f"dataset.path={data}", "logger=none", tmp_path=tmp_path)
    assert "dataset.answer_column='solution'" in err and "['problem', 'answer']" in err
    assert "Traceback" not in err


# --- messages no other test raised: each through the function or command a user reaches it by ----------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("length.max_prompt_length=0", "length.max_prompt_length=0 must be at least 1."),
        ("launcher.num_processes=0", "launcher.num_processes and launcher.num_machines must be at least 1."),
        ("reward.functions=[]", "reward.functions is empty: pick a reward group, e.g. reward=accuracy_format."),
    ],
)
def test_more_bad_values_stop_a_dry_run(override: str, message: str, tmp_path) -> None:
    err = failing(override, "dry_run=true", tmp_path=tmp_path)
    assert message in err and "Traceback" not in err


def test_resume_errors_name_the_value_and_the_fix(tmp_path) -> None:
    from openrs.resume import resume_target

    fresh = tmp_path / "outputs" / "tiny" / "2025-01-02_00-00-00"
    fresh.mkdir(parents=True)
    (tmp_path / "outputs" / "tiny" / "2025-01-01_00-00-00").mkdir()  # an earlier run without a checkpoint
    with pytest.raises(ConfigError, match="resume=true: no earlier run with a checkpoint under .* Start without"):
        resume_target(True, fresh)
    with pytest.raises(ConfigError, match=r"resume=/no/such/run: no such run directory\."):
        resume_target("/no/such/run", fresh)
    earlier = tmp_path / "outputs" / "tiny" / "2025-01-01_00-00-00"
    with pytest.raises(ConfigError, match=f"resume={earlier}: {earlier} has no checkpoint-N folder"):
        resume_target(str(earlier), fresh)


def test_generation_backend_must_be_known() -> None:
    from openrs.generation import load_generator

    with pytest.raises(ConfigError, match=r"backend must be one of \['hf', 'vllm'\], got 'sglang'"):
        load_generator("sglang", "openrs-tiny")


def test_benchmark_loading_errors(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openrs.benchmarks import load_benchmark

    with pytest.raises(ConfigError, match=r"Unknown benchmark 'aime2024'; known: \[.*'aime24'"):
        load_benchmark("aime2024")
    with pytest.raises(ConfigError, match=f"Benchmark 'aime24': {tmp_path}/aime24.jsonl does not exist"):
        load_benchmark("aime24", local_dir=str(tmp_path))
    (tmp_path / "aime24.jsonl").write_text(json.dumps({"id": "a", "question": "?"}) + "\n")
    with pytest.raises(ConfigError, match=r"Benchmark 'aime24': row 0 has no text `problem` \(keys: \['id', 'q"):
        load_benchmark("aime24", local_dir=str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))  # offline (conftest) and nothing cached
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(ConfigError, match="Cannot load benchmark 'aime24' from the hub .* point benchmarks_dir at"):
        load_benchmark("aime24")


def _evaluate_fails(tmp_path, *overrides: str) -> str:
    from tests.conftest import run_module

    result = run_module("openrs.evaluate", *overrides, f"output_dir={tmp_path / 'out'}", cwd=tmp_path, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return result.stderr


def _jsonl(path, rows: list[dict]):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no benchmarks", "eval.benchmarks is empty."),
        ("missing file", "eval.files.mine={dir}/nope.jsonl does not exist."),
        ("no problem text", "eval.files.mine: row 1 has no text `problem` (keys: ['id', 'q'])"),
        ("repeated ids", "Benchmark 'mine' repeats problem ids; every id must be unique."),
        ("target missing", "target={dir}/nope does not exist: give a run dir, a checkpoint/model dir or an adapter"),
        ("target neither", "target={dir} is neither a model dir (config.json), a LoRA adapter"),
        ("completion not json", "c0.jsonl:1: not a JSON object ("),
        ("completion without text", "c1.jsonl:1: needs `id` and a text `completion`"),
        ("completion id ambiguous", "c2.jsonl:1: id 'q1' is in several benchmarks (['mine', 'other']); add a"),
        ("no parseable gold", "mine: no problem with a parseable gold answer (1 without)."),
    ],
)
def test_evaluation_input_errors_through_the_command(case: str, message: str, tmp_path) -> None:
    good = _jsonl(tmp_path / "good.jsonl", [{"id": "q1", "problem": "What is 2 + 3?", "answer": "5"}])
    mine = ["eval.benchmarks=[mine]", f"+eval.files.mine={good}", "eval.workers=0"]
    completion = {"id": "q1", "completion": "x"}
    unparseable = {"id": "q1", "problem": "p", "answer": "see figure"}
    (tmp_path / "c0.jsonl").write_text("q1: 5\n")
    overrides = {
        "no benchmarks": ["eval.benchmarks=[]"],
        "missing file": ["eval.benchmarks=[mine]", f"+eval.files.mine={tmp_path}/nope.jsonl"],
        "no problem text": [
            "eval.benchmarks=[mine]", f"+eval.files.mine={_jsonl(tmp_path / 'np.jsonl', [{'id': 'q1', 'q': 'x'}])}"
        ],
        "repeated ids": [
            "eval.benchmarks=[mine]",
            f"+eval.files.mine={_jsonl(tmp_path / 'rep.jsonl', [{'id': 'q1', 'problem': 'p', 'answer': '1'}] * 2)}",
        ],
        "target missing": [*mine, f"target={tmp_path}/nope"],
        "target neither": [*mine, f"target={tmp_path}"],
        "completion not json": [*mine, f"eval.completions_file={tmp_path / 'c0.jsonl'}"],
        "completion without text": [
            *mine, f"eval.completions_file={_jsonl(tmp_path / 'c1.jsonl', [{'id': 'q1', 'text': 'x'}])}"
        ],
        "completion id ambiguous": [
            "eval.benchmarks=[mine,other]", f"+eval.files.mine={good}", f"+eval.files.other={good}",
            f"eval.completions_file={_jsonl(tmp_path / 'c2.jsonl', [completion])}",
        ],
        "no parseable gold": [
            "eval.benchmarks=[mine]", "eval.workers=0",
            f"+eval.files.mine={_jsonl(tmp_path / 'fig.jsonl', [unparseable])}",
            f"eval.completions_file={_jsonl(tmp_path / 'c3.jsonl', [completion])}",
        ],
    }[case]  # fmt: skip
    assert message.format(dir=tmp_path) in _evaluate_fails(tmp_path, *overrides)


def test_report_errors_name_the_metric_and_the_evaluations(tmp_path) -> None:
    from openrs.evaluation.report import best_checkpoint, write_report

    run = tmp_path / "run"
    validation = run / "eval" / "validation" / "checkpoint-10"
    validation.mkdir(parents=True)
    (validation / "results.json").write_text(json.dumps({"benchmarks": {"validation": {"pass@1": 0.5, "k": 1}}}))
    assert best_checkpoint(run)["step"] == 10
    with pytest.raises(ConfigError, match="no `maj@k` for benchmark `validation`; pick a metric it has"):
        best_checkpoint(run, metric="maj@k")
    for preset in ("paper", "robust"):
        (run / "eval" / preset).mkdir()
    with pytest.raises(ConfigError, match=r"eval_name: .* has evaluations \[paper, robust\]; name the one to plot"):
        write_report(tmp_path / "report", [], run_dir=run)


def test_compare_input_errors(tmp_path) -> None:
    from openrs.compare.inputs import expand_input, find_baseline, load_inputs

    multirun = tmp_path / "multirun"
    (multirun / "0_seed=1").mkdir(parents=True)  # a job that never started: no summary.json, no metrics.jsonl
    (multirun / "multirun.yaml").write_text("hydra: {}\n")
    with pytest.raises(ConfigError, match="no runs found in the multirun dir .*: no subdir holds summary.json"):
        expand_input(str(multirun))
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"summary.json: cannot read it as JSON \("):
        load_inputs([str(run)])
    with pytest.raises(ConfigError, match=r"--baseline .*: neither a run dir nor an evaluation dir \(results.json\)"):
        find_baseline([], str(multirun / "0_seed=1"))
    with pytest.raises(ConfigError, match="--baseline seed-7 is no compared run's name and no directory; runs: ."):
        find_baseline([], "seed-7")


def test_curation_recipe_errors(tmp_path) -> None:
    from openrs.data.curation.mix import mix
    from openrs.data.curation.sources import load_sources
    from tests.conftest import run_module

    rows = [{"id": "a", "problem": "p", "source": "s"}]
    with pytest.raises(ConfigError, match=r"mix draws\[0\]: unknown keys \['weight'\]; use source, count, band"):
        mix(rows, draws=[{"source": "s", "count": 1, "weight": 2}])
    with pytest.raises(ConfigError, match=r"mix draws\[0\]: needs `source` \(a source name\) and `count`"):
        mix(rows, draws=[{"source": "s", "count": -1}])
    with pytest.raises(ConfigError, match=r"mix draws\[0\]: band must be \[lo, hi\] with 0 <= lo <= hi <= 1"):
        mix(rows, draws=[{"source": "s", "count": 1, "band": [0.8, 0.2]}])
    with pytest.raises(ConfigError, match="recipe.sources is empty: a recipe needs at least one source."):
        load_sources({})
    result = run_module("openrs.data", f"hydra.run.dir={tmp_path / 'data'}", cwd=tmp_path, timeout=300)
    assert result.returncode != 0 and "Choose a recipe: python -m openrs.data +recipe=NAME" in result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.per_device_train_batch_size=0", "train.per_device_train_batch_size=0 must be at least 1"),
        ("train.save_steps=0", "train.save_steps=0 must be at least 1"),
        ("train.temperature=0", r"train.temperature=0.0 must be in \(0, inf\]"),
        ("train.top_p=1.5", r"train.top_p=1.5 must be in \(0, 1\]"),
        ("optimizer.learning_rate=-1e-6", r"optimizer.learning_rate=-1e-06 must be in \(0, inf\]"),
        ("optimizer.warmup_ratio=1", r"optimizer.warmup_ratio=1.0 must be in \[0, 1\)"),
        ("algorithm.beta=-0.1", "algorithm.beta=-0.1 must be at least 0"),
        ("algorithm.num_iterations=0", "algorithm.num_iterations=0 must be at least 1"),
        ("peft.lora_dropout=1", r"peft.lora_dropout=1.0 must be in \[0, 1\)"),
        ("rollout.gpu_memory_utilization=1.2", r"rollout.gpu_memory_utilization=1.2 must be in \(0, 1\]"),
        ("rollout.server_port=70000", r"rollout.server_port=70000 must be in \[1, 65535\]"),
        ("length.vllm_max_model_length=0", "length.vllm_max_model_length=0 must be at least 1"),
        ("dataset.drop_limits.total=2", r"dataset.drop_limits.total=2.0 must be in \[0, 1\]"),
        ("dataset.synthetic.operations=/", "dataset.synthetic.operations='/' must be a non-empty subset"),
        ("eval.k=0", "eval.k=0 must be at least 1"),
        ("eval.seeds=[]", "eval.seeds is empty"),
        ("eval.confidence=1", r"eval.confidence=1.0 must be in \(0, 1\)"),
        ("eval.during_training.k=0", "eval.during_training.k=0 must be at least 1"),
        ("logger.sample_completions_every=-1", "logger.sample_completions_every=-1 must be at least 0"),
        ("cost.price_per_gpu_hour=-1", "cost.price_per_gpu_hour=-1.0 must be at least 0"),
        # no setting is NaN or infinite, wherever it sits (inside a list entry too)
        ("optimizer.learning_rate=nan", "optimizer.learning_rate=nan: must be a finite number"),
        ("train.temperature=inf", "train.temperature=inf: must be a finite number"),
        ("reward.functions=[{name: format, weight: -inf}]", "reward.functions.0.weight=-inf: must be a finite"),
        ("memory.gpu_memory_gib=nan", "memory.gpu_memory_gib=nan: must be a finite number"),
        ("guard.rollback.lr_factor=nan", "guard.rollback.lr_factor=nan: must be a finite number"),
        # a fraction's threshold above 1 could never be crossed
        ("guard.no_signal.threshold=5", r"guard.no_signal.threshold=5.0 must be in \[0, 1\]"),
        ("guard.length_blowup.rise=2", r"guard.length_blowup.rise=2.0 must be in \[0, 1\]"),
        ("guard.kl_explosion.threshold=-1", "guard.kl_explosion.threshold=-1.0 must be at least 0"),
        ("launcher.main_process_port=70000", r"launcher.main_process_port=70000 must be in \[1, 65535\]"),
        ("launcher.machine_rank=3", "launcher.machine_rank=3 with launcher.num_machines=1: a one-machine run"),
    ],
)
def test_each_value_is_checked_by_its_own_group(override: str, message: str) -> None:
    """Ranges live with their dataclass (openrs.config) and are checked as the config becomes typed."""
    with pytest.raises(ConfigError, match=message):
        compose_config(override)


def test_a_range_error_on_the_command_line_is_one_line_before_any_work(tmp_path) -> None:
    err = failing("eval.k=0", tmp_path=tmp_path)
    assert "eval.k=0 must be at least 1" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "summary.json").exists()


def test_values_at_the_edges_of_their_ranges_are_accepted() -> None:
    compose_config("train.temperature=0.01", "train.top_p=1", "optimizer.warmup_ratio=0", "algorithm.beta=0",
                   "eval.temperature=0", "rollout.gpu_memory_utilization=1", "peft.lora_dropout=0")  # fmt: skip


def test_the_plan_says_which_detectors_cannot_fire() -> None:
    """With beta=0 (Dr. GRPO, DAPO) TRL computes no kl; without a validation split nothing scores reward_hacking."""
    from openrs.plan import build_plan

    blind = build_plan(compose_config("algorithm=dr_grpo"), "run")["openrs"]["guardrails"]["blind"]
    assert set(blind) == {"kl_explosion", "reward_hacking"} and "algorithm.beta=0" in blind["kl_explosion"]
    watched = build_plan(compose_config("algorithm=grpo_2025", "dataset.validation_size=8"), "run")
    assert watched["openrs"]["guardrails"]["blind"] == {}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # a misspelt filter is refused even while dynamic sampling is off (a later algorithm=dapo would need it)
        (
            ["algorithm.dynamic_sampling=false", "algorithm.dynamic_sampling_reward=acuracy"],
            "algorithm.dynamic_sampling_reward=acuracy: not a reward of this run",
        ),
        # two rewards of one name would log into one rewards/<name>/mean
        (
            ["reward.functions=[{name: format}, {name: format, weight: 2.0}]"],
            "reward.functions[1] (format) has the name format, as reward.functions[0] has",
        ),
    ],
)
def test_config_checks_across_keys(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(compose_config(*overrides))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{a: b: c}\n", "not readable YAML (expected ',' or '}', but got ':' at line 1, column 6)"),
        ("- a list\n", "an accelerate config is a YAML mapping"),
        ("distributed_type: NOPE\n", "distributed_type=NOPE is not one of accelerate's: NO, MULTI_CPU"),
    ],
)
def test_a_users_accelerate_config_is_read_before_launch(text: str, message: str, tmp_path) -> None:
    path = tmp_path / "accelerate.yaml"
    path.write_text(text)
    cfg = compose_config("launcher=accelerate", "train.device=cpu", f"launcher.accelerate_config={path}")
    with pytest.raises(ConfigError, match=re.escape(f"launcher.accelerate_config={path}: {message}")):
        check_config(cfg)


@pytest.mark.parametrize("name", ["../../escaped", "team/exp3", ".."])
def test_a_name_is_one_folder(name: str, tmp_path) -> None:
    """The name is a folder of the run dir: a path in it would put the run outside outputs/ (refused before Hydra
    creates the dir)."""
    result = run_module("openrs", f"name={name}", "dry_run=true", cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "the experiment name is one folder of the run dir" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "escaped").exists()
