# Two commands do everything on a fresh machine:
#   make demo   create .venv if missing, install the package, run the main job
#   make test   same set-up with the dev extra, then ruff and the whole test suite
# `make lab` opens the notebooks in JupyterLab. Override the interpreter with PYTHON=...
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lab images clean

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

demo: $(VENV)/.installed
	$(BIN)/mae-unlearn --out runs/demo --images images

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lab: $(VENV)/.installed-dev
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf runs cache .pytest_cache
