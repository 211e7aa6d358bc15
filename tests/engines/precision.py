"""A pretrained CIFAR-10 model run in float16 and bfloat16 (docs/semantics.md section 14): its
fault-free logits are computed in the format and keep the accuracy, and weight faults flip the
format's bits and are restored bit-exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from dnnfi.faults.lists import draw_weight_faults

__all__ = ["test_fault_free_logits_are_computed_in_the_format", "test_weight_faults_in_the_format"]

HALF = ["float16", "bfloat16"]
NUMPY = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


@dataclass
class Precision:
    """A framework's side of these tests: its model, and the bounds that model meets."""

    model: Callable[[str], Any]  # the pretrained model in a precision
    images: np.ndarray  # 2 CIFAR-10 test images per class, as the model takes them
    labels: np.ndarray
    predict_logits: Callable
    weight_injector: Callable
    weights: Callable[[Any], dict]  # numpy copy of every weight tensor of a model, by site name
    atol: dict  # precision -> largest difference to the float32 logits
    accuracy: float  # least top-1 accuracy in the format
    agreement: float  # least share of images with the float32 model's top-1
    weight_rate: float  # of the weight bit flips
    weight_rng: Callable[[str], np.random.Generator]  # precision -> the generator of their draw
    exponent_flips: int  # flips of the top exponent bit fewer than the list draws


@pytest.mark.parametrize("precision", HALF)
def test_fault_free_logits_are_computed_in_the_format(fw: Precision, precision):
    full = fw.predict_logits(fw.model("float32"), fw.images)
    half = fw.predict_logits(fw.model(precision), fw.images)
    assert half.dtype == np.float32
    # widened exactly: every logit is a value of the format
    np.testing.assert_array_equal(half, half.astype(NUMPY[precision]).astype(np.float32))
    assert not np.array_equal(half, full)  # not a silent float32 computation
    np.testing.assert_allclose(half, full, atol=fw.atol[precision])
    top1 = half.argmax(1)
    assert (top1 == fw.labels).mean() >= fw.accuracy
    assert (top1 == full.argmax(1)).mean() >= fw.agreement


@pytest.mark.parametrize("precision", HALF)
def test_weight_faults_in_the_format(fw: Precision, precision):
    model = fw.model(precision)
    injector = fw.weight_injector(model)
    sites = injector.sites(biases=True, normalization=True)
    assert set(sites["dtype"]) == {precision}
    faults = draw_weight_faults(
        sites, fw.weight_rng(precision), rate=fw.weight_rate, fault_model="bitflip"
    )
    assert len(faults) == round(fw.weight_rate * sites["size"].sum()) and faults["bit"].max() == 15

    def bits_at():
        weights = fw.weights(model)
        return np.array(
            [
                weights[s].reshape(-1)[e].view(np.uint16)
                for s, e in zip(faults["site"], faults["element"])
            ]
        )

    images = fw.images
    before_bits, before = bits_at(), injector.logits(images)
    with injector.applied(faults):
        np.testing.assert_array_equal(
            bits_at(), before_bits ^ (1 << faults["bit"].to_numpy()).astype(np.uint16)
        )
        faulty = injector.logits(images)
    assert (
        faults["bit"] == 14
    ).sum() > fw.exponent_flips  # the top exponent bit: huge or tiny weights
    assert not np.array_equal(faulty, before)
    np.testing.assert_array_equal(bits_at(), before_bits)  # restored bit-exactly
    np.testing.assert_array_equal(injector.logits(images), before)
