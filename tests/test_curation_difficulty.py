"""The difficulty curation step: pass rates from sampled completions, banding, reuse, backends and validation."""

from __future__ import annotations

import copy
import inspect
import math

import numpy as np
import pytest

import openrs.data.curation.difficulty as difficulty_module
import openrs.generation as generation
from openrs.config import R1_SYSTEM_PROMPT
from openrs.data.curation.difficulty import difficulty
from openrs.errors import ConfigError
from openrs.generation import (
    Sampling,
    chat_prompt,
    load_generator,
    vllm_engine_kwargs,
    vllm_sampling_kwargs,
    vllm_token_prompts,
)
from tests.answering_model import answering_model

MISSING_MODEL = "no-such-org/no-such-model"
VERIFY = {"verify_workers": 1}  # one verification worker: this box has 2 cores and is shared


def make_rows(n: int = 4) -> list[dict]:
    return [
        {"id": f"r{i}", "problem": f"What is {i} + {i + 2}?", "source": "test", "answer": str(2 * i + 2)}
        for i in range(n)
    ]


# --- the tiny model, hf backend on CPU -----------------------------------------------------------------------------


def test_tiny_model_scores_every_row_and_a_low_band_keeps_them_all() -> None:
    rows = make_rows()
    before = copy.deepcopy(rows)
    out = difficulty(rows, model="openrs-tiny", k=2, max_new_tokens=8, band=(0, 0.5), seed=0, **VERIFY)

    assert rows == before  # the input rows are not modified
    assert [r["id"] for r in out.rows] == [r["id"] for r in rows] and not out.removed
    for row in out.rows:
        assert isinstance(row["pass_rate"], float) and row["pass_rate"] in {0.0, 0.5, 1.0}
        assert row["pass_rate"] == 0.0  # random weights solve nothing
        assert row["pass_k"] == 2
    extra = out.extra
    assert extra["rows_sampled"] == 4 and extra["rows_reused"] == 0
    assert extra["completions"] == 8
    assert 0 < extra["generated_tokens"] <= 8 * 8
    assert extra["tokens_per_s"] > 0 and extra["generation_s"] > 0 and extra["wall_s"] > 0
    assert extra["pass_rate_histogram"] == {"0": 4, "0.5": 0, "1": 0}
    assert sum(extra["verdicts"].values()) == 8 and "correct" not in extra["verdicts"]


def test_tiny_model_band_above_zero_removes_everything_as_too_hard_and_is_deterministic() -> None:
    rows = make_rows(3)
    first = difficulty(rows, model="openrs-tiny", k=2, max_new_tokens=8, band=(0.1, 1), seed=7, **VERIFY)
    assert first.rows == []
    assert [(r.row["id"], r.reason, r.detail) for r in first.removed] == [
        (f"r{i}", "too hard", {"pass_rate": 0.0}) for i in range(3)
    ]
    second = difficulty(rows, model="openrs-tiny", k=2, max_new_tokens=8, band=(0.1, 1), seed=7, **VERIFY)
    assert [(r.row, r.reason, r.detail) for r in second.removed] == [(r.row, r.reason, r.detail) for r in first.removed]
    assert second.extra["generated_tokens"] == first.extra["generated_tokens"]


@pytest.fixture(scope="module")
def tiny_generator():
    return load_generator("hf", "openrs-tiny", batch_size=2)


def test_hf_sampling_is_seeded_and_leaves_the_global_rng_alone(tiny_generator) -> None:
    import torch

    prompts = [chat_prompt(tiny_generator.tokenizer, p, R1_SYSTEM_PROMPT) for p in ("1 + 1?", "2 + 3?", "7 * 8?")]
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = tiny_generator.generate(prompts, 2, Sampling(max_new_tokens=8, seed=1))
    assert torch.rand(1) == expected_next  # the caller's RNG stream is untouched
    b = tiny_generator.generate(prompts, 2, Sampling(max_new_tokens=8, seed=1))
    c = tiny_generator.generate(prompts, 2, Sampling(max_new_tokens=8, seed=2))
    assert a == b != c
    assert len(a) == 3 and all(len(group) == 2 and all(isinstance(t, str) for t in group) for group in a)


