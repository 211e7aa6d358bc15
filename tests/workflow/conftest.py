import pytest

from .snakemake_runner import completed_run
from .test_tiny_run import TINY


def pytest_collection_modifyitems(items):
    """Mark the tests that read the tiny run: make test runs them beside the others."""
    for item in items:
        if "run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.tiny_run)


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """The tiny config run once through Snakemake; its working directory."""
    return completed_run(tmp_path_factory, "tiny", TINY)
