"""The engine against the simple whole-model reference (tests/keras/reference.py)."""

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import random_images, zoo
from reference import run_reference

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.kerasfi.models import application, load
from dnnfi.faults.lists import draw_activation_faults
from dnnfi.faults.outcomes import classify, summarize_logits
from dnnfi.faults.seeds import rng_for

pytestmark = pytest.mark.keras


def seeded_faults(injector, n, n_images, key, **kwargs):
    sites = injector.sites()
    return draw_activation_faults(
        sites[sites["eligible"]], n, rng_for(3, key), np.arange(n_images), **kwargs
    )


def assert_same_as_reference(model, injector, faults, images, protection=None):
    golden, faulty = injector.logits(faults, images, progress=False)
    engine = classify(pd.concat([faults, summarize_logits(golden, faulty)], axis=1))
    summary, ref_faulty = run_reference(model, faults, images, protection=protection)
    reference = classify(pd.concat([faults, summary], axis=1))
    mismatch = engine["outcome"].astype(str) != reference["outcome"].astype(str)
    assert not mismatch.any(), (
        engine[mismatch].join(reference[mismatch][["outcome"]], rsuffix="_ref").head()
    )
    np.testing.assert_array_equal(engine["faulty_top1"], reference["faulty_top1"])
    np.testing.assert_array_equal(engine["finite"], reference["finite"])
    np.testing.assert_allclose(faulty, ref_faulty, rtol=1e-4, atol=1e-6, equal_nan=True)
    return engine


ARCHITECTURES = [
    ("ResNet50", 32),
    ("DenseNet121", 32),
    ("InceptionV3", 75),
    ("MobileNetV2", 32),
    ("Xception", 71),
]


@pytest.mark.parametrize("name,side", ARCHITECTURES)
def test_500_bit_flips_match_reference(name, side):
    keras.utils.set_random_seed(0)
    model = application(name, (side, side, 3), classes=10, classifier_activation=None)
    injector = KerasInjector(model, batch_size=128)
    images = random_images(6, side)
    engine = assert_same_as_reference(
        model, injector, seeded_faults(injector, 500, 6, name), images
    )
    counts = engine["outcome"].value_counts()
    # a campaign that exercises both the masking shortcut and the downstream recompute
    assert counts["masked"] > 50 and counts["benign"] + counts["sdc"] > 50


def test_pretrained_resnet8_matches_reference(inputs_folder):
    from dnnfi.data.datasets import image_folder

    model = load(inputs_folder / "models" / "mlperf-tiny-resnet8-cifar10.h5")
    split = image_folder(inputs_folder / "data" / "cifar10-jpeg" / "test", limit_per_class=2)
    images = split.x.astype("float32")  # the MLPerf-Tiny model takes raw 0-255 pixels
    injector = KerasInjector(model, batch_size=128)
    assert (injector.golden_logits(images).argmax(1) == split.y).mean() >= 0.6
    engine = assert_same_as_reference(
        model, injector, seeded_faults(injector, 500, len(images), "resnet8"), images
    )
    assert (engine["outcome"] == "sdc").sum() > 0


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize(
    "fault_model,extra",
    [
        ("bitflip", {}),
        ("bitflip", {"bits_per_element": 3}),
        ("bitflip", {"elements_per_fault": 4}),
        ("zero", {"elements_per_fault": 2}),
        ("random", {}),
        ("stuck_at_0", {}),
        ("stuck_at_1", {"bits_per_element": 2}),
    ],
)
def test_fault_models_on_every_graph_shape_and_precision(policy, fault_model, extra, images16):
    model = zoo(policy)
    injector = KerasInjector(model, batch_size=32)
    faults = seeded_faults(
        injector,
        120,
        len(images16),
        f"{policy}{fault_model}{extra}",
        fault_model=fault_model,
        **extra,
    )
    engine = assert_same_as_reference(model, injector, faults, images16)
    assert engine["outcome"].isin(["benign", "sdc", "due"]).sum() > 0


def test_zoo_sites_cover_nested_and_repeated_calls():
    sites = KerasInjector(zoo("mixed_float16")).sites()
    expected = [
        "stem",
        "inner/inner_dw",
        "inner/inner_bn",
        "inner/inner_relu",
        "shared_pw:0",
        "shared_pw:1",
        "add",
        "cat",
        "gap",
        "logits",
    ]
    assert sites["site"].tolist() == expected
    assert sites["eligible"].tolist() == [True] * 9 + [False]
    assert sites.set_index("site").loc["inner/inner_dw", "dtype"] == "float16"
    assert sites.set_index("site").loc["cat", "size"] == 8 * 8 * 32


