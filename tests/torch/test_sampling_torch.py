"""The shared golden-site-value tests (tests/engines/sampling.py) on the PyTorch engine: a CIFAR
ResNet-20 (random weights); its torch.fx path and hook fallback give the same values."""

import numpy as np
import pytest
import torch
from engines.sampling import *  # noqa: F403 (the shared tests)
from engines.sampling import GoldenSites

from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.cifar import cifar_resnet


@pytest.fixture
def model():
    torch.manual_seed(0)
    return cifar_resnet(20)


@pytest.fixture
def images():
    return np.random.default_rng(0).standard_normal((20, 32, 32, 3)).astype(np.float32)


@pytest.fixture
def fw(model, images):
    return GoldenSites(
        injector=lambda **kwargs: TorchInjector(model, input_shape=(3, 32, 32), **kwargs),
        images=images,
        dtype="float32",
        step=7,
        sweep=("pool", 3),
        protected="conv1",
    )


def test_golden_site_values_are_the_same_on_the_fx_path_and_the_hook_fallback(model, images):
    fast = TorchInjector(model, input_shape=(3, 32, 32))
    slow = TorchInjector(model, input_shape=(3, 32, 32), use_fx=False)
    sites = fast.sites()
    names = list(sites["site"][sites["eligible"]][::7])
    values, again = fast.golden_site_values(images, names), slow.golden_site_values(images, names)
    assert fast.fast and not slow.fast
    for name in names:
        assert values[name].view(np.uint32).tolist() == again[name].view(np.uint32).tolist()
