#!/usr/bin/env bash
# Download, here, the wheels that benchmarks/gpu_check.sh installs on a lent GPU machine (Python 3.12, no network;
# it has torch, transformers 5.17, accelerate, peft, huggingface-hub 1.33, pyarrow, pandas and rich, but not the rest
# of openrs's dependencies; huggingface-hub 2.4's httpx2 and the floors of transformers 5.24 travel too: the first
# GPU run, 2026-11-29, stopped at `No module named 'httpx2'`). Into .whl/ (git-ignored; the device tool carries it: carry=[".whl"]; 64 MiB at most).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir .whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl \
    trl==1.16.0 transformers==5.24.0 huggingface-hub==2.4.0 hydra-core==1.3.8 omegaconf==2.3.1 \
    math-verify==0.9.0 latex2sympy2_extended==1.11.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 \
    submitit==1.5.4 tokenizers==0.23.3 \
    httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5 idna==3.20 anyio==4.16.0 h11==0.16.0 click==8.5.1 \
    regex==2026.11.19 hf-xet==1.8.0 fsspec==2026.9.0 typer==0.29.2
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl hjson==3.1.0 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3  # published as a source archive only
# DeepSpeed (the zero2 part) is a source archive whose build imports torch: built with the project's environment.
"${PYTHON:-.venv/bin/python}" -m pip wheel -q --no-deps --no-build-isolation -w .whl deepspeed==0.19.8
du -sh .whl && ls .whl
