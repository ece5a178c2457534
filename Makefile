# On a fresh machine:
#   make install  create .venv if missing, install the package with JupyterLab (a learner's laptop: the [lab] extra)
#   make lab      open the notebooks in JupyterLab (installing first only when JupyterLab is missing)
#   make demo     create .venv if missing, install the package, run the main job
#   make test     the set-up with the dev extra, then ruff, the import contract, the tests and the notebooks under nbval
# A room of laptops without a network (docs/instructors.md): `make wheelhouse` on a connected machine, then
# `make install-offline` on each laptop; `make lab` then never reaches for the package index.
# Override the interpreter with PYTHON=...
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-offline wheelhouse demo test test-notebooks notebooks lab diagrams images benchmarks workshop \
	checkpoints readme clean

# A new virtual environment; the online installs below upgrade its pip first (an old pip cannot install the package
# in editable mode), install-offline does not (it must not reach the index).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e .
	touch $@

$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e ".[lab]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@ $(VENV)/.installed-lab $(VENV)/.installed

install: $(VENV)/.installed-lab

# Every wheel a learner's laptop needs (the package's dependencies with the [lab] extra, and what pip needs to install
# the package itself), into wheelhouse/, for a room without a network. Run it on a connected machine of the laptops'
# kind (same operating system and Python). On Linux, PyPI's torch is the CUDA build (GBs): a CPU-only wheelhouse takes
# torch from PyTorch's own index: make wheelhouse TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
wheelhouse:
	$(PYTHON) -m pip download -d wheelhouse $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) ".[lab]" \
	    "setuptools>=64" wheel

# On a laptop without a network, from the wheelhouse only (--no-index: pip never looks for an index).
install-offline: | $(BIN)/python
	$(BIN)/python -m pip install --no-index --find-links wheelhouse -e ".[lab]"
	touch $(VENV)/.installed-lab $(VENV)/.installed

# The demo's own folder is replaced on each run; trained networks stay cached (MAE_CACHE_DIR).
demo: $(VENV)/.installed
	$(BIN)/mae-unlearn --out runs/demo --images images --overwrite

# Style, the import contract (pyproject.toml: the two wings never import each other), the unit tests in whatever
# mode the environment says (.ci/run: MAE_FAST=1), the end-to-end tests once (marked slow: the browser test and one
# command-line run), then the notebooks under nbval.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/cog -I tools --check README.md
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest -m slow
	$(MAKE) test-notebooks

# The mode the notebooks' saved outputs come from: normal mode, offline digits, on the CPU with 2
# threads (the thread count changes the last digits of a training run); each notebook from an empty
# model cache, as on a fresh Colab runtime. Waiting threads sleep instead of spinning: the same numbers,
# and on a machine shared with other jobs 10x faster (60 training steps under load: 36 s spinning, 3.6 s).
# The last three pin the x86 code paths (by default torch's kernels and MKL pick them by CPU). They do not
# make two CPU kinds agree: oneDNN and MKL still block their sums by CPU model, and notebook 02 prints test
# MSE 0.0967 on an Intel Xeon, 0.0981 on an AMD EPYC, pins and all. So `make notebooks` records the machine
# (notebook metadata mae_saved_on) and `make test-notebooks` compares outputs only on that machine; elsewhere
# it says so and runs every cell without comparing (NBVAL=strict compares anyway).
SAVED_MODE := MAE_FAST=0 MAE_DATA_SOURCE=offline CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE \
	PYTHONUNBUFFERED=1 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=COMPATIBLE
