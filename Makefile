# Two entry points for users (README): `make run` and `make test`. Both create the virtual
# environment from the pinned requirements when it is missing.
VENV ?= .venv
CONFIG ?= config/config.yaml
CORES ?= all
BIN := $(VENV)/bin

.PHONY: run test test-slurm lint bench-keras bench-torch bench-sampling clean

$(BIN)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --report results/report.html

test: $(BIN)/.installed
	$(BIN)/pytest tests/core tests/workflow
	$(BIN)/pytest tests/keras
	$(BIN)/pytest tests/torch

# Opt-in (needs root): a one-node SLURM on this machine, then the profile test against a local run.
test-slurm: $(BIN)/.installed
	profiles/slurm/start-local-slurm.sh
	$(BIN)/pytest tests/workflow/test_slurm.py

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow

bench-keras: $(BIN)/.installed
	$(BIN)/python bench/keras_bench.py

bench-torch: $(BIN)/.installed
	$(BIN)/python bench/torch_bench.py

# Stratified vs uniform fault sampling on the CIFAR-10 ResNet-20 of ../shared (docs/sampling.md);
# the 1,000,000-injection ground-truth pool is computed once into results/bench/sampling/.
bench-sampling: $(BIN)/.installed
	$(BIN)/python bench/sampling_bench.py

clean:
	rm -rf results .snakemake
