"""The shared batch-independence test (tests/engines/batch_independence.py) on the PyTorch
engine: torchvision squeezenet1_1 and efficientnet_b0 (random weights), on the torch.fx path and
the hook fallback, at one thread and at two.

Cost: batch sizes 1 and 2 cost a (16-row, padded) pass per one or two faults; on the shared
2-core test machine the full list at every batch size took 90 s (squeezenet) to 420 s
(efficientnet_b0) at one thread, and 300-400 s for squeezenet at two threads (each parallel op
waits for a second, busy core): hence the subset and, at one thread, the shuffled list at batch
size 7. Measured with this plan on the idle machine: squeezenet 21 s (fx) and 15 s (hooks) at one
thread, 16 s at two; efficientnet_b0 111 s at one thread, 118 s at two.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from engines.batch_independence import *  # noqa: F403 (the shared test)
from engines.batch_independence import N_IMAGES, BatchIndependence, arrangements

from dnnfi.engines.torchfi.activations import TorchInjector

SIDE = {"squeezenet1_1": 64, "efficientnet_b0": 32}


@pytest.fixture(
    params=[
        ("squeezenet1_1", True, 1),
        ("squeezenet1_1", True, 2),
        ("efficientnet_b0", True, 1),
        ("efficientnet_b0", True, 2),
        # the hook fallback: a full forward per pass, at one thread only (cost)
        ("squeezenet1_1", False, 1),
    ],
    ids=lambda p: f"{p[0]}-{'fx' if p[1] else 'hooks'}-threads{p[2]}",
)
def fw(request):
    name, use_fx, threads = request.param
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=10).eval()
    x = torch.randn(
        (N_IMAGES, 3, SIDE[name], SIDE[name]), generator=torch.Generator().manual_seed(1)
    )

    def logits(faults, batch_size):
        injector = TorchInjector(
            model, batch_size=batch_size, input_shape=x.shape[1:], use_fx=use_fx
        )
        assert injector.fast == use_fx
        return injector.logits(faults, x, progress=False)

    def run():
        sites = TorchInjector(model, input_shape=x.shape[1:]).sites()
        return arrangements(sites, logits, threads, n_alone=30)

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    yield BatchIndependence(arrangements=run, name=f"{name} use_fx={use_fx} threads={threads}")
    torch.set_num_threads(before)
