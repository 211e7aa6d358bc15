"""Models run in float16 and bfloat16 (docs/semantics.md section 14) on the pretrained ResNet-20:
sites and weights in the format, bits drawn over 16, both engine paths bit-exact against the hook
reference, weight faults in the format, the fault-free accuracy, and the refusal of a model that
computes a tensor in another format."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import inputs_path
from mixed_faults import mixed_fault_list
from test_activations import assert_matches_reference
from torch import nn

from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.cifar import load_cifar_resnet
from dnnfi.engines.torchfi.faultops import to_numpy
from dnnfi.engines.torchfi.models import predict_logits, to_tensor, with_precision
from dnnfi.engines.torchfi.weights import WeightInjector
from dnnfi.faults.lists import draw_weight_faults
from dnnfi.faults.precision import check_format

HALF = ["float16", "bfloat16"]
LABELS = np.repeat(np.arange(10), 2)  # cifar_images: 2 test images per class, in class order


def resnet20(precision: str) -> nn.Module:
    return with_precision(
        load_cifar_resnet(inputs_path("models", "resnet20-cifar10-12fca82f.th")), precision
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


@pytest.mark.parametrize("precision", HALF)
def test_fault_free_logits_are_computed_in_the_format(precision, cifar_images):
    full = predict_logits(resnet20("float32"), cifar_images)
    half = predict_logits(resnet20(precision), cifar_images)
    assert half.dtype == np.float32
    # widened exactly: every logit is a value of the format
    np.testing.assert_array_equal(
        half, to_numpy(torch.from_numpy(half).to(getattr(torch, precision))).astype(np.float32)
    )
    assert not np.array_equal(half, full)  # not a silent float32 computation
    np.testing.assert_allclose(half, full, atol=0.5 if precision == "bfloat16" else 0.05)
    assert (half.argmax(1) == LABELS).mean() >= 0.85 and (
        half.argmax(1) == full.argmax(1)
    ).mean() >= 0.95


@pytest.mark.parametrize("precision", HALF)
def test_weight_faults_in_the_format(precision, cifar_images):
    model = resnet20(precision)
    injector = WeightInjector(model)
    sites = injector.sites(biases=True, normalization=True)
    assert set(sites["dtype"]) == {precision}
    faults = draw_weight_faults(sites, np.random.default_rng(4), rate=1e-3, fault_model="bitflip")
    assert len(faults) == round(1e-3 * sites["size"].sum()) and faults["bit"].max() == 15
    params = dict(model.named_parameters())

    def bits_at(rows):
        return np.array(
            [
                to_numpy(params[s].reshape(-1)[e]).view(np.uint16)
                for s, e in zip(rows["site"], rows["element"])
            ]
        )

    before_bits, before = bits_at(faults), predict_logits(model, cifar_images)
    exponent = faults[faults["bit"] == 14].head(40)  # the top exponent bit: huge or tiny weights
    with injector.applied(faults):
        np.testing.assert_array_equal(
            bits_at(faults), before_bits ^ (1 << faults["bit"].to_numpy()).astype(np.uint16)
        )
        faulty = predict_logits(model, cifar_images)
    assert len(exponent) > 10 and not np.array_equal(faulty, before)
    np.testing.assert_array_equal(bits_at(faults), before_bits)  # restored bit-exactly
    np.testing.assert_array_equal(predict_logits(model, cifar_images), before)


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
