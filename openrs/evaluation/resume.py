"""Which evaluation a relaunch continues, and which samples an output dir may mix.

Each evaluation dir records the settings its samples were drawn with (`eval_settings.json`): what was evaluated and
every eval option that changes a sample. A relaunch into the same dir keeps its finished samples; other settings are
refused there (their samples would mix). A relaunch with the default, time-stamped output dir continues the newest
unfinished evaluation of the same settings beside it, as training's `resume=auto` does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from openrs.config import EvalConfig, plain_dict
from openrs.errors import ConfigError
from openrs.run_dir import differences, write_json

log = logging.getLogger(__name__)

SETTINGS_FILE = "eval_settings.json"
#: Eval options that change how samples are produced or summarized, not which samples: a resumption may differ in them.
NOT_SAMPLE_SETTINGS = (
    "name", "max_problems", "check_counts", "batch_size", "gpu_memory_utilization", "tensor_parallel_size",
    "data_parallel_size", "chunk_size", "workers", "ks", "n_boot", "confidence", "validation", "after_train",
    "before_train", "during_training",
)  # fmt: skip


def eval_settings(eval_cfg: EvalConfig, label: str | None, model_info: dict[str, Any] | None) -> dict[str, Any]:
    """What the samples of one evaluation depend on: the model evaluated and the sampling and scoring options."""
    options = {key: value for key, value in plain_dict(eval_cfg).items() if key not in NOT_SAMPLE_SETTINGS}
    return json.loads(json.dumps({"model": {"label": label, **(model_info or {})}, "eval": options}, default=str))


def claim_eval_dir(out_dir: Path, settings: dict[str, Any]) -> None:
    """Record the settings in `out_dir`, or refuse when its samples were drawn with other settings."""
    recorded = out_dir / SETTINGS_FILE
    if recorded.exists():
        changed = differences(json.loads(recorded.read_text()), settings)
        if changed:
            raise ConfigError(
                f"{out_dir} holds samples drawn with other settings ({'; '.join(changed[:4])}); they would mix. "
                "Evaluate into another dir: output_dir=... (or, for a run, another preset name: eval.name=...)."
            )
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(recorded, settings)


def unfinished_evaluation(fresh_dir: Path, settings: dict[str, Any], candidates: list[Path]) -> Path | None:
    """The newest of `candidates` (the dirs of the output dir's pattern) holding samples of the same settings and no
    results.json yet."""
    found = []
    for candidate in candidates:
        recorded = candidate / SETTINGS_FILE
        if candidate == fresh_dir or not recorded.is_file() or (candidate / "results.json").exists():
            continue
        try:
            same = json.loads(recorded.read_text()) == settings
        except (json.JSONDecodeError, OSError):
            continue
        if same and (candidate / "samples.jsonl").exists():
            found.append((recorded.stat().st_mtime, candidate))
    if not found:
        return None
    earlier = max(found)[1]
    kept = sum(1 for line in (earlier / "samples.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())
    log.warning("openrs.evaluate: continuing the unfinished evaluation in %s (%d samples kept; output_dir=... starts "
                "a new one)", earlier, kept)  # fmt: skip
    return earlier
