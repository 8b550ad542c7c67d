# The README's two commands:  `make demo` (the main job) and `make test` (the tests).
# Each sets up its own virtual environment on a fresh machine. torch is pinned to the local
# CPU build (an unpinned torch pulls gigabytes of CUDA packages).
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet "$(TORCH)"
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $@

.PHONY: demo test
demo: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(VENV)/bin/latentedit demo

test: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q
