"""Local data files read and checked before any model loads: an empty file, a line that is not JSON, bytes that
are not UTF-8, rows that are not objects, a corrupt parquet or csv are each named with the file, the line (or
byte) and the fix, instead of surfacing later as `StopIteration`, `DatasetGenerationError` or `UnicodeDecodeError`
from inside `datasets`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openrs.errors import ConfigError

#: Local file suffix -> the `datasets` builder that reads it.
LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def local_data_files(path_text: str, key: str) -> tuple[str, list[Path]]:
    """(datasets builder, files) of a local file or folder; `key` names the setting in errors."""
    path = Path(path_text).expanduser()
    if not path.exists():
        raise ConfigError(f"{key}={path_text} does not exist. Give a .jsonl, .json, .parquet or .csv file or a folder.")
    files = sorted(p for p in path.rglob("*") if p.suffix in LOCAL_FORMATS) if path.is_dir() else [path]
    formats = {LOCAL_FORMATS.get(p.suffix) for p in files}
    if not files or None in formats or len(formats) != 1:
        found = [p.name for p in files[:5]] or "none"
        raise ConfigError(
            f"{key}={path_text}: expected .jsonl, .json, .parquet or .csv files of one format, found {found}."
        )
    return formats.pop(), files


def check_data_files(files: list[Path], key: str) -> None:
    """Read each file once and raise a ConfigError naming the first problem: where it is and what to do."""
    checkers: dict[str, Callable[[Path, str], None]] = {
        ".jsonl": check_json_lines, ".json": check_json, ".csv": check_csv, ".parquet": check_parquet
    }  # fmt: skip
    for path in files:
        checkers[path.suffix](path, key)


def read_text(path: Path, key: str) -> str:
    """The file as UTF-8 text; an unreadable file or a non-UTF-8 byte is named with its offset and line."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{key}: cannot read {path}: {err.strerror or err}. Check the file's permissions.") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"{key}: {path} is not UTF-8: byte {err.start} (line {line}) is 0x{data[err.start]:02x}. Re-encode the "
            f"file as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > fixed{path.suffix}."
        ) from err
    if not text.strip():
        raise ConfigError(f"{key}: {path} is empty. Give a file with rows (one JSON object per line for .jsonl).")
    return text.lstrip("\ufeff")


def read_json_lines(path: Path, key: str) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file, each checked to be one JSON object; a missing file is named with `key`."""
    if not path.exists():
        raise ConfigError(f"{key}={path} does not exist.")
    if not path.is_file():
        raise ConfigError(f"{key}={path} is a folder; give the .jsonl file itself.")
    rows = []
    for number, line in enumerate(read_text(path, key).splitlines(), start=1):
        if line.strip():
            row = parse_json(line, path, key, f"line {number}")
            require_object(row, path, key, f"line {number}")
            rows.append(row)
    return rows


def check_json_lines(path: Path, key: str) -> None:
    read_json_lines(path, key)


def check_json(path: Path, key: str) -> None:
    """A .json file: one array of row objects, or JSON lines (one object: one row)."""
    text = read_text(path, key)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        check_json_lines(path, key)
        return
    if isinstance(document, list):
        for number, row in enumerate(document):
            require_object(row, path, key, f"item {number} of the array")
    elif not isinstance(document, dict):
        require_object(document, path, key, "the whole file")


def parse_json(text: str, path: Path, key: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{key}: {path}, {where}, column {err.colno}: not valid JSON ({err.msg}). Each line of a .jsonl file must "
            'be one complete JSON object, e.g. {"problem": "1+1", "solution": "2"}.'
        ) from err


def require_object(row: Any, path: Path, key: str, where: str) -> None:
    if not isinstance(row, dict):
        raise ConfigError(
            f"{key}: {path}, {where} is a JSON {type(row).__name__}, not an object; each row must be an object with "
            'named columns, e.g. {"problem": "1+1", "solution": "2"}.'
        )


def check_csv(path: Path, key: str) -> None:
    """UTF-8, and every record parses (a quote left open runs to the end of the file)."""
    text = read_text(path, key)
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        for _ in reader:
            pass
    except csv.Error as err:
        raise ConfigError(
            f"{key}: {path}, line {reader.line_num}: not valid CSV ({err}). Check the quoting: a field with a comma, "
            "quote or line break must be in double quotes, with inner quotes doubled."
        ) from err


def check_parquet(path: Path, key: str) -> None:
    """The parquet footer reads (a truncated or mislabelled file does not)."""
    import pyarrow.parquet

    try:
        pyarrow.parquet.read_metadata(path)
    except (OSError, pyarrow.ArrowException) as err:
        raise ConfigError(
            f"{key}: {path} is not a readable parquet file ({str(err).strip()[:200]}). It may be truncated (an "
            "interrupted download or copy) or another format with a .parquet name: write it again."
        ) from err


def load_data_files(builder: str, files: list[Path], key: str) -> Any:
    """The files as one `datasets.Dataset` split; a reader failure names the files and the library's reason."""
    from datasets import load_dataset

    check_data_files(files, key)
    try:
        return load_dataset(builder, data_files=[str(p) for p in files], split="train")
    except Exception as err:  # datasets wraps pyarrow/pandas errors of many types in DatasetGenerationError
        cause = err.__cause__ or err
        names = ", ".join(str(p) for p in files[:3]) + (" ..." if len(files) > 3 else "")
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise ConfigError(
            f"{key}: cannot read {names} as {builder}: {type(cause).__name__}: {reason[:300]}. Check that the file is "
            "complete and of the format its suffix says, and that every row has the same columns."
        ) from err
