"""Fixtures shared by every test process (framework-free: TensorFlow and PyTorch tests run in
separate pytest processes, see the Makefile)."""

from pathlib import Path

import pytest

from dnnfi.data.datasets import shared_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not (path / "models").is_dir():
        pytest.skip(f"shared data folder not found at {path} (set DNNFI_SHARED)")
    return path
