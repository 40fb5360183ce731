"""`python -m openrs.evaluate [target=...] [model=...] [eval=tiny|paper|robust|sober] [overrides]`: evaluate a model, a
LoRA adapter or every checkpoint of a run (see openrs.evaluation.runner and docs/EVALUATION.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from openrs.__main__ import CONF_DIR


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from openrs.config import EvaluateConfig, typed_config
    from openrs.dir_search import hydra_dir_search
    from openrs.errors import run_explained
    from openrs.evaluation.runner import evaluate

    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    search = hydra_dir_search(hydra_cfg, cfg, output_key="output_dir")  # an unfinished evaluation's dirs
    code = run_explained("openrs.evaluate", lambda: evaluate(typed_config(cfg, EvaluateConfig), output_dir, search))
    if code:
        sys.exit(code)


if __name__ == "__main__":
    from openrs.config import EvaluateConfig
    from openrs.overrides import refuse_bad_overrides

    refuse_bad_overrides("openrs.evaluate", EvaluateConfig, example="eval.k=4", config_name="evaluate")
    main()
