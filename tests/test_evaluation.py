"""`python -m openrs.evaluate`: presets, scoring, the tiny model end to end, resume, shards, run dirs, adapters."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from openrs.__main__ import CONF_DIR
from openrs.config import DType, EvaluateConfig, typed_config
from openrs.errors import ConfigError
from openrs.evaluation.engine import sample_seeds
from openrs.evaluation.runner import evaluate, evaluate_model, find_checkpoints, shard_commands
from openrs.evaluation.samples import SampleStore
from openrs.evaluation.tasks import load_items, scheme_for
from openrs.tiny_model import BUILD_VERSION, ensure_tiny_model
from tests.answering_model import answering_model
from tests.conftest import REPO


def eval_config(*overrides: str) -> EvaluateConfig:
    """The typed config `python -m openrs.evaluate <overrides>` runs with (typed at the entry, as there)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return typed_config(compose("evaluate", overrides=list(overrides)), EvaluateConfig)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


MINI = [
    {"id": "q1", "problem": "What is 2 + 3?", "answer": "5"},
    {"id": "q2", "problem": "What is half of 1?", "answer": "\\frac{1}{2}"},
    {"id": "q3", "problem": "What is 7 * 6?", "answer": "42"},
]


def table_rows(path: Path) -> dict[str, dict[str, str]]:
    """The first markdown table of `table.md` as {first cell of a row: {column header: cell}}, every cell stripped."""
    text = path.read_text()
    lines = [line for line in text[: text.find("\n\n")].splitlines() if line.startswith("|")]
    columns = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:  # lines[1] is the |---| separator
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(columns, cells, strict=True))
    return rows


