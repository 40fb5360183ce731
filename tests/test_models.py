"""Model names to directories: the tiny model, local dirs, and hub ids at a pinned revision.

The hub cannot be reached here, so a Hugging Face cache is laid out by hand (the layout huggingface_hub writes:
refs/<branch or tag> holding a commit, snapshots/<commit>/ holding the files) and read with HF_HUB_OFFLINE=1."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from openrs.tiny_model import ensure_tiny_model
from tests.conftest import run_module

MAIN, V1 = "a" * 40, "b" * 40


@pytest.fixture()
def hub_cache(tmp_path: Path) -> Path:
    """`openrs/fake` with two revisions: `main` and the tag `v1`, whose weights differ."""
    import torch
    from safetensors.torch import load_file, save_file

    repo = tmp_path / "hub" / "models--openrs--fake"
    (repo / "refs").mkdir(parents=True)
    for ref, commit in (("main", MAIN), ("v1", V1)):
        (repo / "refs" / ref).write_text(commit)
        shutil.copytree(ensure_tiny_model(), repo / "snapshots" / commit)
    weights = repo / "snapshots" / V1 / "model.safetensors"
    save_file({name: torch.zeros_like(t) for name, t in load_file(weights).items()}, weights, metadata={"format": "pt"})
    return tmp_path / "hub"


def run_offline(module: str, *args: str, hub: Path, cwd: Path) -> subprocess.CompletedProcess:
    """The module against the hand-built cache, with the hub unreachable."""
    return run_module(module, *args, cwd=cwd, env={"HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"})


@pytest.mark.slow
def test_training_loads_the_pinned_revision(tmp_path: Path, hub_cache: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_offline(
        "openrs", "model.name_or_path=openrs/fake", "model.revision=v1", "train.max_steps=1", "logger=none",
        f"hydra.run.dir={run_dir}", hub=hub_cache, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["model_path"] == str(hub_cache / "models--openrs--fake" / "snapshots" / V1)


def test_evaluation_loads_the_pinned_revision(tmp_path: Path, hub_cache: Path) -> None:
    out = tmp_path / "eval"
    args = ["model.name_or_path=openrs/fake", "eval.max_problems=1", "eval.max_new_tokens=4", f"output_dir={out}"]
    result = run_offline("openrs.evaluate", *args, "model.revision=v1", hub=hub_cache, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["name_or_path"].endswith(f"snapshots/{V1}")
    assert results["model"]["revision"] == "v1"


def test_an_unknown_revision_or_an_uncached_model_is_a_clear_error(tmp_path: Path, hub_cache: Path) -> None:
    for args, expected in (
        (["model.name_or_path=openrs/fake", "model.revision=v9"], "model.revision=v9"),
        (["model.name_or_path=openrs/absent"], "not in the local Hugging Face cache"),
    ):
        result = run_offline("openrs", *args, "logger=none", f"hydra.run.dir={tmp_path / 'r'}", hub=hub_cache,
                            cwd=tmp_path)  # fmt: skip
        assert result.returncode != 0
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
