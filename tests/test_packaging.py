"""openrs runs from a wheel too: every config file is package data, found from any working directory."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

from openrs.__main__ import CONF_DIR

REPO = Path(__file__).resolve().parent.parent


def test_every_config_file_is_declared_package_data() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    section = pyproject.split("[tool.setuptools.package-data]", 1)[1]
    patterns = ast.literal_eval(re.search(r"^openrs\s*=\s*(\[.*?\])", section, re.MULTILINE | re.DOTALL).group(1))
    package = REPO / "openrs"
    files = [
        p.relative_to(package).as_posix() for p in CONF_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    assert files, "no config files found"
    missing = [f for f in files if not any(fnmatch.fnmatchcase(f, pattern) for pattern in patterns)]
    assert not missing, f"not packaged: {missing}"


def test_the_config_dir_lives_inside_the_package() -> None:
    assert CONF_DIR == (REPO / "openrs" / "conf").resolve()
    assert (CONF_DIR / "config.yaml").is_file() and (CONF_DIR / "sweep" / "seeds.yaml").is_file()
