# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# rules call the `texgen` command: put the venv first on PATH for the workflow and the tests
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test test-fast test-gpu setup lint clean system-deps

# a CI machine once failed in venv's ensurepip (exit 1, nothing more said): then the venv is made without pip and
# pip is put into it by the interpreter's own pip
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV) || { echo "venv: ensurepip failed; making $(VENV) without pip and installing pip into it"; \
	  rm -rf $(VENV) && $(PYTHON) -m venv --without-pip $(VENV) && \
	  $(PYTHON) -m pip --python $(BIN)/python install --quiet --disable-pip-version-check pip; }
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	bash scripts/system-deps.sh graphviz
	$(BIN)/snakemake all

system-deps:
	bash scripts/system-deps.sh

# everything: unit tests, dry runs, the lint check, end-to-end runs (local and Slurm), the browser, every
# benchmark at a tiny size
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -ra

# the fast tier for every commit: unit tests, dry runs and the lint check (no workflow runs, Slurm or browser)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -ra -m "not slow"

# on a GPU node (a cluster user's check of the CUDA path): device selection, static-cache equality, compile,
# growth on the device, and the GPU benchmark
test-gpu: $(STAMP)
	$(BIN)/python -m pytest -ra -m gpu
	$(BIN)/python benchmarks/gpu.py --device cuda

lint: $(STAMP)
	$(BIN)/snakemake --lint

clean:
	rm -rf data results reports logs .snakemake
