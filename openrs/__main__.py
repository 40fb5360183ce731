"""`python -m openrs [overrides]`: compose the config with Hydra and run one job."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from openrs.config import CONF_DIR, register_configs

register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> None:
    from openrs.dir_search import hydra_dir_search
    from openrs.run import run_or_explain

    hydra_cfg = HydraConfig.get()
    search = hydra_dir_search(hydra_cfg)  # where resume=auto looks for this command's unfinished run
    code = run_or_explain(cfg, Path(hydra_cfg.runtime.output_dir), list(hydra_cfg.overrides.task), search)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    from openrs.config import OpenRSConfig
    from openrs.overrides import refuse_bad_overrides

    refuse_bad_overrides("openrs", OpenRSConfig)
    main()
