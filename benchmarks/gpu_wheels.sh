#!/usr/bin/env bash
# Download, here, the wheels that benchmarks/gpu_check.sh installs on a lent GPU machine (Python 3.12, no network;
# it has torch, transformers 5.17, accelerate, peft, huggingface-hub, pyarrow, pandas and rich, but not the rest of
# openrs's dependencies). Into .whl/ (git-ignored; the device tool carries it: carry=[".whl"]; 64 MiB at most).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir .whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl \
    trl==1.16.0 transformers==5.24.0 huggingface-hub==2.4.0 hydra-core==1.3.8 omegaconf==2.3.1 \
    math-verify==0.9.0 latex2sympy2_extended==1.11.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 \
    submitit==1.5.4 tokenizers==0.23.3
python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3  # published as a source archive only
du -sh .whl && ls .whl