@pytest.fixture(scope="module")
def resnet50():
    keras.utils.set_random_seed(0)
    model = application("ResNet50", (32, 32, 3), classes=10, classifier_activation=None)
    return model, KerasInjector(model, batch_size=128), random_images(4, 32)


def test_faults_that_change_nothing_are_all_masked(resnet50):
    model, injector, images = resnet50
    faults = seeded_faults(injector, 400, len(images), "double flip")
    # flipping the same bit twice leaves every value as it was
    faults["elements"] = [[e, e] for e in faults["element"]]
    faults["bits"] = [[b, b] for b in faults["bit"]]
    results = classify(injector.run(faults, images, progress=False))
    assert (results["outcome"] == "masked").all() and results["identical"].all()
    assert (results["faulty_top1"] == results["golden_top1"]).all()


def test_infinite_and_nan_values_are_due(resnet50):
    model, injector, images = resnet50
    faults = seeded_faults(injector, 60, len(images), "exponent", fault_model="stuck_at_1")
    # all exponent bits set: the element becomes Inf or NaN
    faults["bit"] = 23  # the first pair
    faults["elements"] = [[e] * 8 for e in faults["element"]]
    faults["bits"] = [list(range(23, 31))] * len(faults)
    engine = assert_same_as_reference(model, injector, faults, images)
    assert (engine["outcome"] == "due").sum() >= 10
    assert (engine["outcome"] == "due").tolist() == (~engine["finite"]).tolist()


def test_golden_logits_equal_the_golden_of_run(resnet50):
    model, injector, images = resnet50
    faults = seeded_faults(injector, 30, len(images), "golden")
    golden, _ = injector.logits(faults, images, progress=False)
    np.testing.assert_array_equal(golden, injector.golden_logits(images)[faults["image"]])
    np.testing.assert_allclose(
        golden, keras.ops.convert_to_numpy(model(images[faults["image"]])), rtol=1e-4, atol=1e-6
    )


def test_bad_fault_lists_name_the_problem(resnet50):
    model, injector, images = resnet50
    faults = seeded_faults(injector, 5, len(images), "bad")
    with pytest.raises(ValueError, match="nope"):
        injector.run(faults.assign(site="nope"), images, progress=False)
    with pytest.raises(ValueError, match="outside site"):
        injector.run(faults.assign(element=10**9), images, progress=False)
    with pytest.raises(ValueError, match="expects"):
        injector.run(faults, images[:, :16], progress=False)
    with pytest.raises(ValueError, match="bit 40 for fault model 'bitflip', expected 0..31"):
        injector.run(faults.assign(bit=40), images, progress=False)


def test_an_empty_fault_list_gives_empty_results(resnet50):
    model, injector, images = resnet50
    empty = seeded_faults(injector, 5, len(images), "empty").iloc[:0]
    golden, faulty = injector.logits(empty, images, progress=False)
    assert golden.shape == faulty.shape == (0, 10)
    assert len(classify(injector.run(empty, images, progress=False))) == 0


def test_layer_output_sizes_count_every_layers_output():
    from dnnfi.engines.kerasfi.models import layer_output_sizes

    model = keras.Sequential(
        [
            keras.Input((5, 5, 3)),
            keras.layers.Conv2D(4, 3, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    assert layer_output_sizes(model) == [
        100,
        100,
        2,
    ]  # conv, flatten, dense; the input is no layer output


def test_other_pass_rows_are_the_reference_at_that_shape_whatever_the_batch(images16):
    """`pass_rows` (per device, docs/semantics.md section 4): at 32 rows on the CPU the engine and
    its weight and baseline paths run 32-row passes, and the golden and faulty logits are those
    of the simple reference at 32 rows, bit for bit, at batch sizes 256 and 5."""
    from reference import reference_logits

    from dnnfi.engines.kerasfi.models import predict_logits
    from dnnfi.engines.kerasfi.weights import WeightInjector

    model = zoo()
    setting = {"cpu": 32, "gpu": 256}
    injectors = [KerasInjector(model, batch_size=b, pass_rows=setting) for b in (256, 5)]
    assert [i.rows for i in injectors] == [32, 32] and WeightInjector(
        model, pass_rows=setting
    ).rows == 32
    faults = seeded_faults(injectors[0], 80, len(images16), "pass_rows")
    golden, faulty = reference_logits(model, faults, images16, rows=32)
    for injector in injectors:
        ours_golden, ours_faulty = injector.logits(faults, images16, progress=False)
        np.testing.assert_array_equal(ours_golden, golden)
        np.testing.assert_array_equal(ours_faulty, faulty)
    baseline = predict_logits(model, images16, setting)
    np.testing.assert_array_equal(baseline[faults["image"].to_numpy()], golden)
