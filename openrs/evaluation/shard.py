"""One data-parallel evaluation worker: `python -m openrs.evaluation.shard <spec.json> <index>`.

Started by :func:`openrs.evaluation.runner._run_shards` with its own GPU(s) in `CUDA_VISIBLE_DEVICES`; generates the
samples of every `num_shards`-th problem into `samples.shard-<index>.jsonl` (resumable like the main file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from openrs.config import EvalConfig, ModelConfig, typed_config
from openrs.evaluation.engine import generate_samples
from openrs.evaluation.samples import SampleStore
from openrs.evaluation.tasks import Item


def main(argv: list[str]) -> int:
    spec_path, index = Path(argv[0]), int(argv[1])
    spec = json.loads(spec_path.read_text())
    eval_cfg = typed_config(spec["eval"], EvalConfig)  # checked against the schema, as in the parent
    shards = eval_cfg.data_parallel_size
    items = [Item(**item) for item in spec["items"]][index::shards]
    store = SampleStore(Path(spec["out_dir"]) / f"samples.shard-{index}.jsonl")
    from openrs.evaluation.runner import _load_generator

    model_cfg = typed_config(spec["model"], ModelConfig) if spec.get("model") else None
    generate_samples(items, eval_cfg, _load_generator(spec["model_path"], eval_cfg, model_cfg), store)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