def test_hf_greedy_repeats_one_decode(tiny_generator) -> None:
    prompts = [chat_prompt(tiny_generator.tokenizer, "1 + 1?", None)]
    before = tiny_generator.stats.tokens
    out = tiny_generator.generate(prompts, 3, Sampling(temperature=0, max_new_tokens=6))
    assert len(out[0]) == 3 and len(set(out[0])) == 1
    assert 0 < tiny_generator.stats.tokens - before <= 6  # one sequence decoded, not three


def test_chat_prompt_uses_the_template_with_the_generation_prompt(tiny_generator) -> None:
    tokenizer = tiny_generator.tokenizer
    with_system = chat_prompt(tokenizer, "What is 2 + 2?", R1_SYSTEM_PROMPT)
    assert with_system.startswith("<|im_start|>system\n" + R1_SYSTEM_PROMPT)
    assert with_system.endswith("<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n")
    assert chat_prompt(tokenizer, "What is 2 + 2?", None).startswith("<|im_start|>user\n")


# --- a model that answers 5 to everything: known pass rates through the real hf generator and verifier -------------


@pytest.fixture(scope="module")
def answers_five(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(answering_model(tmp_path_factory.mktemp("answers_five") / "model", "5"))


def test_pass_rates_from_a_real_model_through_the_real_generator(answers_five: str) -> None:
    rows = [
        {"id": "five", "problem": "What is 2 + 3?", "source": "s", "answer": "5"},
        {"id": "six", "problem": "What is 2 + 4?", "source": "s", "answer": "6"},
        {"id": "half", "problem": "What is 10 / 2?", "source": "s", "answer": "\\frac{10}{2}"},  # 5 in another form
    ]
    out = difficulty(rows, model=answers_five, k=3, max_new_tokens=8, band=(0.5, 1), seed=0, **VERIFY)
    assert [(r["id"], r["pass_rate"], r["pass_k"]) for r in out.rows] == [("five", 1.0, 3), ("half", 1.0, 3)]
    assert [(r.row["id"], r.reason, r.detail) for r in out.removed] == [("six", "too hard", {"pass_rate": 0.0})]
    assert out.extra["completions"] == 9 and out.extra["verdicts"] == {"correct": 6, "wrong": 3}
    assert out.extra["model"] == answers_five and out.extra["backend"] == "hf"
    assert out.extra["pass_rate_histogram"] == {"0": 1, "0.3333": 0, "0.6667": 0, "1": 2}
    # "\\boxed", "{", "5", "}" and the end-of-sequence token per completion: the generator's own token count
    assert out.extra["generated_tokens"] == 9 * 5


def test_gold_column_and_fallback_to_solution(answers_five: str) -> None:
    rows = [
        {"id": "a", "problem": "a", "source": "s", "final": "7", "answer": "5"},
        {"id": "b", "problem": "b", "source": "s", "answer": None, "solution": "It is \\boxed{5}."},
    ]
    out = difficulty(rows, model=answers_five, k=2, max_new_tokens=8, gold_column="final", **VERIFY)
    assert [r["pass_rate"] for r in out.rows] == [0.0, 1.0]  # "a" against final=7, not answer=5; "b" its solution


def test_unparseable_or_missing_gold_is_removed_without_sampling() -> None:
    rows = [
        {"id": "words", "problem": "words", "source": "s", "answer": "the colour of the sky on a sunny day"},
        {"id": "fine", "problem": "What is 2 + 3?", "source": "s", "answer": "5"},
        {"id": "none", "problem": "none", "source": "s", "answer": "  ", "solution": None},
        {"id": "absent", "problem": "absent", "source": "s"},
    ]
    out = difficulty(rows, model="openrs-tiny", k=2, max_new_tokens=8, **VERIFY)
    assert [r["id"] for r in out.rows] == ["fine"] and out.rows[0]["pass_rate"] == 0.0  # random weights
    assert [(r.row["id"], r.reason, r.detail) for r in out.removed] == [
        ("words", "unparseable gold", {"gold": "the colour of the sky on a sunny day"}),
        ("none", "unparseable gold", {"gold": None}),
        ("absent", "unparseable gold", {"gold": None}),
    ]
    assert out.extra["rows_sampled"] == 1 and out.extra["completions"] == 2  # only the parseable row was sampled


def test_reuse_existing_false_recomputes(answers_five: str) -> None:
    rows = [{"id": "p", "problem": "p", "source": "s", "answer": "5", "pass_rate": 0.0}]
    kept = difficulty(rows, model=answers_five, k=2, max_new_tokens=8, band=(0, 0.5), **VERIFY)
    assert kept.rows[0]["pass_rate"] == 0.0 and kept.extra["completions"] == 0  # reused: nothing sampled
    out = difficulty(rows, model=answers_five, k=2, max_new_tokens=8, band=(0, 0.5), reuse_existing=False, **VERIFY)
    assert out.rows == [] and [(r.reason, r.detail, r.row["pass_k"]) for r in out.removed] == [
        ("too easy", {"pass_rate": 1.0}, 2)
    ]


# --- a scripted generator: known completions through the real verifier ---------------------------------------------
# The one test that needs a fake generator: a mix of 0 to 4 right answers out of 4 per problem (to put rows exactly on
# both band edges) needs completions chosen per sample, which no model here produces on demand; it also records the
# sampling arguments and the load_generator call, which a real backend does not expose.


class FakeTokenizer:
    def apply_chat_template(self, messages, *, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        return "|".join(f"{m['role']}:{m['content']}" for m in messages) + "|assistant:"


class ScriptedGenerator:
    """Answers each prompt with the completions scripted for its problem (``{problem: [text, ...]}``)."""

    name = "scripted"

    def __init__(self, script: dict[str, list[str]]):
        self.script = script
        self.tokenizer = FakeTokenizer()
        self.stats = generation.GenerationStats()
        self.calls: list[tuple[list[str], int, Sampling]] = []

    def generate(self, prompts, n, sampling):
        self.calls.append((list(prompts), n, sampling))
        out = []
        for prompt in prompts:
            problem = prompt.split("user:")[1].split("|assistant:")[0]
            out.append(self.script[problem][:n])
        self.stats.prompts += len(prompts)
        self.stats.completions += len(prompts) * n
        self.stats.tokens += 10 * len(prompts) * n
        self.stats.seconds += 0.5
        return out


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch):
    """Install a ScriptedGenerator in place of the real backends; returns the function that sets its script."""
    holder: dict[str, ScriptedGenerator] = {}
    loads: list[tuple] = []

    def fake_load(backend, model, **kwargs):
        loads.append((backend, model, kwargs))
        return holder["generator"]

    def install(script: dict[str, list[str]]) -> ScriptedGenerator:
        holder["generator"] = ScriptedGenerator(script)
        return holder["generator"]

    monkeypatch.setattr(difficulty_module, "load_generator", fake_load)
    install.loads = loads
    return install


def test_pass_rates_and_band_reasons_from_known_completions(scripted) -> None:
    right, wrong = "so \\boxed{5}", "so \\boxed{6}"
    generator = scripted(
        {
            "none right": [wrong, wrong, wrong, wrong],
            "one right": [right, wrong, wrong, wrong],
            "two right": [wrong, right, right, wrong],
            "three right": [right, right, wrong, right],
            "all right": [right, right, right, right],
        }
    )
    problems = ["none right", "one right", "two right", "three right", "all right"]
    rows = [{"id": p, "problem": p, "source": "s", "answer": "5"} for p in problems]
    out = difficulty(
        rows, model="m", k=4, band=(0.25, 0.75), system_prompt="SYS", temperature=0.5, top_p=0.8, seed=3, **VERIFY
    )

    assert [r["id"] for r in out.rows] == ["one right", "two right", "three right"]  # both edges are inclusive
    assert [r["pass_rate"] for r in out.rows] == [0.25, 0.5, 0.75]
    assert [(r.row["id"], r.reason, r.detail) for r in out.removed] == [
        ("none right", "too hard", {"pass_rate": 0.0}),
        ("all right", "too easy", {"pass_rate": 1.0}),
    ]
    assert out.extra["pass_rate_histogram"] == {"0": 1, "0.25": 1, "0.5": 1, "0.75": 1, "1": 1}
    assert out.extra["completions"] == 20 and out.extra["generated_tokens"] == 200 and out.extra["tokens_per_s"] == 400
    assert out.extra["verdicts"] == {"correct": 10, "wrong": 10}
    [(prompts, n, sampling)] = generator.calls
    assert prompts[0] == "system:SYS|user:none right|assistant:" and n == 4
    assert sampling == Sampling(temperature=0.5, top_p=0.8, max_new_tokens=4096, seed=3)
    [(backend, model, kwargs)] = scripted.loads
    assert (backend, model, kwargs["seed"], kwargs["batch_size"]) == ("hf", "m", 3, 16)


# --- reuse_existing: no model at all --------------------------------------------------------------------------------


class ModelLoaded(Exception):
    pass


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading any model raises ModelLoaded."""

    def load(backend, model, **kwargs):
        raise ModelLoaded(model)

    monkeypatch.setattr(difficulty_module, "load_generator", load)


@pytest.mark.parametrize("backend", ["hf", "vllm"])
def test_existing_pass_rates_are_banded_without_a_model(backend: str, no_model) -> None:
    rates = [0.0, 0.25, 0.5, 0.75, 1.0, 0.2499, 0.7501]
    rows = [{"id": str(i), "problem": "?", "source": "s", "pass_rate": rate} for i, rate in enumerate(rates)]
    rows[2]["pass_rate"] = np.float32(0.5)  # as read by pandas / datasets
    rows[1]["pass_k"] = 8
    out = difficulty(rows, model=MISSING_MODEL, backend=backend, band=(0.25, 0.75))
    assert [r["pass_rate"] for r in out.rows] == [0.25, 0.5, 0.75]  # inclusive edges
    assert all(type(r["pass_rate"]) is float for r in out.rows)
    assert out.rows[0]["pass_k"] == 8 and "pass_k" not in out.rows[1]  # kept as given; not invented
    assert [(r.row["id"], r.reason, r.detail) for r in out.removed] == [
        ("0", "too hard", {"pass_rate": 0.0}),
        ("4", "too easy", {"pass_rate": 1.0}),
        ("5", "too hard", {"pass_rate": 0.2499}),
        ("6", "too easy", {"pass_rate": 0.7501}),
    ]
    assert out.extra["rows_reused"] == 7 and out.extra["rows_sampled"] == 0 and out.extra["completions"] == 0
    assert out.extra["model"] is None
    histogram = out.extra["pass_rate_histogram"]
    assert histogram == {"0": 1, "0.2499": 1, "0.25": 1, "0.5": 1, "0.75": 1, "0.7501": 1, "1": 1}


def test_a_row_without_a_usable_pass_rate_needs_the_model(no_model) -> None:
    for missing in (None, math.nan, "0.5"):
        rows = [{"id": "x", "problem": "1 + 1?", "source": "s", "answer": "2", "pass_rate": missing}]
        with pytest.raises(ModelLoaded, match="no-such-model"):
            difficulty(rows, model=MISSING_MODEL, **VERIFY)


def test_an_existing_pass_rate_outside_0_1_is_an_error(no_model) -> None:
    rows = [{"id": "x", "problem": "?", "source": "s", "pass_rate": 75}]
    with pytest.raises(ConfigError, match=r"row 'x' has pass_rate=75, outside \[0, 1\]"):
        difficulty(rows, model=MISSING_MODEL)


# --- vLLM -----------------------------------------------------------------------------------------------------------


def test_vllm_kwargs_translation() -> None:
    engine = vllm_engine_kwargs("/models/x", dtype="auto", gpu_memory_utilization=0.8, tensor_parallel_size=2, seed=5)
    assert engine == {
        "model": "/models/x",
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.8,
        "tensor_parallel_size": 2,
        "seed": 5,
    }
    explicit = vllm_engine_kwargs("m", dtype="float16", gpu_memory_utilization=0.9, tensor_parallel_size=1, seed=0)
    assert explicit["dtype"] == "float16"
    sampling = vllm_sampling_kwargs(4, Sampling(temperature=0.6, top_p=0.95, max_new_tokens=1024, seed=9))
    assert sampling == {"n": 4, "temperature": 0.6, "top_p": 0.95, "max_tokens": 1024, "seed": 9}


@pytest.mark.vllm
def test_vllm_kwargs_are_accepted_by_the_installed_vllm() -> None:
    """vLLM itself is the expectation: its engine arguments and sampling parameters take exactly these names (an
    unknown keyword is a TypeError) and hold the values given. `LLM(**kwargs)` forwards them to `EngineArgs`."""
    import vllm

    engine = vllm_engine_kwargs("/models/x", dtype="auto", gpu_memory_utilization=0.8, tensor_parallel_size=2, seed=5)
    args = vllm.EngineArgs(**engine)
    assert (args.model, args.dtype, args.gpu_memory_utilization, args.tensor_parallel_size, args.seed) == (
        "/models/x", "bfloat16", 0.8, 2, 5,
    )  # fmt: skip
    assert set(engine) <= set(inspect.signature(vllm.LLM.__init__).parameters)  # named, not swallowed by **kwargs
    sampling = vllm.SamplingParams(**vllm_sampling_kwargs(3, Sampling(temperature=0.6, top_p=0.9, max_new_tokens=7)))
    assert (sampling.n, sampling.temperature, sampling.top_p, sampling.max_tokens) == (3, 0.6, 0.9, 7)


def test_vllm_prompts_are_token_ids_without_added_special_tokens() -> None:
    class Tokenizer:
        def __call__(self, text, *, add_special_tokens):
            assert add_special_tokens is False
            return {"input_ids": [len(text), 1]}

    prompts = vllm_token_prompts(Tokenizer(), ["abc", "de"])
    assert prompts == [{"prompt_token_ids": [3, 1]}, {"prompt_token_ids": [2, 1]}]


def pretend_vllm(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    """Make the installed-vLLM lookup say whether vLLM's CUDA build is installed, whatever this machine has."""
    import openrs.vllm_support

    monkeypatch.setattr(openrs.vllm_support, "installed_vllm", lambda: ("vllm", "0.30.0") if installed else None)


def test_vllm_missing_is_a_clear_error_before_any_model_load(monkeypatch: pytest.MonkeyPatch, no_model) -> None:
    pretend_vllm(monkeypatch, installed=False)
    with pytest.raises(ConfigError) as info:
        difficulty(make_rows(1), model=MISSING_MODEL, backend="vllm", **VERIFY)
    message = str(info.value)
    assert "vllm package, which is not installed" in message
    assert "pip install -e '.[gpu]'" in message and "backend=hf" in message
    with pytest.raises(ConfigError, match="vllm package, which is not installed"):
        load_generator("vllm", MISSING_MODEL)  # the backend itself checks too


def test_vllm_without_a_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, no_model) -> None:
    import torch

    pretend_vllm(monkeypatch, installed=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"needs a CUDA GPU.*backend=hf.*pip install -e '\.\[gpu\]'"):
        difficulty(make_rows(1), model=MISSING_MODEL, backend="vllm", **VERIFY)
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        load_generator("vllm", MISSING_MODEL)


