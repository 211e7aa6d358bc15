"""Config key `python` (the pip path's venv per framework, `make run GPU=1`): a framework's model
jobs run under its interpreter, the other jobs under Snakemake's, and a missing interpreter stops
the run before any job with one line."""

import site
import subprocess
import sys

import pytest

from .snakemake_runner import snakemake

pytestmark = pytest.mark.workflow

FIT = {"epochs": 1, "batch_size": 64, "learning_rate": 0.003}
CONFIG = {
    "datasets": {"digits": {"source": "digits", "taxonomy": "digits"}},
    "models": {
        "k": {"framework": "keras", "dataset": "digits", "architecture": "digits_sequential", "train": FIT},
        "t": {"framework": "torch", "dataset": "digits", "architecture": "digits_mlp", "train": FIT},
    },
    "campaigns": {"c": {"kind": "activation", "models": ["k", "t"], "injections": 10}},
}
TARGETS = ["results/baseline/digits/k.parquet", "results/baseline/digits/t.parquet"]


def python_line(log) -> str:
    return next(line for line in log.read_text().splitlines() if " INFO Python " in line).split(" INFO ")[1]


def test_keras_jobs_run_under_their_interpreter(tmp_path):
    # a second virtual environment (its own interpreter path) that sees this one's packages
    other = tmp_path / "keras-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True)
    (next(other.glob("lib/python3*/site-packages")) / "this_env.pth").write_text(
        f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    config = CONFIG | {"python": {"keras": str(other / "bin" / "python")}}
    result = snakemake(tmp_path / "work", config, "--cores", "2", *TARGETS)
    assert result.returncode == 0, result.stderr[-3000:]
    logs = tmp_path / "work" / "results" / "logs"
    for job in ("train", "baseline"):
        assert python_line(logs / job / "digits" / "k.log") == f"Python {other}/bin/python"
        assert python_line(logs / job / "digits" / "t.log") == f"Python {sys.executable}"
    assert python_line(logs / "prepare_data" / "digits" / "test.log") == f"Python {sys.executable}"


def test_missing_interpreter_stops_before_any_job(tmp_path):
    result = snakemake(tmp_path, CONFIG | {"python": {"keras": ".venv-gpu/bin/python"}}, "--cores", "1", *TARGETS)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines()
             if line.startswith("config key python.keras") and "a real run stops here" not in line]
    assert lines == [f"config key python.keras: .venv-gpu/bin/python not found (working directory {tmp_path}); expected "
                     "the Python interpreter of a virtual environment with Snakemake's Python version, e.g. "
                     ".venv-gpu/bin/python (make run GPU=1 builds it)"]
    assert not (tmp_path / "results").exists()
