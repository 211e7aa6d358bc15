"""torchvision's vit_b_16 (224 x 224, the only size it accepts) and swin_t (112 x 112; any size
works) with random weights on the fast path against the hook reference: minutes each on a CPU, so
opt-in (``DNNFI_LARGE_MODELS=1 pytest tests/torch/test_large_transformers.py -s``)."""

from __future__ import annotations

import os
import time

import pytest
import torch
import torchvision
from test_activations import assert_matches_reference, mixed_faults
from torch import nn

from dnnfi.engines.torchfi.activations import TorchInjector

pytestmark = pytest.mark.skipif(
    not os.environ.get("DNNFI_LARGE_MODELS"), reason="minutes per model: set DNNFI_LARGE_MODELS=1"
)


def vit_b_16():
    model = torchvision.models.vit_b_16(weights=None)
    nn.init.normal_(
        model.heads.head.weight, std=0.02
    )  # zero-initialized by torchvision: every logit would be 0
    return model


@pytest.mark.parametrize(
    ("build", "side"),
    [
        pytest.param(vit_b_16, 224, id="vit_b_16"),
        pytest.param(lambda: torchvision.models.swin_t(weights=None), 112, id="swin_t"),
    ],
)
def test_imagenet_transformer_matches_hook_reference(build, side):
    model = build().eval()
    x = torch.randn(4, 3, side, side)
    start = time.perf_counter()
    injector = TorchInjector(model, batch_size=64, input_shape=(3, side, side))
    assert injector.fast
    faults = mixed_faults(injector.sites(), len(x), seed=13)
    outcome = assert_matches_reference(model, x, faults, injector)["outcome"]
    print(
        f"\n{len(faults)} faults, {len(injector.sites())} sites, outcomes {outcome.value_counts().to_dict()}, "
        f"{time.perf_counter() - start:.0f} s (engine and reference)"
    )
    assert (outcome == "masked").sum() > 50 and (outcome != "masked").sum() > 50
