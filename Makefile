# Two entry points for users (README): `make run` and `make test`. Both create the virtual
# environment from the pinned requirements when it is missing.
# GPU nodes: GPU=1 installs requirements-gpu.txt (TensorFlow's CUDA build) into its own .venv-gpu;
# DEVICE=cuda (or cpu, cuda:N) sets the `device` of every model of the run and of the benchmarks.
GPU ?=
DEVICE ?=
VENV ?= $(if $(GPU),.venv-gpu,.venv)
REQUIREMENTS := $(if $(GPU),requirements-gpu.txt,requirements.txt)
CONFIG ?= config/config.yaml
CORES ?= all
BIN := $(VENV)/bin
RUN_DEVICE := $(if $(DEVICE),--config device=$(DEVICE))
BENCH_DEVICE := $(if $(DEVICE),--device $(DEVICE))

.PHONY: run test test-slurm test-conda lint bench-keras bench-torch bench-sampling clean

$(BIN)/.installed: $(REQUIREMENTS) pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(REQUIREMENTS)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) $(RUN_DEVICE)
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) $(RUN_DEVICE) --report results/report.html

test: $(BIN)/.installed
	$(BIN)/pytest tests/core tests/workflow
	$(BIN)/pytest tests/keras
	$(BIN)/pytest tests/torch

# Opt-in (needs root): a one-node SLURM on this machine, then the profile test against a local run.
test-slurm: $(BIN)/.installed
	profiles/slurm/start-local-slurm.sh
	$(BIN)/pytest tests/workflow/test_slurm.py

# Opt-in (slow: builds the three envs from the package registry, 9 GB, 10 min here): the demo through
# `--sdm conda` with the stand-in conda of tests/workflow/conda_standin (README, "Conda environments").
# The envs stay in .snakemake/conda-standin for the next run.
test-conda: $(BIN)/.installed
	DNNFI_TEST_CONDA=.snakemake/conda-standin $(BIN)/pytest tests/workflow/test_conda_envs.py

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow

bench-keras: $(BIN)/.installed
	$(BIN)/python bench/keras_bench.py $(BENCH_DEVICE)

bench-torch: $(BIN)/.installed
	$(BIN)/python bench/torch_bench.py $(BENCH_DEVICE)

# Stratified vs uniform fault sampling on the CIFAR-10 ResNet-20 of ../shared (docs/sampling.md);
# the 1,000,000-injection ground-truth pool is computed once into results/bench/sampling/.
bench-sampling: $(BIN)/.installed
	$(BIN)/python bench/sampling_bench.py

clean:
	rm -rf results .snakemake
