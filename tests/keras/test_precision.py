"""Models run in float16 and bfloat16 (docs/semantics.md section 14) on the pretrained MLPerf
Tiny ResNet-8 (.h5): the clone under a pure dtype policy holds weights, input and every site in
the format, bits are drawn over 16, the engine is bit-exact against the whole-model reference,
weight faults act on the format's bits, and the fault-free accuracy holds."""

import ml_dtypes
import numpy as np
import pandas as pd
import pytest
from reference import reference_logits

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.kerasfi.models import load, predict_logits
from dnnfi.engines.kerasfi.weights import WeightInjector
from dnnfi.faults.lists import draw_activation_faults, draw_weight_faults
from dnnfi.faults.outcomes import classify, summarize_logits
from dnnfi.faults.precision import check_format
from dnnfi.faults.seeds import rng_for

pytestmark = pytest.mark.keras

HALF = ["float16", "bfloat16"]
NUMPY = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


@pytest.fixture(scope="module")
def cifar(inputs_folder):
    from dnnfi.data.datasets import image_folder

    split = image_folder(inputs_folder / "data" / "cifar10-jpeg" / "test", limit_per_class=2)
    return split.x.astype("float32"), split.y  # the MLPerf Tiny model takes raw 0-255 pixels


def resnet8(inputs_folder, precision):
    return load(
        inputs_folder / "models" / "mlperf-tiny-resnet8-cifar10.h5", "models.resnet8", precision
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


@pytest.mark.parametrize("precision", HALF)
def test_fault_free_outputs_are_computed_in_the_format(inputs_folder, cifar, precision):
    images, labels = cifar
    full = predict_logits(resnet8(inputs_folder, "float32"), images)
    half = predict_logits(resnet8(inputs_folder, precision), images)
    assert half.dtype == np.float32
    np.testing.assert_array_equal(
        half, half.astype(NUMPY[precision]).astype(np.float32)
    )  # values of the format
    assert not np.array_equal(half, full)  # not a silent float32 computation
    # softmax outputs; bf16 keeps 8 significant bits to fp16's 11: on one of these images its
    # outputs move by up to 0.058 with TensorFlow's own kernels (oneDNN off)
    np.testing.assert_allclose(half, full, atol={"float16": 0.05, "bfloat16": 0.1}[precision])
    assert (half.argmax(1) == labels).mean() >= 0.6 and (
        half.argmax(1) == full.argmax(1)
    ).mean() >= 0.9


@pytest.mark.parametrize("precision", HALF)
def test_weight_faults_in_the_format(inputs_folder, cifar, precision):
    images, _ = cifar
    model = resnet8(inputs_folder, precision)
    injector = WeightInjector(model)
    sites = injector.sites(biases=True, normalization=True)
    assert set(sites["dtype"]) == {precision}
    faults = draw_weight_faults(sites, rng_for(6, precision), rate=2e-3, fault_model="bitflip")
    assert faults["bit"].max() == 15
    variables = {v.path: v for v in model.weights}

    def bits_at():
        return np.array(
            [
                np.asarray(variables[s].numpy()).reshape(-1)[e].view(np.uint16)
                for s, e in zip(faults["site"], faults["element"])
            ]
        )

    before_bits, before = bits_at(), injector.logits(images)
    with injector.applied(faults):
        np.testing.assert_array_equal(
            bits_at(), before_bits ^ (1 << faults["bit"].to_numpy()).astype(np.uint16)
        )
        faulty = injector.logits(images)
    assert (faults["bit"] == 14).sum() > 3 and not np.array_equal(faulty, before)
    np.testing.assert_array_equal(bits_at(), before_bits)  # restored bit-exactly
    np.testing.assert_array_equal(injector.logits(images), before)


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