# --- validation -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"k": 0}, "'k' must be an integer >= 1"),
        ({"k": 2.0}, "'k' must be an integer >= 1"),
        ({"k": True}, "'k' must be an integer >= 1"),
        ({"band": (0.6, 0.4)}, "'band' must satisfy 0 <= low <= high <= 1"),
        ({"band": (-0.1, 0.5)}, "'band' must satisfy"),
        ({"band": (0.5, 1.5)}, "'band' must satisfy"),
        ({"band": (0.5,)}, "'band' must be a pair"),
        ({"band": "0,1"}, "'band' must be a pair"),
        ({"band": (0, None)}, "'band' must be a pair"),
        ({"temperature": -0.1}, "'temperature' must be >= 0"),
        ({"temperature": math.inf}, "'temperature' must be a finite number"),
        ({"top_p": 0}, r"'top_p' must be in \(0, 1\]"),
        ({"top_p": 1.01}, r"'top_p' must be in \(0, 1\]"),
        ({"backend": "sglang"}, r"'backend' must be one of \['hf', 'vllm'\]"),
        ({"max_new_tokens": 0}, "'max_new_tokens' must be an integer >= 1"),
        ({"batch_size": 0}, "'batch_size' must be an integer >= 1"),
        ({"dtype": "fp8"}, "'dtype' must be one of"),
        ({"gpu_memory_utilization": 0}, "'gpu_memory_utilization' must be in"),
        ({"tensor_parallel_size": 0}, "'tensor_parallel_size' must be an integer >= 1"),
        ({"gold_column": ""}, "'gold_column' must be a non-empty column name"),
        ({"pass_rate_column": None}, "'pass_rate_column' must be a non-empty column name"),
        ({"seed": -1}, "'seed' must be an integer >= 0"),
        ({"system_prompt": 3}, "'system_prompt' must be a string or null"),
        ({"verify_workers": -1}, "'verify_workers' must be an integer >= 0"),
        ({"model": None}, "'model' must be a hub id"),
    ],
)
def test_bad_params_are_named_before_any_work(params: dict, match: str, no_model) -> None:
    kwargs = {"model": MISSING_MODEL, **params}
    with pytest.raises(ConfigError, match=match):
        difficulty(make_rows(1), **kwargs)
    with pytest.raises(ConfigError, match=match):  # also when there is nothing to sample
        difficulty([], **kwargs)
