"""Models run in float16 and bfloat16 (docs/semantics.md section 14) on the pretrained MLPerf
Tiny ResNet-8 (.h5): the clone under a pure dtype policy holds weights, input and every site in
the format, bits are drawn over 16, the engine is bit-exact against the whole-model reference;
the shared tests of tests/engines/precision.py (weight faults act on the format's bits, the
fault-free accuracy holds)."""

import ml_dtypes
import numpy as np
import pandas as pd
import pytest
from engines.precision import *  # noqa: F403 (the shared tests)
from engines.precision import HALF, NUMPY, Precision
from reference import reference_logits

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.kerasfi.models import load, predict_logits
from dnnfi.engines.kerasfi.weights import WeightInjector
from dnnfi.faults.lists import draw_activation_faults
from dnnfi.faults.outcomes import classify, summarize_logits
from dnnfi.faults.precision import check_format
from dnnfi.faults.seeds import rng_for

pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def cifar(inputs_folder):
    from dnnfi.data.datasets import image_folder

    split = image_folder(inputs_folder / "data" / "cifar10-jpeg" / "test", limit_per_class=2)
    return split.x.astype("float32"), split.y  # the MLPerf Tiny model takes raw 0-255 pixels


def resnet8(inputs_folder, precision):
    return load(
        inputs_folder / "models" / "mlperf-tiny-resnet8-cifar10.h5", "models.resnet8", precision
    )


@pytest.fixture
def fw(inputs_folder, cifar):
    images, labels = cifar
    return Precision(
        model=lambda precision: resnet8(inputs_folder, precision),
        images=images,
        labels=labels,
        predict_logits=predict_logits,
        weight_injector=WeightInjector,
        weights=lambda model: {v.path: np.asarray(v.numpy()) for v in model.weights},
        # softmax outputs; bf16 keeps 8 significant bits to fp16's 11: on one of these images its
        # outputs move by up to 0.058 with TensorFlow's own kernels (oneDNN off)
        atol={"float16": 0.05, "bfloat16": 0.1},
        accuracy=0.6,
        agreement=0.9,
        weight_rate=2e-3,
        weight_rng=lambda precision: rng_for(6, precision),
        exponent_flips=3,
    )


@pytest.mark.parametrize("precision", HALF)
def test_activation_faults_in_the_format_match_the_reference(inputs_folder, cifar, precision):
    images, _ = cifar
    model = resnet8(inputs_folder, precision)
    assert {str(v.dtype) for v in model.weights} == {precision} and str(
        model.inputs[0].dtype
    ) == precision
    injector = KerasInjector(model, batch_size=128)
    sites = injector.sites()
    assert set(sites["dtype"]) == {precision}
    check_format(sites, precision, "models.resnet8")  # what a campaign job checks: accepted
    eligible = sites[sites["eligible"]]
    rng, n = rng_for(5, "precision", precision), np.arange(len(images))
    faults = pd.concat(
        [
            draw_activation_faults(eligible, 300, rng, n),
            draw_activation_faults(eligible, 60, rng, n, fault_model="random"),
            draw_activation_faults(eligible, 40, rng, n, elements_per_fault=2, bits_per_element=2),
        ],
        ignore_index=True,
    )
    faults["fault_id"] = np.arange(len(faults))
    faults["elements"] = [v if isinstance(v, list) else None for v in faults["elements"]]
    faults["bits"] = [v if isinstance(v, list) else None for v in faults["bits"]]
    bits = faults.loc[faults["fault_model"] == "bitflip", "bit"]
    assert bits.min() == 0 and bits.max() == 15  # drawn over the 16 bits of the format
    golden, faulty = injector.logits(faults, images, progress=False)
    ref_golden, ref_faulty = reference_logits(model, faults, images.astype(NUMPY[precision]))
    assert golden.dtype == faulty.dtype == np.float32
    np.testing.assert_array_equal(golden, ref_golden.astype(np.float32))
    np.testing.assert_array_equal(faulty, ref_faulty.astype(np.float32))
    outcome = classify(summarize_logits(golden, faulty))["outcome"].value_counts()
    assert outcome["masked"] > 50 and outcome["sdc"] + outcome["benign"] > 20, outcome


def test_nested_and_shared_layers_are_converted_and_exact(images16):
    """A mixed_float16 graph with a nested Sequential and a layer called twice, run in bfloat16:
    every layer (the float32 logits too) and variable in the format, and the engine exact."""
    from conftest import zoo

    from dnnfi.engines.kerasfi.models import with_precision

    model = with_precision(zoo("mixed_float16"), "bfloat16")
    injector = KerasInjector(model, batch_size=64)
    sites = injector.sites()
    assert sites["site"].tolist()[:6] == [
        "stem",
        "inner/inner_dw",
        "inner/inner_bn",
        "inner/inner_relu",
        "shared_pw:0",
        "shared_pw:1",
    ]
    assert set(sites["dtype"]) == {"bfloat16"} and {str(v.dtype) for v in model.weights} == {
        "bfloat16"
    }
    eligible = sites[sites["eligible"]]
    faults = draw_activation_faults(eligible, 150, rng_for(7, "zoo"), np.arange(len(images16)))
    golden, faulty = injector.logits(faults, images16, progress=False)
    ref_golden, ref_faulty = reference_logits(model, faults, images16.astype(ml_dtypes.bfloat16))
    np.testing.assert_array_equal(golden, ref_golden.astype(np.float32))
    np.testing.assert_array_equal(faulty, ref_faulty.astype(np.float32))
    assert (classify(summarize_logits(golden, faulty))["outcome"] != "masked").sum() > 20