def run_evaluate(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "openrs.evaluate", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


# --- presets and tasks -------------------------------------------------------------------------------------------


def test_paper_and_robust_presets() -> None:
    paper = eval_config("eval=paper").eval
    assert list(paper.benchmarks) == ["aime24", "math500", "amc23", "minerva", "olympiadbench"]
    assert (paper.k, paper.temperature, paper.top_p, paper.max_new_tokens) == (1, 0.6, 0.95, 32768)
    assert paper.use_chat_template and paper.system_prompt is None and paper.engine == "vllm"
    assert paper.prompt_template.startswith("Solve the following math problem efficiently and clearly.")
    assert paper.prompt_template.endswith("Think step by step before answering.\n\n{problem}")
    robust = eval_config("eval=robust").eval
    assert robust.k == 8 and list(robust.seeds) == [0, 1, 2, 3] and "aime25" in robust.benchmarks
    assert robust.scoring == "fixed"
    # prompt + completion at most 32,768 tokens, as the Open-RS lighteval run (R1-Distill's own context is 131,072)
    assert paper.max_model_length == robust.max_model_length == 32768
    from openrs.generation import vllm_engine_kwargs

    engine = vllm_engine_kwargs("m", dtype="bfloat16", gpu_memory_utilization=0.9, tensor_parallel_size=1, seed=0,
                                max_model_length=paper.max_model_length)  # fmt: skip
    assert engine["max_model_len"] == 32768


def test_the_hf_engine_keeps_prompt_and_completion_within_the_context() -> None:
    """eval.max_model_length with the hf engine: a batch's new tokens are capped so that its (padded) prompts and the
    completion fit; a context too small for a prompt is a clear error."""
    from openrs.generation import HFGenerator, Sampling

    generator = HFGenerator(str(ensure_tiny_model()), batch_size=2, dtype="float32", max_model_length=40)
    prompts = ["1 + 1 =", "2 * 3 = and then some more words"]
    width = generator.tokenizer(prompts, padding=True, add_special_tokens=False)["input_ids"]
    room = 40 - len(width[0])
    outputs = generator.generate_detailed(prompts, 2, Sampling(temperature=1.0, top_p=1.0, max_new_tokens=200))
    assert all(c.tokens <= room for group in outputs for c in group)
    assert any(c.tokens == room and c.truncated for group in outputs for c in group)  # the random model rambles
    generator.max_model_length = 3
    with pytest.raises(ConfigError, match="eval.max_model_length=3 leaves no room after a prompt of"):
        generator.generate_detailed(prompts, 1, Sampling(max_new_tokens=5))


def test_the_gpu_engine_on_a_cpu_machine_stops_before_any_work(tmp_path: Path) -> None:
    result = run_evaluate("eval=paper", f"output_dir={tmp_path / 'out'}", cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert "eval.engine=vllm needs" in result.stderr and "Traceback" not in result.stderr


def test_scoring_schemes_follow_the_original_tasks() -> None:
    assert [scheme_for(b, "paper") for b in ("aime24", "aime25", "amc23")] == ["expr_gold"] * 3
    assert [scheme_for(b, "paper") for b in ("math500", "minerva", "olympiadbench")] == ["latex_gold"] * 3
    assert scheme_for("amc23", "fixed") == "expr_gold_fixed"
    # openrs's own sets have no published numbers to match: always the training reward's rules (echoes are wrong)
    assert scheme_for("arithmetic", "paper") == scheme_for("arithmetic", "fixed") == "latex_gold_fixed"
    assert scheme_for("validation", "paper") == scheme_for("validation", "fixed") == "recipe"


def test_sample_seeds_spread_samples_over_seeds() -> None:
    assert sample_seeds(8, [0, 1, 2, 3]) == {0: [0, 4], 1: [1, 5], 2: [2, 6], 3: [3, 7]}
    assert sample_seeds(1, [7]) == {7: [0]}


def test_benchmark_count_mismatch_and_bad_files_are_clear_errors(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "aime24.jsonl", MINI)
    cfg = eval_config("eval.benchmarks=[aime24]", f"eval.benchmarks_dir={tmp_path}")
    with pytest.raises(ConfigError, match="'aime24' has 3 rows, expected 30"):
        load_items(cfg.eval)
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "problem": "x"}\nnot json\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl, line 2, column 1: not valid JSON"):
        load_items(eval_config("eval.benchmarks=[bad]", f"+eval.files.bad={tmp_path / 'bad.jsonl'}").eval)
    with pytest.raises(ConfigError, match="unknown benchmark 'aime2024'"):
        load_items(eval_config("eval.benchmarks=[aime2024]").eval)


# --- scoring completions made elsewhere --------------------------------------------------------------------------

FINAL = "Therefore, the final answer is: $\\boxed{{{}}}$. I hope it is correct"
# (benchmark, id, completion, expected correct): hand-written, one scheme per benchmark type
SCORED = [
    ("aime24", "a1", "Adding gives 33.\n" + FINAL.format("33"), True),
    ("aime24", "a1", "So " + FINAL.format("34"), False),
    ("aime24", "a2", "The remainder is\n" + FINAL.format("017"), True),  # expression gold: 17 == 017
    ("math500", "m1", "Half of it: " + FINAL.format("0.5"), True),  # LaTeX gold \frac{1}{2}
    ("math500", "m1", "I give up.", False),
    ("math500", "m2", FINAL.format("(1, 3]"), True),
    ("math500", "m2", FINAL.format("[1, 3]"), False),
]


def test_scoring_an_existing_completions_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "bench" / "aime24.jsonl", [{"id": "a1", "problem": "p", "answer": "33"},
                                                      {"id": "a2", "problem": "p", "answer": "17"}])  # fmt: skip
    write_jsonl(tmp_path / "bench" / "math500.jsonl", [{"id": "m1", "problem": "p", "answer": "\\frac{1}{2}"},
                                                       {"id": "m2", "problem": "p", "answer": "(1, 3]"}])  # fmt: skip
    completions = write_jsonl(
        tmp_path / "c.jsonl", [{"benchmark": b, "id": i, "completion": c} for b, i, c, _ in SCORED]
    )
    cfg = eval_config(
        "eval.benchmarks=[aime24,math500]",
        f"eval.benchmarks_dir={tmp_path / 'bench'}",
        "eval.check_counts=false",
        f"eval.completions_file={completions}",
        "eval.workers=0",
    )
    with pytest.raises(ConfigError, match="no completion for 1 problems, e.g. \\['aime24/a2'\\]"):
        # a2 has one sample while a1 has two: k is the smallest count, so a file missing a problem is caught
        lines = [{"benchmark": b, "id": i, "completion": "x"} for b, i in (("aime24", "a1"), ("math500", "m1"))]
        lines.append({"benchmark": "math500", "id": "m2", "completion": "x"})
        bad = write_jsonl(tmp_path / "bad.jsonl", lines)
        evaluate_model(None, dataclasses.replace(cfg.eval, completions_file=str(bad)), tmp_path / "bad")
    out = tmp_path / "scored"
    results = evaluate_model(None, cfg.eval, out)
    samples = SampleStore(out / "samples.jsonl").records()
    assert [(s["benchmark"], s["id"], s["correct"]) for s in samples] == [(b, i, ok) for b, i, _, ok in SCORED]
    assert results["benchmarks"]["aime24"]["k"] == 1  # a2 has one completion: k is the smallest count
    with pytest.raises(ConfigError, match="ids that are not in the evaluated benchmarks"):
        unknown = write_jsonl(tmp_path / "u.jsonl", [{"id": "zz", "completion": "x"}])
        evaluate_model(None, dataclasses.replace(cfg.eval, completions_file=str(unknown)), tmp_path / "u")
    labelled = evaluate(cfg, tmp_path / "labelled")  # the command's path: labelled by the file, not the model
    assert labelled["model"]["label"] == str(completions)
    # the row is labelled by the file; with k = 1 only each problem's first completion counts, and in SCORED the first
    # completion of a1, a2, m1 and m2 is correct, so both benchmarks score 100 (the interval over problems is 0 wide)
    row = table_rows(tmp_path / "labelled" / "table.md")[str(completions)]
    assert (row["AIME24"], row["MATH-500"], row["AMC23"]) == ("100.0 ± 0.0", "100.0 ± 0.0", "—")


