"""The shared weight-fault tests (tests/engines/weights.py) on the PyTorch engine: a CIFAR
ResNet-20 (random weights); faults on a channels-last (non-contiguous) parameter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engines.weights import *  # noqa: F403 (the shared tests)
from engines.weights import Weights

from dnnfi.engines.torchfi.cifar import cifar_resnet
from dnnfi.engines.torchfi.models import to_tensor
from dnnfi.engines.torchfi.weights import WeightInjector, weight_sites
from dnnfi.faults.lists import draw_weight_faults

#: the CIFAR ResNet-20's blocks: layer1-3, 3 blocks each, 16, 32 and 64 channels
BLOCKS = [
    (f"layer{stage}.{block}", 16 * 2 ** (stage - 1)) for stage in (1, 2, 3) for block in range(3)
]


def kernels():
    """The shapes of its convolutions and linear layer; the first convolution of stages 2 and 3
    reads the previous stage's channels (the blocks' shortcuts have no weights)."""
    shapes = {"conv1.weight": "16x3x3x3"}
    for name, width in BLOCKS:
        first = width // 2 if name.endswith(".0") and width > 16 else width
        shapes |= {
            f"{name}.conv1.weight": f"{width}x{first}x3x3",
            f"{name}.conv2.weight": f"{width}x{width}x3x3",
        }
    return shapes | {"linear.weight": "10x64"}


@torch.no_grad()
def forward(model, x):
    return model(to_tensor(x)).numpy()


@pytest.fixture
def fw():
    model = cifar_resnet(20).eval()
    return Weights(
        model=model,
        images=np.random.default_rng(8).normal(size=(20, 32, 32, 3)).astype(np.float32),
        weight_sites=weight_sites,
        weight_injector=WeightInjector,
        weights=lambda model: {k: v.numpy().copy() for k, v in model.state_dict().items()},
        assign=lambda model, values: model.load_state_dict(
            {k: torch.from_numpy(v) for k, v in values.items()}
        ),
        forward=forward,
        kernels=kernels(),
        linear=["linear.weight"],
        biases={"linear.bias"},
        normalization={
            f"{bn}.{p}"
            for bn in ["bn1"] + [f"{b}.bn{k}" for b, _ in BLOCKS for k in (1, 2)]
            for p in ("weight", "bias")
        },
        big_model=model,
        big_site="layer3.2.conv2.weight",
    )


def test_applied_on_non_contiguous_parameter():
    layer = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3)).to(memory_format=torch.channels_last)
    before = layer[0].weight.detach().clone()
    assert not layer[0].weight.is_contiguous()
    faults = draw_weight_faults(
        weight_sites(layer), np.random.default_rng(7), rate=0.1, fault_model="zero"
    )
    with WeightInjector(layer).applied(faults):
        assert (
            layer[0].weight.detach().reshape(-1)[torch.tensor(faults["element"].to_numpy())] == 0
        ).all()
    assert torch.equal(layer[0].weight, before)
