"""Data files that cannot be read are named, with the line or byte and the fix, before any model loads; a path given
to the synthetic source is refused instead of silently ignored (openrs.data.files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrs.data.curation.config import SourceSpec
from openrs.data.curation.sources import load_source
from openrs.data.files import read_json_lines
from openrs.errors import ConfigError
from tests.conftest import run_openrs

GOOD_ROW = json.dumps({"problem": "1+1", "solution": "2"})


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


BAD_FILES = {
    "empty.jsonl": (b"", ["empty.jsonl is empty"]),
    "blank.jsonl": (b"\n  \n", ["blank.jsonl is empty"]),
    "malformed.jsonl": (GOOD_ROW.encode() + b'\n{"a": 2, "b": \n', ["line 2, column 15", "not valid JSON"]),
    "latin1.jsonl": (b'{"problem": "caf\xe9", "solution": "2"}\n', ["not UTF-8: byte 16 (line 1) is 0xe9", "iconv"]),
    "scalars.jsonl": (b'"a string"\n', ["line 1 is a JSON str, not an object"]),
    "array.json": (b"[1, 2]", ["item 0 of the array is a JSON int"]),
    "broken.csv": (b'problem,solution\n"1+1,2\n', ["broken.csv, line 2: not valid CSV", "double quotes"]),
    "corrupt.parquet": (b"not parquet", ["corrupt.parquet is not a readable parquet file", "truncated"]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_an_unreadable_data_file_is_named_before_the_model_loads(name: str, tmp_path) -> None:
    data, expected = BAD_FILES[name]
    path = write(tmp_path / "data" / name, data)
    run_dir = tmp_path / "run"
    result = run_openrs("dataset=jsonl", f"dataset.path={path}", f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("openrs: error: dataset.path") and str(path) in message
    for text in expected:
        assert text in message
    assert not (run_dir / "summary.json").exists() and not (run_dir / "metrics.jsonl").exists()


def test_a_folder_of_mixed_formats_lists_them(tmp_path) -> None:
    write(tmp_path / "data" / "a.jsonl", GOOD_ROW.encode())
    write(tmp_path / "data" / "b.csv", b"problem,solution\n1+1,2\n")
    result = run_openrs("dataset=jsonl", f"dataset.path={tmp_path / 'data'}", cwd=tmp_path, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "files of one format, found ['a.jsonl', 'b.csv']" in result.stderr


def test_a_path_given_to_the_synthetic_source_is_refused(tmp_path) -> None:
    path = write(tmp_path / "mine.jsonl", GOOD_ROW.encode())
    result = run_openrs(f"dataset.path={path}", cwd=tmp_path, timeout=300)
    assert result.returncode == 2
    assert "dataset.source=synthetic generates its rows and would ignore it" in result.stderr
    assert f"dataset=jsonl dataset.path={path}" in result.stderr


def test_curation_sources_are_named_by_their_recipe_key(tmp_path) -> None:
    spec = SourceSpec(path=str(write(tmp_path / "raw.jsonl", b'{"problem": "1+1"\n')))
    with pytest.raises(ConfigError, match=r"recipe\.sources\.mine\.path: .*raw\.jsonl, line 1"):
        load_source("mine", spec)
    with pytest.raises(ConfigError, match=r"recipe\.sources\.mine\.path=.*does not exist"):
        load_source("mine", SourceSpec(path=str(tmp_path / "missing.jsonl")))


def test_a_good_json_file_in_each_layout_is_read(tmp_path) -> None:
    rows = [{"problem": "1+1", "solution": "2"}, {"problem": "2+2", "solution": "4"}]
    lines = write(tmp_path / "rows.jsonl", "\ufeff".encode() + "\n".join(map(json.dumps, rows)).encode() + b"\n\n")
    assert read_json_lines(lines, "eval.files.mine") == rows  # a byte-order mark and blank lines are fine
    for name, text in (("array.json", json.dumps(rows)), ("one.json", json.dumps(rows[0]))):
        spec = SourceSpec(path=str(write(tmp_path / name, text.encode())), answer_column=None, solution_column=None)
        assert load_source("s", spec)[0]["problem"] == "1+1"
