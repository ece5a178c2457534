# Two commands do everything on a fresh machine:
#   make demo   create .venv if missing, install the package, run the main job
#   make test   same set-up with the dev extra, then ruff and the whole test suite
# `make lab` opens the notebooks in JupyterLab. Override the interpreter with PYTHON=...
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lab images benchmarks workshop clean

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

# The numbers in the README's speed and unlearning tables (an hour and more on a 2-core CPU).
# The unlearning benchmark needs MNIST's t10k files: MNIST_T10K=folder-with-t10k-*.gz.
MNIST_T10K ?= ../shared/data/mnist-t10k
benchmarks: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/speed.py --mnist-dir $(MNIST_T10K)
	$(BIN)/python benchmarks/layouts.py --mnist-dir $(MNIST_T10K)
	$(BIN)/python benchmarks/unlearning.py --json benchmarks/results/unlearning.json

# Before a workshop (docs/instructors.md): cache every network the lessons use, at the full and
# the fast settings, then check that nothing is missing. Copy the cache folder to each laptop.
workshop: $(VENV)/.installed-dev
	$(BIN)/mae-unlearn --prepare-only --no-fast
	$(BIN)/mae-unlearn --prepare-only --fast
	$(BIN)/mae-unlearn --check-cache --no-fast --quiet
	$(BIN)/mae-unlearn --check-cache --fast --quiet

lab: $(VENV)/.installed-dev
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf runs cache .pytest_cache
