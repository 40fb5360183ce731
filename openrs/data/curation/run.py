"""The `python -m openrs.data` job: run the recipe, write the outputs, optionally push, explain config errors."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from openrs.config import typed_config
from openrs.data.curation.config import CurateConfig
from openrs.data.curation.pipeline import run_recipe, write_outputs
from openrs.errors import ConfigError, run_explained

__all__ = ["curate", "curate_or_explain", "push"]

log = logging.getLogger(__name__)


def push(paths: dict[str, Path], repo_id: str, private: bool) -> None:
    """Upload the data and the card to a hub dataset repo (needs network and a token)."""
    from datasets import load_dataset
    from huggingface_hub import HfApi

    data = paths["data"]
    dataset = load_dataset("parquet" if data.suffix == ".parquet" else "json", data_files=str(data), split="train")
    try:
        dataset.push_to_hub(repo_id, private=private)
        HfApi().upload_file(
            path_or_fileobj=str(paths["card"]), path_in_repo="README.md", repo_id=repo_id, repo_type="dataset"
        )
    except Exception as err:  # network, auth, permissions
        raise ConfigError(
            f"push_to_hub={repo_id} failed: {type(err).__name__}: {str(err)[:300]}. The data is saved in "
            f"{data.parent}; log in with `hf auth login` (or set HF_TOKEN) and check the network, then push again."
        ) from err
    log.info("pushed %s to the hub as %s", data, repo_id)


def curate(cfg: CurateConfig, output_dir: Path) -> dict[str, Path]:
    result = run_recipe(cfg)
    paths = write_outputs(result, cfg, output_dir)
    log.info("curated %d rows -> %s (card: %s)", len(result.rows), paths["data"], paths["card"])
    if cfg.push_to_hub:
        push(paths, cfg.push_to_hub, cfg.private)
    return paths


def curate_or_explain(cfg: DictConfig, output_dir: Path) -> int:
    """The entry: the composed config becomes typed (and checked) here, once; then `curate`. Returns 0, or tells a
    configuration or file-system error in one line (openrs.errors.run_explained) and returns 2 or 1."""
    return run_explained("openrs.data", lambda: curate(typed_config(cfg, CurateConfig), output_dir))
