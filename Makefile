# Entry points for users (README): `make run`, `make test` and `make status` (the jobs of a run).
# They create the virtual environment from the pinned requirements when it is missing.
# GPU nodes: GPU=1 also builds .venv-gpu from requirements-gpu.txt (TensorFlow's CUDA 12 build, no
# PyTorch) and runs the Keras jobs in it (config key python.keras); Snakemake, the PyTorch jobs
# (PyPI's Linux torch wheel is the CUDA 13 build) and the analysis run in .venv. Each venv holds
# one CUDA stack: the two stacks' cuDNN and NCCL wheels write the same files (envs/files/).
# DEVICE=cuda (or cpu, cuda:N) sets the `device` of every model of the run and of the benchmarks.
GPU ?=
DEVICE ?=
VENV ?= .venv
GPU_VENV ?= .venv-gpu
CONFIG ?= config/config.yaml
CORES ?= all
# Where `make inputs` puts the external images and weights (config/cifar10.yaml, benchmarks, README).
INPUTS ?= $(or $(DNNFI_INPUTS),inputs)
# `make test`: suites run side by side (below), longest first.
TEST_JOBS ?= 4
SUITES := test-workflow-tiny test-workflow test-keras-onednn-off test-keras-onednn-on test-torch test-core
# The commit `make check-unchanged` compares the working tree with.
BASE ?= 82c7448
BIN := $(VENV)/bin
KERAS_BIN := $(if $(GPU),$(GPU_VENV)/bin,$(BIN))
VENVS := $(BIN)/.installed $(if $(GPU),$(GPU_VENV)/bin/.installed)
RUN_CONFIG := $(if $(DEVICE),device=$(DEVICE)) $(if $(GPU),'python={keras: $(GPU_VENV)/bin/python}')
RUN_ARGS := --configfile $(CONFIG) $(if $(strip $(RUN_CONFIG)),--config $(RUN_CONFIG))
BENCH_DEVICE := $(if $(DEVICE),--device $(DEVICE))

define install
	python3 -m venv $(1)
	$(1)/bin/pip install --quiet --upgrade pip
	$(1)/bin/pip install --quiet -r $(2)
	$(1)/bin/pip install --quiet --no-deps -e .
	touch $(1)/bin/.installed
endef

.PHONY: run status test $(SUITES) test-slurm test-conda check-unchanged lint inputs bench-keras bench-torch bench-sampling bench-sampling-ceiling bench-draw-memory env-files clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(call install,$(VENV),requirements.txt)

$(GPU_VENV)/bin/.installed: requirements-gpu.txt pyproject.toml
	$(call install,$(GPU_VENV),requirements-gpu.txt)

run: $(VENVS)
	$(BIN)/snakemake --cores $(CORES) $(RUN_ARGS)
	$(BIN)/snakemake --cores 1 $(RUN_ARGS) --report results/report.html

# Each started job's state, progress, rate and ETA, from its log (README, "Following a run").
status: $(BIN)/.installed
	$(BIN)/dnnfi-status

# The suites, TEST_JOBS at a time (a pytest process mostly keeps one core busy; TensorFlow and
# PyTorch in separate processes), each suite's output printed whole when it ends; the workflow
# tests in two suites, those that read the tiny run (marker tiny_run) and the others. The Keras suite
# runs with TensorFlow's oneDNN kernels off and on: TensorFlow turns them on by default only on some
# CPUs (docs/semantics.md, section 4), and both must pass on every machine.
test: $(VENVS)
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target $(SUITES)
# Side by side, idle OpenMP threads (PyTorch's, in the tests and in their Snakemake jobs) would spin
# on the cores the other suites need; they sleep instead (numbers unchanged). Measured beside two
# busy cores: the PyTorch engine tests took 230 s of CPU and 259 s, 87 s and 140 s with it.
test $(SUITES): export OMP_WAIT_POLICY = PASSIVE

test-workflow-tiny: $(BIN)/.installed
	$(BIN)/pytest tests/workflow -m tiny_run
test-workflow: $(BIN)/.installed
	$(BIN)/pytest tests/workflow -m "not tiny_run"
test-core: $(BIN)/.installed
	$(BIN)/pytest tests/core
test-keras-onednn-off: $(VENVS)
	TF_ENABLE_ONEDNN_OPTS=0 $(KERAS_BIN)/pytest tests/keras
test-keras-onednn-on: $(VENVS)
	TF_ENABLE_ONEDNN_OPTS=1 $(KERAS_BIN)/pytest tests/keras
test-torch: $(BIN)/.installed
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

# Behaviour unchanged: the demo and a cifar10 subset run with BASE's code and the working tree's,
# SHA-256 of their tables, statistics and injection files compared, and every config's dry-run jobs
# (tools/check_unchanged.py; minutes, so not in `make test`). Exits non-zero on any difference.
check-unchanged: $(BIN)/.installed
	$(BIN)/python tools/check_unchanged.py --base $(BASE)

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The external images and weights (dnnfi.data.inputs.MANIFEST: source, SHA-256): downloads those INPUTS
# lacks (network), then checks every SHA-256. Nothing else downloads them, tests and the demo included.
inputs: $(BIN)/.installed
	$(BIN)/python -m dnnfi.data.inputs $(INPUTS)

bench-keras: $(VENVS)
	$(KERAS_BIN)/python bench/keras_bench.py $(BENCH_DEVICE)

# PyTorch engine vs PyTorchFI (pinned in requirements-bench.txt, installed into the venv here).
bench-torch: $(BIN)/.installed
	$(BIN)/pip install --quiet -r requirements-bench.txt
	$(BIN)/python bench/torch_bench.py $(BENCH_DEVICE)

# Stratified vs uniform fault sampling on the CIFAR-10 ResNet-20 of the inputs folder (checked by `make inputs`; docs/sampling.md);
# the 1,000,000-injection ground-truth pool is computed once into results/bench/sampling/.
bench-sampling: inputs
	$(BIN)/python bench/sampling_bench.py

# The most stratification could gain over uniform sampling at the true stratum rates, on the
# ResNet-20 pool and a ResNet-8 (Keras) pool of the same kind (docs/sampling.md, "What limits the gain").
bench-sampling-ceiling: inputs
	$(BIN)/python bench/sampling_ceiling.py

# Peak memory of a stratified draw on the whole CIFAR-10 test split (ResNet-56 of the inputs folder;
# docs/semantics.md section 11): last line population_images=N peak_rss_mb=M.
bench-draw-memory: inputs
	$(BIN)/python bench/stratified_memory.py

# Which files each distribution of every requirements*.txt and envs/*.yaml writes, resolved from the
# package index (network; remote wheels are read, not downloaded): rerun after changing a pin.
env-files: $(BIN)/.installed
	$(BIN)/python envs/files/resolve.py

clean:
	rm -rf results .snakemake
