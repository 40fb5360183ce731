"""Curation: normalise, verifiable and mix steps, recipe validation, and `python -m openrs.data` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from openrs.__main__ import CONF_DIR
from openrs.config import typed_config
from openrs.data.curation.config import CurateConfig, register_curate_configs
from openrs.data.curation.mix import mix
from openrs.data.curation.normalize import normalize
from openrs.data.curation.pipeline import run_recipe, write_outputs
from openrs.data.curation.verifiable import last_boxed, verifiable
from openrs.errors import ConfigError
from tests.conftest import REPO

register_curate_configs()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def row(i: int, source: str = "s", **extra) -> dict:
    return {"id": f"{source}-{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i), "solution": None,
            "source": source, **extra}  # fmt: skip


# --- steps -------------------------------------------------------------------------------------------------------


def test_normalize_cleans_text_and_drops_empty_problems() -> None:
    rows = [
        {"id": "a", "problem": "  What\u200b is  x²?\r\n\r\n\r\n\r\nExplain. \n", "answer": " 4 ", "source": "s"},
        {"id": "b", "problem": " \n\ufeff ", "answer": "1", "source": "s"},
    ]
    out = normalize(rows)
    assert out.rows == [{"id": "a", "problem": "What is  x²?\n\nExplain.", "answer": "4", "source": "s"}]
    assert [(r.row["id"], r.reason) for r in out.removed] == [("b", "empty problem")]
    assert out.extra == {"rows_changed": 2}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{\\frac{1}{2}} and then \\boxed{\\dfrac{3}{4}}.", "\\dfrac{3}{4}"),
        ("\\boxed{\\{1, {2}\\}}", "\\{1, {2}\\}"),
        ("\\fbox{7}", "7"),
        ("no box here", None),
        ("\\boxed{5} and an unclosed \\boxed{6", "5"),
        ("\\boxed{ }", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


def test_verifiable_takes_answers_from_solutions_and_drops_what_cannot_be_checked() -> None:
    rows = [
        {"id": "a", "problem": "p", "answer": "12", "solution": None, "source": "s"},
        {"id": "b", "problem": "p", "answer": None, "solution": "... so \\boxed{\\frac{1}{9}}.", "source": "s"},
        {"id": "c", "problem": "p", "answer": None, "solution": "No final answer.", "source": "s"},
        {"id": "d", "problem": "p", "answer": "See the figure.", "solution": None, "source": "s"},
    ]
    out = verifiable(rows, workers=0)
    assert [(r["id"], r["answer"]) for r in out.rows] == [("a", "12"), ("b", "\\frac{1}{9}")]
    assert sorted((r.row["id"], r.reason) for r in out.removed) == [("c", "no answer"), ("d", "unparseable answer")]
    assert out.extra == {"answers_taken_from_solution": 1}
    strict = verifiable(rows[:2], require_boxed_solution=True, workers=0)
    assert [r["id"] for r in strict.rows] == ["b"] and strict.removed[0].reason == "no boxed solution"


def test_mix_draws_exact_counts_reproducibly_by_band_and_labels() -> None:
    rows = [row(i, "hard", pass_rate=0.0) for i in range(50)] + [row(i, "easy", pass_rate=i / 49) for i in range(50)]
    draws = [
        {"source": "hard", "count": 10, "label": "Hard"},
        {"source": "easy", "count": 5, "band": [0.8, 1.0], "label": "Easy"},
    ]
    out = mix(rows, draws=draws, seed=3)
    assert len(out.rows) == 15 and len(out.removed) == 85
    assert sum(r["level"] == "Hard" for r in out.rows) == 10
    assert all(r["pass_rate"] >= 0.8 for r in out.rows if r["level"] == "Easy")
    assert [r["id"] for r in mix(rows, draws=draws, seed=3).rows] == [r["id"] for r in out.rows]
    assert [r["id"] for r in mix(rows, draws=draws, seed=4).rows] != [r["id"] for r in out.rows]
    assert out.extra["draws"][1]["available"] == 10  # pass rates 40/49 .. 49/49 lie in [0.8, 1] (inclusive)
    assert all("level" not in r for r in rows)  # input rows untouched


def test_mix_draws_never_take_a_row_twice_and_say_when_too_few() -> None:
    rows = [row(i) for i in range(6)]
    out = mix(rows, draws=[{"source": "s", "count": 4}, {"source": "s", "count": 2}], seed=0)
    assert len({r["id"] for r in out.rows}) == 6
    with pytest.raises(ConfigError, match=r"draws\[1\] asks for 3 rows of source 's', but only 2 are left"):
        mix(rows, draws=[{"source": "s", "count": 4}, {"source": "s", "count": 3}])
    with pytest.raises(ConfigError, match="unknown keys"):
        mix(rows, draws=[{"source": "s", "count": 1, "weight": 2}])


# --- recipes -----------------------------------------------------------------------------------------------------


def curate_config(*overrides: str) -> CurateConfig:
    """The typed config `python -m openrs.data <overrides>` runs with (typed at the entry, as there)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return typed_config(compose("curate", overrides=list(overrides)), CurateConfig)


