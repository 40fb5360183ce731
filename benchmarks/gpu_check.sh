#!/usr/bin/env bash
# The prepared GPU check (issue 10 §5), for a lent GPU machine, which has no network and lacks some of openrs's
# dependencies. Here, first: `bash benchmarks/gpu_wheels.sh` (downloads them into .whl/, git-ignored). Then, with
# the device tool: run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=540).
# Writes $OUT/gpu_check.json (or outputs/gpu_check/) and each part's log; quote the JSON in benchmarks/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
DEST="${OUT:-outputs/gpu_check}"
mkdir -p "$DEST"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH="/tmp/site:$PWD"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled PYTHONUNBUFFERED=1 OPENRS_CACHE=/tmp/openrs-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$DEST/nvidia-smi.txt"
python3 -c "import torch, transformers, trl, datasets, hydra, math_verify, openrs.run; print(torch.__version__, transformers.__version__, trl.__version__)" \
    || exit 1  # a missing wheel: stop before the GPU time goes
timeout 480 python3 benchmarks/gpu_check.py --out "$DEST/gpu_check.json" --work /tmp/openrs-gpu-check "$@" 2>&1 | tail -80
