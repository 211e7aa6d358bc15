import pytest

from .snakemake_runner import completed_run
from .test_tiny_run import TINY


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """The tiny config run once through Snakemake; its working directory."""
    return completed_run(tmp_path_factory, "tiny", TINY)