# --- the tiny model ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("mini") / "mini.jsonl", MINI)


def mini_overrides(mini_file: Path, *extra: str) -> list[str]:
    return ["eval.benchmarks=[mini]", f"+eval.files.mini={mini_file}", "eval.k=4", "eval.max_new_tokens=8", *extra]


def test_tiny_model_end_to_end_through_the_command(tmp_path: Path, mini_file: Path) -> None:
    out = tmp_path / "out"
    result = run_evaluate(*mini_overrides(mini_file), f"output_dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert sorted((s["id"], s["sample"]) for s in samples) == [(q, i) for q in ("q1", "q2", "q3") for i in range(4)]
    assert {s["seed"] for s in samples} == {0, 1}
    assert all(0 < s["tokens"] <= 8 and isinstance(s["truncated"], bool) for s in samples)
    results = json.loads((out / "results.json").read_text())
    mini = results["benchmarks"]["mini"]
    assert (mini["n_problems"], mini["k"], mini["samples"]) == (3, 4, 12)
    assert set(mini["pass@k"]) == {"1", "2", "4"} and "maj@k" in mini and len(mini["ci"]) == 2
    assert results["model"]["name_or_path"].endswith(f"tiny-qwen2-v{BUILD_VERSION}") and results["wall_time_s"] > 0
    assert results["tokens_per_s"] > 0 and results["engine"]["transformers"]
    header, _, row = (out / "table.md").read_text().splitlines()[:3]
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    cells = dict(zip(columns, (cell.strip() for cell in row.strip("|").split("|")), strict=True))
    assert cells["mini"] == "0.0 ± 0.0" and cells["AIME24"] == "—"  # our benchmark has a column, with its score


def test_an_interrupted_evaluation_resumes_without_redoing_samples(tmp_path: Path, mini_file: Path) -> None:
    from openrs.evaluation.runner import _load_generator

    cfg = eval_config(*mini_overrides(mini_file, "eval.chunk_size=1", "eval.workers=0")).eval
    real = _load_generator(ensure_tiny_model(), cfg)
    calls = []

    class Interrupted(Exception):
        pass

    class DiesAfterTwoCalls:  # the real generator, with a "kill" after two generate calls
        tokenizer, stats = real.tokenizer, real.stats

        def generate_detailed(self, prompts, n, sampling, seeds=None):
            if len(calls) == 2:
                raise Interrupted
            calls.append(len(prompts) * n)
            return real.generate_detailed(prompts, n, sampling, seeds=seeds)

    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        evaluate_model("tiny", cfg, out, generator=DiesAfterTwoCalls())
    assert len(SampleStore(out / "samples.jsonl").done) == 4  # problem q1: seeds 0 and 1, two samples each
    with (out / "samples.jsonl").open("a") as handle:
        handle.write('{"benchmark": "mini", "id": "q2", "sam')  # a line cut by the kill
    calls.clear()
    resumed = evaluate_model("tiny", cfg, out, generator=real)
    assert resumed["benchmarks"]["mini"]["samples"] == 12
    assert len(SampleStore(out / "samples.jsonl").records()) == 12
    assert real.stats.completions == 4 + 8  # 4 before the interruption, then only the 8 missing


def test_data_parallel_shards_split_the_problems_and_merge(tmp_path: Path, mini_file: Path) -> None:
    assert shard_commands(Path("/x/spec.json"), 2)[1][-3:] == ["openrs.evaluation.shard", "/x/spec.json", "1"]
    cfg = eval_config(*mini_overrides(mini_file, "eval.data_parallel_size=2"))
    out = tmp_path / "dp"
    results = evaluate_model(str(ensure_tiny_model()), cfg.eval, out)  # two real worker processes on CPU
    assert results["benchmarks"]["mini"]["samples"] == 12
    shard_ids = [{r["id"] for r in SampleStore(out / f"samples.shard-{i}.jsonl").records()} for i in (0, 1)]
    assert shard_ids == [{"q1", "q3"}, {"q2"}]


@pytest.fixture(scope="module")
def answers_five(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model that answers `\\boxed{5}` to everything: it solves MINI's q1 (2 + 3) and nothing else."""
    return answering_model(tmp_path_factory.mktemp("answers_five") / "model", "5")


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory: pytest.TempPathFactory, mini_file: Path, answers_five: Path) -> Path:
    """A run dir with two checkpoints, metrics and a validation split (MINI). checkpoint-10 is the random tiny model
    (solves nothing), checkpoint-20 the model answering 5 (solves q1 of 3): the later one is better, so the pick
    cannot come from tie-breaking (ties go to the earliest step)."""
    run = tmp_path_factory.mktemp("run")
    shutil.copytree(ensure_tiny_model(), run / "checkpoint-10")
    shutil.copytree(answers_five, run / "checkpoint-20")
    write_jsonl(run / "metrics.jsonl", [{"step": s, "completions/mean_length": 30.0 - s / 10} for s in range(1, 21)])
    prompts = [[{"role": "user", "content": row["problem"]}] for row in MINI]
    write_jsonl(
        run / "validation.jsonl", [{"prompt": p, "solution": r["answer"]} for p, r in zip(prompts, MINI, strict=True)]
    )
    return run


def test_a_run_dir_gets_every_checkpoint_curves_plots_and_a_validation_pick(
    tmp_path: Path, fake_run: Path, mini_file: Path
) -> None:
    assert [step for step, _ in find_checkpoints(fake_run)] == [10, 20]
    cfg = eval_config(f"target={fake_run}", *mini_overrides(mini_file, "eval.k=2"))
    outcome = evaluate(cfg, tmp_path / "hydra")
    assert outcome["checkpoints"] == ["checkpoint-10", "checkpoint-20"]
    report = fake_run / "eval" / "tiny"
    for name in ("table.md", "curves.json", "accuracy_tiny.png", "completion_length.png"):
        assert (report / name).stat().st_size > 0, name
    assert (fake_run / "eval" / "validation" / "checkpoint-20" / "results.json").exists()
    # validation: checkpoint-10 solves none of MINI's 3 problems, checkpoint-20 solves q1 in every sample
    assert [(c["step"], c["score"]) for c in outcome["best"]["candidates"]] == [(10, 0.0), (20, pytest.approx(1 / 3))]
    assert outcome["best"]["step"] == 20 and outcome["best"]["path"] == fake_run / "checkpoint-20"
    rows = table_rows(report / "table.md")
    assert rows["checkpoint-10"]["mini"] == "0.0 ± 0.0"
    assert rows["checkpoint-20"]["mini"].startswith("33.3 ± ")


def test_a_lora_adapter_is_merged_and_evaluated(tmp_path: Path, mini_file: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = ensure_tiny_model()
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(r=4, target_modules=["q_proj"]))
    model.save_pretrained(tmp_path / "adapter")  # its adapter_config.json names the base model's directory
    cfg = eval_config(f"target={tmp_path / 'adapter'}", *mini_overrides(mini_file))
    results = evaluate(cfg, tmp_path / "out")
    assert results["benchmarks"]["mini"]["samples"] == 12


def test_a_paired_comparison_of_two_evaluations(tmp_path: Path, mini_file: Path, answers_five: Path) -> None:
    """A = the random tiny model (solves nothing), B = the model answering 5 (solves q1 of MINI in every sample)."""
    first = tmp_path / "first"
    evaluate(eval_config(*mini_overrides(mini_file)), first)
    second = tmp_path / "second"
    overrides = [*mini_overrides(mini_file, "eval.seeds=[5,6]"), f"target={answers_five}", f"compare_with={first}"]
    evaluate(eval_config(*overrides), second)
    comparison = json.loads((second / "comparison.json").read_text())
    # per-problem differences d = [1, 0, 0]: B is 1/3 better, but a bootstrap resample holds no q1 with probability
    # (2/3)^3 = 8/27 and only q1 with 1/27, both above 2.5%, so the 95% interval is [0, 1] and includes 0;
    # the p-value is 2 * 8/27
    assert (comparison["n_problems"], comparison["pass@1_a"]) == (3, 0.0)
    assert comparison["pass@1_b"] == comparison["difference"] == pytest.approx(1 / 3)
    assert comparison["ci"] == [0.0, 1.0] and comparison["p_value"] == pytest.approx(16 / 27, abs=0.05)
    assert comparison["distinguishable"] is False
    assert (
        comparison["verdict"]
        == "B is better than A by 33.3 points (95% CI 0.0 to 100.0): not distinguishable from noise"
    )


def test_a_paired_comparison_that_is_significant(tmp_path: Path, answers_five: Path) -> None:
    """Ten problems whose answer is 5: B (the model answering 5) solves every one, A (random) none."""
    fives = write_jsonl(tmp_path / "fives.jsonl", [
        {"id": f"f{i}", "problem": f"What is {i} + {5 - i}?", "answer": "5"} for i in range(10)
    ])  # fmt: skip
    overrides = ["eval.benchmarks=[fives]", f"+eval.files.fives={fives}", "eval.k=2", "eval.max_new_tokens=8"]
    first = tmp_path / "first"
    evaluate(eval_config(*overrides), first)
    second = tmp_path / "second"
    evaluate(eval_config(*overrides, f"target={answers_five}", f"compare_with={first}"), second)
    comparison = json.loads((second / "comparison.json").read_text())
    # d_i = 1 for all ten problems: every bootstrap mean is 1, the interval is [1, 1] and no mean reaches 0
    assert (comparison["n_problems"], comparison["pass@1_a"], comparison["pass@1_b"]) == (10, 0.0, 1.0)
    assert comparison["ci"] == [1.0, 1.0] and comparison["p_value"] == 0.0 and comparison["distinguishable"] is True
    assert (
        comparison["verdict"]
        == "B is better than A by 100.0 points (95% CI 100.0 to 100.0): distinguishable from noise"
    )


def test_results_go_to_wandb_offline(tmp_path: Path, mini_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")  # no W&B server here
    out = tmp_path / "out"
    overrides = [*mini_overrides(mini_file), "logger=wandb", "logger.mode=offline", "logger.tags=[ablation-7]"]
    evaluate(eval_config(*overrides), out)
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    (log,) = runs[0].glob("run-*.wandb")  # the offline run's record, for `wandb sync`
    deadline = time.time() + 30  # wandb-core writes the record from its own process: give it a bounded moment
    while not run_record_has_tags(log, ["eval", "ablation-7"]) and time.time() < deadline:
        time.sleep(0.5)
    assert run_record_has_tags(log, ["eval", "ablation-7"])  # the user's tags reach the run


def run_record_has_tags(log: Path, tags: list[str]) -> bool:
    """Whether an offline W&B run file holds a run record with exactly these tags: the bytes of the `tags` field
    as wandb's own `RunRecord` encodes it (the logged config, which also names the tags, is JSON, not this)."""
    from wandb.proto.wandb_internal_pb2 import RunRecord

    return RunRecord(tags=tags).SerializeToString() in log.read_bytes()


@pytest.mark.slow
def test_benchmarks_are_evaluated_during_training_and_after_it(tmp_path: Path) -> None:
    from tests.conftest import run_openrs

    run_dir = tmp_path / "run"
    result = run_openrs(
        "logger=none",
        "train.max_steps=4",
        "train.save_steps=2",
        "eval.during_training.enabled=true",
        "eval.during_training.max_problems=8",
        "eval.after_train=true",
        "eval.before_train=true",
        "eval.max_problems=8",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = [row["step"] for row in rows if "benchmarks/arithmetic/pass@1" in row]
    assert logged == [2, 4]  # at every save, beside the rewards
    during = json.loads((run_dir / "eval" / "during_training" / "checkpoint-4" / "results.json").read_text())
    assert during["benchmarks"]["arithmetic"]["n_problems"] == 8 and during["benchmarks"]["arithmetic"]["k"] == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["eval"]["benchmarks/arithmetic/pass@1"] == 0.0
    final = json.loads((run_dir / "eval" / "tiny" / "final" / "results.json").read_text())
    assert final["benchmarks"]["arithmetic"]["samples"] == 8 * 4
    # eval.before_train: the starting model, same preset, and the final model compared with it problem by problem
    base = json.loads((run_dir / "eval" / "tiny" / "base" / "results.json").read_text())
    assert base["model"]["label"] == "base" and base["benchmarks"]["arithmetic"]["samples"] == 8 * 4
    comparison = json.loads((run_dir / "eval" / "tiny" / "comparison.json").read_text())
    assert comparison == summary["eval"]["comparison"]
    assert comparison["n_problems"] == 8 and comparison["b"] == str(run_dir / "eval" / "tiny" / "final")
    assert f"vs base     {comparison['verdict']}" in result.stdout


def test_statistics_options_reach_the_results(tmp_path: Path, mini_file: Path) -> None:
    cfg = eval_config(*mini_overrides(mini_file, "eval.ks=[2]", "eval.n_boot=200", "eval.confidence=0.9"))
    results = evaluate_model(str(ensure_tiny_model()), cfg.eval, tmp_path / "out")
    mini = results["benchmarks"]["mini"]
    assert set(mini["pass@k"]) == {"2"} and mini["confidence"] == 0.9


def test_a_lora_runs_checkpoints_are_merged_before_any_engine_loads_them(
    tmp_path: Path, mini_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LoRA run saves adapters in checkpoint-N/ and final_model/: the engine (vLLM included) must get full models."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    import openrs.evaluation.runner as runner

    run = tmp_path / "lora_run"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(ensure_tiny_model()), LoraConfig(r=4))
    for step in (1, 2):
        model.save_pretrained(run / f"checkpoint-{step}")
    loaded = []
    real_load = runner._load_generator

    def recording_load(model_path, eval_cfg, model_cfg=None):  # what each engine is given, as it was then
        files = {p.name for p in Path(model_path).iterdir()}
        loaded.append(("config.json" in files, "adapter_config.json" in files))
        return real_load(model_path, eval_cfg, model_cfg)

    monkeypatch.setattr(runner, "_load_generator", recording_load)
    outcome = evaluate(eval_config(f"target={run}", *mini_overrides(mini_file)), tmp_path / "out")
    assert outcome["checkpoints"] == ["checkpoint-1", "checkpoint-2"]
    assert loaded == [(True, False), (True, False)]  # merged models, never the bare adapters
    results = json.loads((run / "eval" / "tiny" / "checkpoint-2" / "results.json").read_text())
    assert results["model"]["lora_merged"] is True and results["model"]["checkpoint"] == str(run / "checkpoint-2")


def test_the_in_training_evaluator_finds_trls_colocated_engine_and_zero3() -> None:
    """TRL 1.16 keeps the colocated engine at trainer.vllm_generation.llm; ZeRO-3 comes from the accelerator's
    DeepSpeed plugin whether the accelerate config or TrainingArguments set it (a DeepSpeed run cannot exist here:
    the accelerator is a stand-in holding accelerate's real plugin)."""
    from types import SimpleNamespace

    from accelerate.utils import DeepSpeedPlugin

    from openrs.evaluation.callback import colocated_engine, zero_stage

    engine = object()
    assert colocated_engine(SimpleNamespace(vllm_generation=SimpleNamespace(mode="colocate", llm=engine))) is engine
    assert colocated_engine(SimpleNamespace(vllm_generation=SimpleNamespace(mode="server", vllm_client=1))) is None
    assert colocated_engine(SimpleNamespace()) is None  # hf rollout
    sharded = SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=DeepSpeedPlugin(zero_stage=3)))
    assert zero_stage(sharded) == 3
    assert zero_stage(SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=None))) is None


def test_the_model_group_reaches_the_evaluation_engine() -> None:
    """`model.attn_implementation` and `model.trust_remote_code` load the evaluated model, and `eval.dtype=auto` takes
    the model group's half dtype (R1-Distill's bfloat16, on CPU too) while the tiny model keeps the device rule."""
    import torch

    from openrs.evaluation.runner import _load_generator, generation_dtype

    r1 = eval_config("model=r1_distill_qwen_1_5b")
    assert generation_dtype(r1.eval, r1.model) == "bfloat16"
    assert generation_dtype(dataclasses.replace(r1.eval, dtype=DType.float32), r1.model) == "float32"  # explicit wins
    tiny = eval_config("model.attn_implementation=eager", "model.trust_remote_code=true")
    assert generation_dtype(tiny.eval, tiny.model) == "auto"
    generator = _load_generator(ensure_tiny_model(), tiny.eval, tiny.model)
    try:
        assert generator.model.config._attn_implementation == "eager"
        assert generator.model.dtype == torch.float32  # auto on CPU
    finally:
        generator.close()
    bf16 = _load_generator(ensure_tiny_model(), tiny.eval, dataclasses.replace(tiny.model, dtype=DType.bfloat16))
    try:
        assert bf16.model.dtype == torch.bfloat16 and bf16.model.config._attn_implementation == "eager"
    finally:
        bf16.close()


def test_data_parallel_shards_need_their_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards x tensor-parallel GPUs are counted before any shard starts (one GPU faked: none can exist here)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    cfg = eval_config("eval.data_parallel_size=2", "eval.max_problems=2")
    with pytest.raises(ConfigError, match=r"eval.data_parallel_size=2 x eval.tensor_parallel_size=1 needs 2 GPUs and "
                                          r"1 are visible. Lower eval.data_parallel_size"):  # fmt: skip
        evaluate_model(ensure_tiny_model(), cfg.eval, tmp_path / "out", model_cfg=cfg.model)
    assert not list((tmp_path / "out").glob("samples.shard-*"))  # no shard was started


def test_data_parallel_shards_take_the_gpus_the_job_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under CUDA_VISIBLE_DEVICES=4,5,6,7 (a Slurm allocation) shard i runs on the i-th given GPU(s), not on GPU i
    (four GPUs faked: none can exist here)."""
    import torch

    from openrs.evaluation.runner import _shard_env

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    single = eval_config("eval.data_parallel_size=4").eval
    assert [_shard_env(i, single)["CUDA_VISIBLE_DEVICES"] for i in range(4)] == ["4", "5", "6", "7"]
    pairs = eval_config("eval.data_parallel_size=2", "eval.tensor_parallel_size=2").eval
    assert [_shard_env(i, pairs)["CUDA_VISIBLE_DEVICES"] for i in range(2)] == ["4,5", "6,7"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert [_shard_env(i, single)["CUDA_VISIBLE_DEVICES"] for i in range(4)] == ["0", "1", "2", "3"]


def test_before_and_after_evaluations_that_cover_other_problems_are_not_compared(tmp_path: Path) -> None:
    """A resumed run whose eval.max_problems changed: the kept base evaluation and the final one differ in problems,
    so there is no paired comparison (said in the summary), instead of a crash after training."""
    from openrs.run import compare_evaluations
    from tests.conftest import compose_config

    for label, ids in (("base", ["a", "b"]), ("final", ["a", "b", "c"])):
        write_jsonl(tmp_path / label / "samples.jsonl",
                    [{"benchmark": "arithmetic", "id": i, "sample": 0, "correct": True} for i in ids])  # fmt: skip
    outcome = compare_evaluations(compose_config(), tmp_path / "base", tmp_path / "final")
    assert "different problems" in outcome["error"] and outcome["verdict"].startswith("not compared")
    rows = [{"benchmark": "arithmetic", "id": i, "sample": 0, "correct": i == "a"} for i in ("a", "b")]
    write_jsonl(tmp_path / "final" / "samples.jsonl", rows)
    outcome = compare_evaluations(compose_config(), tmp_path / "base", tmp_path / "final")
    assert outcome["difference"] == -0.5 and outcome["verdict"].startswith("the final model is worse than the base")
    assert json.loads((tmp_path / "comparison.json").read_text()) == outcome


def test_a_run_that_evaluates_checks_its_benchmarks_first(tmp_path: Path) -> None:
    """A misspelt benchmark stops `eval.after_train` runs before training, not hours later; a benchmark file that
    cannot be read stops `eval.before_train` with the reader's one line, not a traceback from the evaluation
    process, and training does not start."""
    from tests.conftest import run_openrs

    run_dir = tmp_path / "run"
    result = run_openrs("logger=none", "eval.after_train=true", "eval.benchmarks=[aime2024]",
                        f"hydra.run.dir={run_dir}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2 and "unknown benchmark 'aime2024'" in result.stderr
    assert "Traceback" not in result.stderr and not (run_dir / "metrics.jsonl").exists()
    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"id": "a", "problem": "1 + 1?", "answer": "2"}\nnot json\n')
    result = run_openrs("logger=none", "eval.before_train=true", "eval.benchmarks=[mine]", f"+eval.files.mine={bad}",
                        f"hydra.run.dir={run_dir}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert "openrs: error: " in result.stderr and "mine.jsonl, line 2" in result.stderr
    assert "eval.before_train failed" in result.stderr and "Traceback" not in result.stderr
    assert not (run_dir / "metrics.jsonl").exists()


def test_each_sample_has_a_random_stream_of_its_own(tmp_path: Path) -> None:
    """Sample i of every problem used to draw the same random stream (one seed per call), so two problems with the
    same text got the same samples in calls of their own: samples were correlated across problems, which the
    bootstrap over problems assumes they are not. Each sample's seed now comes from (seed, benchmark, problem id,
    sample): identical texts differ, and every sample is the same whatever the chunks and batches it is drawn in."""
    rows = [{"id": f"q{i}", "problem": "What is 3 + 4?", "answer": "7"} for i in range(4)]
    rows += [{"id": "r", "problem": "What is 5 * 6?", "answer": "30"}]
    bench = write_jsonl(tmp_path / "same.jsonl", rows)
    overrides = ["eval.benchmarks=[same]", f"+eval.files.same={bench}", "eval.k=2", "eval.max_new_tokens=16",
                 "eval.temperature=1.0", "eval.workers=0"]  # fmt: skip

    def samples(*extra: str) -> dict[tuple[str, int], str]:
        cfg = eval_config(*overrides, *extra)
        out = tmp_path / "_".join(extra).replace("=", "-")
        evaluate_model(ensure_tiny_model(), cfg.eval, out, model_cfg=cfg.model)
        return {(r["id"], r["sample"]): r["completion"] for r in SampleStore(out / "samples.jsonl").records()}

    apart = samples("eval.chunk_size=1", "eval.batch_size=1")
    assert len({apart[(f"q{i}", 0)] for i in range(4)}) > 1  # the same question, four streams
    together = samples("eval.chunk_size=256", "eval.batch_size=16")
    assert together == apart


# --- the sober protocol ------------------------------------------------------------------------------------------


def test_the_sober_preset() -> None:
    """eval=sober: arXiv 2504.07086's protocol (bethgelab/sober-reasoning): temperature 0.8, top_p 0.9, 32,768
    tokens in all, 10 seeds on AIME24/25 and AMC23, 3 on MATH-500, Minerva and OlympiadBench, one sample each."""
    sober = eval_config("eval=sober").eval
    assert (sober.temperature, sober.top_p, sober.max_new_tokens, sober.max_model_length) == (0.8, 0.9, 32768, 32768)
    assert {name: sober.samples_for(name) for name in sober.benchmarks} == {
        "aime24": 10, "aime25": 10, "amc23": 10, "math500": 3, "minerva": 3, "olympiadbench": 3,
    }  # fmt: skip
    assert sample_seeds(sober.samples_for("aime24"), list(sober.seeds)) == {s: [s] for s in range(10)}
    assert sample_seeds(sober.samples_for("math500"), list(sober.seeds)) == {0: [0], 1: [1], 2: [2]}
    with pytest.raises(ConfigError, match=r"eval.k_by_benchmark.aime42: unknown benchmark 'aime42'"):
        load_items(eval_config("eval=sober", "+eval.k_by_benchmark.aime42=3").eval)
    with pytest.raises(ConfigError, match=r"eval.k_by_benchmark=.*must be at least 1"):
        eval_config("eval=sober", "eval.k_by_benchmark.aime24=0")


def test_the_spread_over_seeds_is_the_leaderboards() -> None:
    """The sober leaderboard's AIME24 cell for Qwen-2.5-1.5B-SimpleRL-Zoo is 0.3 ± 1.1 over 10 seeds: one correct
    sample in 10 x 30. The sample std (ddof=1) gives 1.1; the population std would give 1.0."""
    from openrs.evaluation.report import format_seed_score
    from openrs.evaluation.stats import seed_spread

    flags = {seed: {f"p{i}": [seed == 3 and i == 7] for i in range(30)} for seed in range(10)}
    spread = seed_spread(flags)
    assert spread["n"] == 10 and spread["pass@1"]["3"] == pytest.approx(1 / 30)
    assert format_seed_score({"pass@1": spread["mean"], "seeds": spread}) == "0.3 ± 1.1"
    assert seed_spread({0: flags[0]}) is None  # one seed has no spread
    assert seed_spread({0: flags[0], 1: {"p0": [False]}}) is None  # seeds over different problems do not compare


def test_benchmarks_with_their_own_sample_counts_report_the_spread_over_seeds(tmp_path: Path) -> None:
    """eval.k_by_benchmark end to end with a model that answers 5: each benchmark gets its own samples per problem and
    seeds, results.json has each seed's pass@1 and their mean ± std, and table.md an over-seeds table with the sober
    leaderboard's published rows (flagged as another protocol, since this is not it)."""
    model = answering_model(tmp_path / "answers_five", "5")
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "a", "problem": "2 + 3?", "answer": "5"},
                                                   {"id": "b", "problem": "2 + 2?", "answer": "4"}])  # fmt: skip
    mini = write_jsonl(tmp_path / "mini.jsonl", MINI)
    cfg = eval_config("eval.benchmarks=[mini,other]", f"+eval.files.mini={mini}", f"+eval.files.other={other}",
                      "eval.k=2", "+eval.k_by_benchmark.mini=4", "eval.seeds=[0,1,2,3]", "eval.max_new_tokens=12",
                      "eval.workers=0")  # fmt: skip
    out = tmp_path / "out"
    results = evaluate_model(str(model), cfg.eval, out, label="answers five")
    records = SampleStore(out / "samples.jsonl").records()
    seeds: dict[tuple[str, str], list[int]] = {}
    for record in sorted(records, key=lambda r: r["seed"]):
        seeds.setdefault((record["benchmark"], record["id"]), []).append(record["seed"])
    assert seeds == {("mini", q): [0, 1, 2, 3] for q in ("q1", "q2", "q3")} | {("other", q): [0, 1] for q in "ab"}
    bench = results["benchmarks"]
    assert (bench["mini"]["k"], bench["other"]["k"]) == (4, 2)
    assert bench["mini"]["seeds"] == {"n": 4, "pass@1": {str(s): pytest.approx(1 / 3) for s in range(4)},
                                      "mean": pytest.approx(1 / 3), "std": pytest.approx(0.0)}  # fmt: skip
    assert bench["other"]["seeds"]["mean"] == pytest.approx(0.5) == bench["other"]["pass@1"]
    text = (out / "table.md").read_text()
    over_seeds = table_rows_after(text, "### Over seeds")
    assert over_seeds["Open-RS3"]["AIME24"] == "29.7 ± 4.6" and over_seeds["Open-RS2"]["AMC23"] == "73.0 ± 5.7"
    assert over_seeds["answers five"]["AIME24"] == "—"
    assert "answers five: not the sober protocol (temperature=0.6, top_p=0.95, max_new_tokens=12)" in text


def table_rows_after(text: str, heading: str) -> dict[str, dict[str, str]]:
    """The markdown table that follows `heading` in `text`, as `table_rows` reads one."""
    lines = [line for line in text.split(heading, 1)[1].splitlines() if line.startswith("|")]
    columns = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return {cells[0]: dict(zip(columns, cells, strict=True))
            for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}  # fmt: skip
