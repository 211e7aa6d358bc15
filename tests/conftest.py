"""Fixtures shared by every test process (framework-free: TensorFlow and PyTorch tests run in
separate pytest processes, see the Makefile)."""

from pathlib import Path

import pytest

from dnnfi.data.datasets import inputs_dir

# the twin tests of tests/engines are collected through the suites' modules: rewrite their asserts
pytest.register_assert_rewrite("engines")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def inputs_folder() -> Path:
    """The external images and weights (``make inputs``), or skip the test."""
    path = inputs_dir()
    if not (path / "models").is_dir():
        pytest.skip(f"inputs folder not found at {path} (make inputs, or set DNNFI_INPUTS)")
    return path
