"""Messages name the key the user actually sets, and inputs are checked before work that depends on them: a
curation recipe's benchmark files before its sources and steps, a compared run's records before any table."""

from __future__ import annotations

import json

import pytest

from openrs.errors import ConfigError
from tests.conftest import run_module

RECIPE = """\
# @package _global_
recipe:
  name: keys
  sources:
    mine: {{path: {data}, answer_column: answer, solution_column: null}}
  steps:
    - {{name: normalize}}
    - {{name: dedupe}}
    - {{name: decontaminate, params: {{benchmarks: [aime24], benchmarks_dir: {bench}}}}}
"""


def test_a_missing_benchmark_file_stops_curation_before_any_step(tmp_path) -> None:
    data = tmp_path / "raw.jsonl"
    data.write_text(json.dumps({"problem": "1+1?", "answer": "2"}) + "\n")
    (tmp_path / "conf" / "recipe").mkdir(parents=True)
    (tmp_path / "conf" / "recipe" / "keys.yaml").write_text(RECIPE.format(data=data, bench=tmp_path / "none"))
    result = run_module("openrs.data", f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "+recipe=keys",
                        f"output_dir={tmp_path / 'out'}", cwd=tmp_path, timeout=300)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"openrs.data: error: recipe.steps[2] (decontaminate): Benchmark 'aime24': {tmp_path}/none/aime24.jsonl" \
        " does not exist" in result.stderr  # fmt: skip
    assert "rows from" not in result.stderr  # the check came before the sources were read and any step ran
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_a_curation_source_is_named_by_its_recipe_key(tmp_path) -> None:
    (tmp_path / "conf" / "recipe").mkdir(parents=True)
    recipe = RECIPE.format(data=tmp_path / "missing.jsonl", bench=tmp_path).replace(
        "    - {name: decontaminate, params: {benchmarks: [aime24], benchmarks_dir: " + str(tmp_path) + "}}\n", ""
    )
    (tmp_path / "conf" / "recipe" / "keys.yaml").write_text(recipe)
    result = run_module("openrs.data", f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "+recipe=keys",
                        f"output_dir={tmp_path / 'out'}", cwd=tmp_path, timeout=300)  # fmt: skip
    assert result.returncode == 2
    assert f"recipe.sources.mine.path={tmp_path}/missing.jsonl does not exist" in result.stderr
    assert "dataset.path" not in result.stderr


def test_compare_names_a_summary_that_is_not_an_object(tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text("[1, 2]")
    result = run_module("openrs.compare", str(run), "--out", str(tmp_path / "cmp"), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{run}/summary.json: holds a JSON list, not the object openrs writes" in result.stderr


def test_a_model_folder_that_is_not_a_model_is_named(tmp_path) -> None:
    folder = tmp_path / "not_a_model"
    folder.mkdir()
    (folder / "notes.txt").write_text("weights elsewhere")
    for module in ("openrs", "openrs.evaluate"):
        result = run_module(module, f"model.name_or_path={folder}", cwd=tmp_path, timeout=300)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"model.name_or_path={folder} is a folder without config.json, so not a saved model" in result.stderr


def test_a_failed_push_keeps_the_curated_data_and_says_where(tmp_path) -> None:
    """No hub here (HF_HUB_OFFLINE in the tests' environment): the push fails after the data was written."""
    data = tmp_path / "raw.jsonl"
    data.write_text(json.dumps({"problem": "1+1?", "answer": "2"}) + "\n")
    (tmp_path / "conf" / "recipe").mkdir(parents=True)
    recipe = RECIPE.format(data=data, bench=tmp_path).split("  steps:")[0] + "  steps:\n    - {name: normalize}\n"
    (tmp_path / "conf" / "recipe" / "keys.yaml").write_text(recipe)
    search = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    result = run_module("openrs.data", search, "+recipe=keys", f"output_dir={tmp_path / 'out'}",
                        "push_to_hub=someone/keys", cwd=tmp_path, timeout=300)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "push_to_hub=someone/keys failed:" in result.stderr and f"The data is saved in {tmp_path}/out" in result.stderr
    )
    assert (tmp_path / "out" / "train.jsonl").read_text().count("\n") == 1


def test_repeated_ids_across_sources_name_the_fix(tmp_path) -> None:
    from openrs.data.curation.config import SourceSpec
    from openrs.data.curation.sources import load_sources

    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({"id": 1, "problem": "p", "answer": "1"}) + "\n")
    specs = {name: SourceSpec(path=str(tmp_path / f"{name}.jsonl"), id_column="id", solution_column=None)
             for name in ("a", "b")}  # fmt: skip
    with pytest.raises(
        ConfigError, match=r"Row ids repeat across the recipe's sources \(e.g. \['1'\]\); set id_column"
    ):
        load_sources(specs)


def test_compare_names_an_output_dir_it_cannot_write(tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"run_name": "r", "status": "completed"}))
    (tmp_path / "a_file").write_text("")
    result = run_module("openrs.compare", str(run), "--out", str(tmp_path / "a_file" / "cmp"), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        f"openrs.compare: error: cannot write {tmp_path}/a_file" in result.stderr and "--out (compare)" in result.stderr
    )
