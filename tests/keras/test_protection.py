"""Protected KerasInjector against the whole-model reference with clamping (docs/semantics.md,
section 12); the shared checker test of tests/engines/protection.py with tf.where."""

import pytest
from engines.protection import *  # noqa: F403 (the shared test)
from engines.protection import Checker
from test_engine import assert_same_as_reference, seeded_faults

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.kerasfi.models import load
from dnnfi.engines.protection import Protection
from dnnfi.faults.outcomes import classify

pytestmark = pytest.mark.keras


@pytest.mark.parametrize(
    "method,layers", [("range_restriction", "activations"), ("clip_to_zero", "activation|dense")]
)
def test_protected_resnet8_matches_clamping_reference(method, layers, inputs_folder):
    """500 bit flips on the pretrained MLPerf-Tiny ResNet-8 (skip connections); bounds profiled
    on 5 of its 20 images, so that golden values fall outside them too."""
    from dnnfi.data.datasets import image_folder

    model = load(inputs_folder / "models" / "mlperf-tiny-resnet8-cifar10.h5")
    images = image_folder(
        inputs_folder / "data" / "cifar10-jpeg" / "test", limit_per_class=2
    ).x.astype("float32")
    plain = KerasInjector(model, batch_size=128)
    sites = plain.sites()
    bounds = plain.ranges(images[:5])
    assert (
        bounds.set_index("site").loc[sites.loc[sites["activation"], "site"], "min"] >= 0
    ).all()  # ReLU outputs
    protection = Protection.from_bounds(method, layers, bounds, sites)
    injector = KerasInjector(model, batch_size=128, protection=protection)
    faults = seeded_faults(plain, 500, len(images), "resnet8-" + method)
    engine = assert_same_as_reference(model, injector, faults, images, protection)
    unprotected = classify(plain.run(faults, images, progress=False))
    assert (engine["outcome"] == "due").sum() == 0
    if method == "range_restriction":
        assert (engine["outcome"] == "sdc").sum() < (unprotected["outcome"] == "sdc").sum()


@pytest.fixture
def fw():
    import tensorflow as tf

    return Checker(tensor=tf.constant, where=tf.where)