NOTEBOOKS ?= $(sort $(wildcard notebooks/*.ipynb))
NBVAL ?= auto

# nbval runs each notebook in that mode and compares every output not tagged nbval-ignore-output;
# notebooks/nbval_sanitize.cfg blanks out timings, progress bars and temporary paths first.
test-notebooks: $(VENV)/.installed-dev
	@case "$(NBVAL)" in auto|strict) ;; *) echo "NBVAL=$(NBVAL) is not a comparison mode: use NBVAL=auto (compare the" \
	    "outputs only on the machine that saved them, the default) or NBVAL=strict (compare them anywhere)" >&2; exit 2;; esac
	for notebook in $(NOTEBOOKS); do \
	    compare=--nbval; \
	    if [ "$(NBVAL)" != strict ] && ! $(BIN)/python tools/notebook_metadata.py --saved-on-this-machine $$notebook; \
	        then compare=--nbval-lax; fi; \
	    cache=$$(mktemp -d) && \
	    $(SAVED_MODE) MAE_CACHE_DIR=$$cache $(BIN)/python -m pytest -p no:cacheprovider -q $$compare \
	        --nbval-sanitize-with notebooks/nbval_sanitize.cfg $$notebook; \
	    status=$$?; rm -rf $$cache; [ $$status = 0 ] || exit $$status; \
	done

# Re-execute notebooks in that mode and save their outputs (NOTEBOOKS=notebooks/NAME.ipynb for one),
# then stamp and tidy them (tools/notebook_metadata.py). Commit the package first: the stamp pins the
# notebooks' Colab install to the commit they were run from.
notebooks: $(VENV)/.installed-dev
	for notebook in $(NOTEBOOKS); do \
	    cache=$$(mktemp -d) && \
	    $(SAVED_MODE) MAE_CACHE_DIR=$$cache $(BIN)/jupyter nbconvert --to notebook --execute --inplace $$notebook; \
	    status=$$?; rm -rf $$cache; [ $$status = 0 ] || exit $$status; \
	done
	$(BIN)/python tools/notebook_metadata.py --saved-here $(NOTEBOOKS)

# The warm start: the networks of the lessons' default path (offline digits, the default config, forget 0 3 6 9),
# trained in SAVED_MODE into a fresh cache and shipped in mae_helpers/checkpoints/ with their SHA-256. Run it after
# a change that retrains them (a test says when: tests/test_cache.py).
checkpoints: $(VENV)/.installed-dev
	cache=$$(mktemp -d) && \
	$(SAVED_MODE) MAE_CACHE_DIR=$$cache MAE_WARM_START=0 $(BIN)/mae-unlearn --prepare-only --no-fast --source offline \
	    --quiet && $(BIN)/python tools/ship_checkpoints.py $$cache; \
	status=$$?; rm -rf $$cache; exit $$status

# The three teaching diagrams (the MAE, one unlearning step, the controller's loop), drawn by
# tools/diagrams.py with matplotlib alone: seconds, no training, no data.
diagrams: $(VENV)/.installed
	$(BIN)/python tools/diagrams.py --out images

# Every figure and screenshot in images/: the diagrams, the main job's figures, then the browser
# test's screenshots (it needs Debian's chromium).
images: $(VENV)/.installed-dev diagrams
	$(BIN)/mae-unlearn --out runs/images --images images --overwrite
	MAE_FAST=1 MAE_SCREENSHOTS=images $(BIN)/python -m pytest -m slow tests/browser -q

# The README's tables, generated from benchmarks/results/ and the notebooks' saved outputs (tools/readme_tables.py);
# make test checks that they agree (cog --check).
readme: $(VENV)/.installed-dev
	$(BIN)/cog -I tools -r README.md

# Every benchmark the README quotes, in the order they ran for it (about two and a half hours on a 2-core CPU,
# nothing else running); then `make readme`.
# The unlearning benchmark needs MNIST's t10k files: MNIST_T10K=folder-with-t10k-*.gz.
MNIST_T10K ?= ../shared/data/mnist-t10k
benchmarks: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/layouts.py --mnist-dir $(MNIST_T10K)
	$(BIN)/python benchmarks/unlearning.py sweep --scale t10k-8k --seeds 0 1 2 | tee benchmarks/results/sweep-t10k-8k.txt
	$(BIN)/python benchmarks/unlearning.py sweep --scale layout-60k | tee benchmarks/results/sweep-layout-60k.txt
	$(BIN)/python benchmarks/step_time_before_after.py --scale layout-60k --set 9 \
	    | tee benchmarks/results/step-time-layout-60k.txt
	$(BIN)/python benchmarks/panel_time.py | tee benchmarks/results/panel-time-offline.txt
	for scale in offline t10k-8k layout-60k; do \
	    $(BIN)/python benchmarks/unlearning.py methods --scale $$scale --sets 0369 \
	        | tee benchmarks/results/methods-$$scale.txt || exit 1; \
	done
	$(BIN)/python benchmarks/unlearning.py strength --scale t10k-8k --seeds 0 1 2 \
	    | tee benchmarks/results/strength-t10k-8k.txt
	$(BIN)/python benchmarks/speed.py --mnist-dir $(MNIST_T10K) | tee benchmarks/results/speed.txt

# Before a workshop (docs/instructors.md): cache every network the lessons use, at the full and
# the fast settings, then check that nothing is missing. Copy the cache folder to each laptop.
# The data source is part of a network's cache key: the notebooks' DATA_SOURCE (WORKSHOP_SOURCE=auto
# for full MNIST, after setting DATA_SOURCE = "auto" in them).
WORKSHOP_SOURCE ?= offline
workshop: $(VENV)/.installed-dev
	$(BIN)/mae-unlearn --prepare-only --no-fast --source $(WORKSHOP_SOURCE)
	$(BIN)/mae-unlearn --prepare-only --fast --source $(WORKSHOP_SOURCE)
	$(BIN)/mae-unlearn --check-cache --no-fast --quiet --source $(WORKSHOP_SOURCE)
	$(BIN)/mae-unlearn --check-cache --fast --quiet --source $(WORKSHOP_SOURCE)

# It installs only when JupyterLab is missing: a laptop installed from a wheelhouse never reaches for the index.
lab:
	@test -x $(BIN)/jupyter || $(MAKE) install
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf runs cache .pytest_cache
