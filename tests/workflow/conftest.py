import pytest

from .snakemake_runner import snakemake
from .test_tiny_run import TINY


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """The tiny config run once through Snakemake; its working directory."""
    workdir = tmp_path_factory.mktemp("tiny")
    result = snakemake(workdir, TINY, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir
