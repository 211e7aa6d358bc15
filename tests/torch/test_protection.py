"""Protected TorchInjector against the hook reference with clamping hooks (docs/semantics.md,
section 12); the shared checker test of tests/engines/protection.py with torch.where."""

from __future__ import annotations

import pytest
import torch
from engines.protection import *  # noqa: F403 (the shared test)
from engines.protection import Checker
from test_activations import assert_matches_reference, mixed_faults

from dnnfi.engines.protection import Protection
from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.cifar import cifar_resnet
from dnnfi.faults.outcomes import classify


@pytest.mark.parametrize(
    "method,layers", [("range_restriction", "activations"), ("clip_to_zero", "relu|linear")]
)
def test_protected_resnet_matches_clamping_reference(method, layers):
    """500 mixed faults on a CIFAR ResNet-8 (skip connections); bounds profiled on 4 of the 16
    images, so that golden values fall outside them too."""
    model = cifar_resnet(8).eval()
    x = torch.randn(16, 3, 32, 32)
    plain = TorchInjector(model, batch_size=64, input_shape=(3, 32, 32))
    bounds = plain.ranges(x[:4])
    sites = plain.sites()
    protection = Protection.from_bounds(method, layers, bounds, sites)
    assert len(protection.limits) == (
        7 if layers == "activations" else 8
    )  # ReLU calls: 1 + 2 per block
    injector = TorchInjector(model, batch_size=64, input_shape=(3, 32, 32), protection=protection)
    faults = mixed_faults(sites, len(x), seed=12)
    protected = assert_matches_reference(model, x, faults, injector)["outcome"]
    unprotected = classify(plain.run(faults, x, progress=False))["outcome"]
    if (
        method == "range_restriction"
    ):  # clip_to_zero also zeroes golden values out of these narrow bounds
        assert (protected == "sdc").sum() < (unprotected == "sdc").sum()
    assert (
        (protected == "due").sum() == 0 < (unprotected == "due").sum()
    )  # every value of the last checker is finite


def test_ranges_are_the_site_extremes():
    model = cifar_resnet(20).eval()
    x = torch.randn(20, 3, 32, 32)
    injector = TorchInjector(model, input_shape=(3, 32, 32))
    bounds = injector.ranges(x).set_index("site")
    assert list(bounds.index) == list(injector.sites()["site"])
    values = []
    handle = model.layer2[1].relu.register_forward_hook(lambda m, a, o: values.append(o.clone()))
    with torch.no_grad():
        model(x)
    handle.remove()
    assert bounds.loc["layer2.1.relu:1", "min"] == 0.0
    assert bounds.loc["layer2.1.relu:1", "max"] == values[1].max().item()
    assert bounds.loc["layer2.1.relu:0", "max"] == values[0].max().item()


@pytest.fixture
def fw():
    return Checker(tensor=torch.as_tensor, where=torch.where)
