"""`python -m openrs.data +recipe=NAME [overrides]`: build a training set from raw sources with a curation recipe."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from openrs.__main__ import CONF_DIR
from openrs.data.curation.config import register_curate_configs

register_curate_configs()
log = logging.getLogger("openrs.data")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="curate")
def main(cfg: DictConfig) -> None:
    from openrs.data.curation.run import curate_or_explain

    code = curate_or_explain(cfg, Path(HydraConfig.get().runtime.output_dir))
    if code:
        sys.exit(code)


if __name__ == "__main__":
    from openrs.data.curation.config import CurateConfig
    from openrs.overrides import refuse_bad_overrides

    refuse_bad_overrides("openrs.data", CurateConfig, example="+recipe=open_rs", config_name="curate")
    main()
