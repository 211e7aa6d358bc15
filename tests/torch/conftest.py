"""Shared fixtures of the PyTorch tests (run them in their own process: ``pytest tests/torch``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnnfi.analysis.taxonomy import load as load_taxonomy
from dnnfi.data.datasets import image_folder, inputs_dir
from dnnfi.data.preprocess import preprocess

#: the shipped CIFAR-10 taxonomy's classes (checked against the data set's in tests/core/test_taxonomy.py)
CIFAR10_CLASSES = load_taxonomy("cifar10").classes


def inputs_path(*parts: str):
    """A path under the inputs folder (``make inputs``), or skip the test with the reason."""
    path = inputs_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"inputs folder absent: {path} (make inputs, or set DNNFI_INPUTS)")
    return path


@pytest.fixture(scope="session")
def cifar_images() -> np.ndarray:
    """The first 2 test images of each CIFAR-10 class, preprocessed, NHWC float32 (20 images)."""
    split = image_folder(
        inputs_path("data", "cifar10-jpeg", "test"), CIFAR10_CLASSES, limit_per_class=2
    )
    return preprocess(split.x, "imagenet_mean_std")


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
