# Two commands do everything on a fresh machine:
#   make demo   create .venv if missing, install the package, run the main job
#   make test   same set-up with the dev extra, then ruff and the whole test suite
# `make lab` opens the notebooks in JupyterLab. Override the interpreter with PYTHON=...
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lab images benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@ $(VENV)/.installed

# The demo's own folder is replaced on each run; trained networks stay cached (MAE_CACHE_DIR).
demo: $(VENV)/.installed
	$(BIN)/mae-unlearn --out runs/demo --images images --overwrite

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Every figure and screenshot the README shows: the main job's figures, then the browser
# test's screenshots (it needs Debian's chromium), both written into images/.
images: $(VENV)/.installed-dev
	$(BIN)/mae-unlearn --out runs/images --images images --overwrite
	MAE_FAST=1 $(BIN)/python -m pytest tests/browser -q

# The numbers in the README's speed and unlearning tables (minutes, not seconds).
benchmarks: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/unlearning.py

lab: $(VENV)/.installed-dev
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf runs cache .pytest_cache
