"""Models run in float16 and bfloat16 (docs/semantics.md section 14) on the pretrained ResNet-20:
sites and weights in the format, bits drawn over 16, both engine paths bit-exact against the hook
reference, the refusal of a model that computes a tensor in another format, and the shared tests
of tests/engines/precision.py (weight faults in the format, the fault-free accuracy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import inputs_path
from engines.precision import *  # noqa: F403 (the shared tests)
from engines.precision import HALF, Precision
from mixed_faults import mixed_fault_list
from test_activations import assert_matches_reference
from torch import nn

from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.cifar import load_cifar_resnet
from dnnfi.engines.torchfi.faultops import to_numpy
from dnnfi.engines.torchfi.models import predict_logits, to_tensor, with_precision
from dnnfi.engines.torchfi.weights import WeightInjector
from dnnfi.faults.precision import check_format


def resnet20(precision: str) -> nn.Module:
    return with_precision(
        load_cifar_resnet(inputs_path("models", "resnet20-cifar10-12fca82f.th")), precision
    )


@pytest.fixture
def fw(cifar_images):
    return Precision(
        model=resnet20,
        images=cifar_images,
        labels=np.repeat(np.arange(10), 2),  # cifar_images: 2 per class, in class order
        predict_logits=predict_logits,
        weight_injector=WeightInjector,
        weights=lambda model: {n: to_numpy(p) for n, p in model.named_parameters()},
        atol={"float16": 0.05, "bfloat16": 0.5},
        accuracy=0.85,
        agreement=0.95,
        weight_rate=1e-3,
        weight_rng=lambda precision: np.random.default_rng(4),
        exponent_flips=10,
    )


@pytest.mark.parametrize("precision", HALF)
@pytest.mark.parametrize("use_fx", [True, False])
def test_activation_faults_in_the_format_match_the_reference(precision, use_fx, cifar_images):
    model = resnet20(precision)
    assert {p.dtype for p in model.parameters()} == {getattr(torch, precision)}
    injector = TorchInjector(model, batch_size=64, input_shape=(3, 32, 32), use_fx=use_fx)
    assert injector.fast == use_fx
    sites = injector.sites()
    assert set(sites["dtype"]) == {precision}
    check_format(sites, precision, "models.resnet20")  # what a campaign job checks: accepted
    faults = mixed_fault_list(sites, seed=13, n_images=len(cifar_images), n_single=300, n_multi=60)
    bits = faults.loc[faults["fault_model"] == "bitflip", "bit"]
    assert bits.min() == 0 and bits.max() == 15  # drawn over the 16 bits of the format
    x = to_tensor(cifar_images).to(
        getattr(torch, precision)
    )  # the reference takes inputs in the model's format
    outcome = assert_matches_reference(model, x, faults, injector)["outcome"]
    counts = outcome.value_counts()
    assert counts["masked"] > 50 and counts["sdc"] + counts["benign"] > 20 and counts["due"] > 0, (
        counts
    )


class Upcast(nn.Module):
    def forward(self, x):
        return x.float()


def test_a_model_computing_in_float32_is_refused_for_bfloat16():
    model = with_precision(nn.Sequential(nn.Linear(4, 4), Upcast(), nn.Identity()), "bfloat16")
    sites = TorchInjector(model, input_shape=(4,)).sites()
    assert sites["dtype"].tolist() == ["bfloat16", "float32", "float32"]
    with pytest.raises(
        ValueError,
        match=r"^models.m.precision: bfloat16 requested, but 2 of 3 tensors .* '1' in float32",
    ):
        check_format(sites, "bfloat16", "models.m")
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        with_precision(nn.Linear(2, 2), "half")