@pytest.mark.parametrize("recipe", ["open_s1", "open_deepscaler", "open_rs", "custom"])
def test_every_recipe_composes_and_its_steps_validate(recipe: str) -> None:
    from openrs.data.curation.pipeline import _planned_steps

    cfg = curate_config(f"+recipe={recipe}")
    planned = _planned_steps(cfg)
    assert [name for name, _, _ in planned][0] == "normalize"
    assert cfg.recipe.notes, "a recipe records where its numbers come from"


def test_open_rs_recipe_draws_the_papers_7000() -> None:
    cfg = curate_config("+recipe=open_rs")
    draws = [step.params["draws"] for step in cfg.recipe.steps if step.name == "mix"][0]
    assert [(d["source"], d["count"], d["label"]) for d in draws] == [
        ("open_s1", 3000, "Hard"),
        ("open_deepscaler", 3000, "Hard"),
        ("deepscaler_raw", 1000, "Easy"),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+recipe=custom", "recipe.steps.1.name=dedup"], "recipe.steps[1].name='dedup' is not a step"),
        (["+recipe=custom", "+recipe.steps.1.params.treshold=0.5"], "unknown param(s) ['treshold']"),
        (["+recipe=custom", "recipe.steps.4.only_sources=[nope]"], "only_sources names unknown sources ['nope']"),
        (
            ["+recipe=custom", "recipe.steps.1.params.threshold=5"],
            "recipe.steps[1] (dedupe): threshold must be in (0, 1]",
        ),
        ([], "Choose a recipe"),
    ],
)
def test_recipe_errors_come_before_any_data_is_read(overrides: list[str], message: str) -> None:
    cfg = curate_config(*overrides, "recipe.sources.aime.path=/nonexistent" if overrides else "format=jsonl")
    with pytest.raises(ConfigError) as info:
        run_recipe(cfg)
    assert message in str(info.value)


def test_unknown_recipe_key_is_rejected_by_the_schema() -> None:
    with pytest.raises(ConfigError, match="recipe.sourcez"):
        curate_config("+recipe=custom", "+recipe.sourcez=1")


# --- end to end --------------------------------------------------------------------------------------------------


def benchmark_dir(tmp_path: Path, contaminated_problem: str) -> Path:
    """An aime24.jsonl with the right size (30) where one problem also appears in the training data."""
    rows = [{"id": f"aime24-{i}", "problem": f"Find the number of lattice points on circle number {i} of radius {i}."}
            for i in range(29)]  # fmt: skip
    rows.append({"id": "aime24-29", "problem": contaminated_problem})
    write_jsonl(tmp_path / "bench" / "aime24.jsonl", rows)
    return tmp_path / "bench"


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("curate")
    leaked = (
        "Let $N$ be the number of ordered pairs of integers $(a, b)$ with $1 \\le a, b \\le 100$ such that "
        "$a^2 + b^2$ is divisible by 7. Find $N$."
    )
    aime = [
        {"id": f"a{i}", "problem": f"Compute the sum of the first {i + 3} odd squares.", "answer": str(i)}
        for i in range(12)
    ]
    aime.append({"id": "a-leak", "problem": leaked, "answer": "196", "solution": ""})
    aime.append(
        {"id": "a-dup", "problem": "Compute the sum of the first  3 odd squares.", "answer": "0", "solution": ""}
    )
    math = [
        {"id": f"m{i}", "problem": f"Simplify the fraction {i + 2}/{2 * i + 4} completely.", "answer": "\\frac{1}{2}"}
        for i in range(12)
    ]
    math.append(
        {"id": "m-bad", "problem": "Draw the graph of the function.", "answer": "See the graph.", "solution": ""}
    )
    out = tmp / "out"
    args = [
        "+recipe=custom",
        f"recipe.sources.aime.path={write_jsonl(tmp / 'aime.jsonl', aime)}",
        f"recipe.sources.math.path={write_jsonl(tmp / 'math.jsonl', math)}",
        f"recipe.steps.3.params.benchmarks_dir={benchmark_dir(tmp, leaked)}",
        "+recipe.steps.3.params.benchmarks=[aime24]",
        "recipe.steps.4.params.max_new_tokens=4",
        "recipe.steps.5.params.draws=[{source: aime, count: 5, label: hard}, {source: math, count: 6, label: easy}]",
        f"output_dir={out}",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "openrs.data", *args], cwd=tmp, env=env, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_end_to_end_recipe_writes_data_report_removals_hits_and_card(curated: Path) -> None:
    rows = [json.loads(line) for line in (curated / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 11 and {r["level"] for r in rows} == {"hard", "easy"}
    assert all(r["pass_k"] == 2 and r["pass_rate"] == 0.0 for r in rows)
    report = json.loads((curated / "report.json").read_text())
    steps = {s["name"]: s for s in report["steps"]}
    assert [s["name"] for s in report["steps"]] == [
        "normalize",
        "dedupe",
        "verifiable",
        "decontaminate",
        "difficulty",
        "mix",
    ]
    assert steps["dedupe"]["removed"] == {"exact duplicate": 1}
    assert steps["verifiable"]["removed"] == {"unparseable answer": 1}
    assert steps["decontaminate"]["removed"] == {"contaminated: aime24": 1}
    assert steps["mix"]["rows_in"] == 24 and steps["mix"]["rows_out"] == 11
    removed = [json.loads(line) for line in (curated / "removed.jsonl").read_text().splitlines()]
    assert {(r["id"], r["reason"]) for r in removed if r["step_name"] != "mix"} == {
        ("a-dup", "exact duplicate"),
        ("m-bad", "unparseable answer"),
        ("a-leak", "contaminated: aime24"),
    }
    hits = [json.loads(line) for line in (curated / "decontamination_hits.jsonl").read_text().splitlines()]
    assert hits == [{"id": "a-leak", "benchmark": "aime24", "benchmark_id": "aime24-29", "overlap": 1.0}]
    card = (curated / "README.md").read_text()
    for heading in ("## Sources", "## Steps", "## Decontamination", "## Where the numbers come from", "## Reproduce"):
        assert heading in card
    assert "| 3 | `decontaminate` |" in card and "aime24 1" in card


def test_curated_output_trains_through_the_dataset_group(curated: Path) -> None:
    from transformers import AutoTokenizer

    from openrs.data.prepare import prepare_dataset
    from openrs.tiny_model import ensure_tiny_model
    from tests.conftest import compose_config

    cfg = compose_config("dataset=jsonl", f"dataset.path={curated / 'train.jsonl'}", "dataset.answer_column=answer")
    data = prepare_dataset(cfg, AutoTokenizer.from_pretrained(ensure_tiny_model()))
    assert data.report.rows_kept == 11 and not data.report.dropped


def test_push_to_hub_uploads_data_and_card(curated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The hub cannot be reached here: Dataset.push_to_hub and HfApi.upload_file are replaced by recorders.
    import datasets
    import huggingface_hub

    from openrs.data.curation.run import push

    calls = []
    monkeypatch.setattr(
        datasets.Dataset, "push_to_hub", lambda self, repo, private: calls.append((repo, private, len(self)))
    )
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_file", lambda self, **kw: calls.append(kw["path_in_repo"]))
    push({"data": curated / "train.jsonl", "card": curated / "README.md"}, "me/my-set", private=True)
    assert calls == [("me/my-set", True, 11), "README.md"]


def test_write_outputs_parquet(tmp_path: Path) -> None:
    import pandas as pd

    cfg = curate_config("+recipe=custom", "format=parquet")
    from openrs.data.curation.pipeline import CurationResult

    result = CurationResult(rows=[row(1), row(2)], sources={"s": 2}, steps=[], seconds=0.1)
    paths = write_outputs(result, cfg, tmp_path)
    assert list(pd.read_parquet(paths["data"])["id"]) == ["s-1", "s-2"]
    assert paths["card"].read_text().startswith("---\npretty_name: custom")
