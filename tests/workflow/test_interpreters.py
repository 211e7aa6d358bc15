"""Config key `python` (the pip path's venv per framework, `make run GPU=1`): a framework's model
jobs run under its interpreter, the other jobs under Snakemake's, a missing interpreter stops
the run before any job with one line, and an import error in that interpreter reaches the job's
log and the terminal's Cause line."""

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
        "k": {
            "framework": "keras",
            "dataset": "digits",
            "architecture": "digits_sequential",
            "train": FIT,
        },
        "t": {
            "framework": "torch",
            "dataset": "digits",
            "architecture": "digits_mlp",
            "train": FIT,
        },
    },
    "campaigns": {"c": {"kind": "activation", "models": ["k", "t"], "injections": 10}},
}
TARGETS = ["results/baseline/digits/k.parquet", "results/baseline/digits/t.parquet"]


def python_line(log) -> str:
    """The interpreter the job ran in (the last one: a job logs Snakemake's before switching)."""
    return [line for line in log.read_text().splitlines() if " INFO Python " in line][-1].split(
        " INFO "
    )[1]


def other_venv(path):
    """A second virtual environment (its own interpreter path) that sees this one's packages;
    its site-packages folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    packages = next(path.glob("lib/python3*/site-packages"))
    (packages / "this_env.pth").write_text(
        f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n"
    )
    return packages


def test_keras_jobs_run_under_their_interpreter(tmp_path):
    other = tmp_path / "keras-venv"
    other_venv(other)
    config = CONFIG | {"python": {"keras": str(other / "bin" / "python")}}
    result = snakemake(tmp_path / "work", config, "--cores", "2", *TARGETS)
    assert result.returncode == 0, result.stderr[-3000:]
    logs = tmp_path / "work" / "results" / "logs"
    for job, keras, torch in (("train", "k.keras.log", "t.pt.log"), ("baseline", "k.log", "t.log")):
        assert python_line(logs / job / "digits" / keras) == f"Python {other}/bin/python"
        assert python_line(logs / job / "digits" / torch) == f"Python {sys.executable}"
    assert python_line(logs / "prepare_data" / "digits" / "test.log") == f"Python {sys.executable}"


def test_missing_interpreter_stops_before_any_job(tmp_path):
    result = snakemake(
        tmp_path, CONFIG | {"python": {"keras": ".venv-gpu/bin/python"}}, "--cores", "1", *TARGETS
    )
    assert result.returncode != 0
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("config key python.keras") and "a real run stops here" not in line
    ]
    assert lines == [
        f"config key python.keras: .venv-gpu/bin/python not found (working directory {tmp_path}); expected "
        "the Python interpreter of a virtual environment with Snakemake's Python version, e.g. "
        ".venv-gpu/bin/python (make run GPU=1 builds it)"
    ]
    assert not (tmp_path / "results").exists()


def test_an_import_error_in_the_frameworks_interpreter_reaches_the_log_and_the_cause_line(tmp_path):
    other = tmp_path / "torch-venv"
    broken = other_venv(other) / "torch"  # a GPU venv whose torch cannot load its CUDA libraries
    broken.mkdir()
    cause = "ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory"
    (broken / "__init__.py").write_text(
        f"raise ImportError({cause.removeprefix('ImportError: ')!r})\n"
    )
    result = snakemake(
        tmp_path / "work",
        CONFIG | {"python": {"torch": str(other / "bin" / "python")}},
        "--cores",
        "1",
        "results/models/digits/t.pt",
    )
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line.startswith("Cause: ")] == [
        f"Cause: results/logs/train/digits/t.pt.log: {cause}"
    ]
    log = (tmp_path / "work/results/logs/train/digits/t.pt.log").read_text()
    assert f"INFO Python {other}/bin/python\n" in log and f"ERROR failed: {cause}\n" in log
