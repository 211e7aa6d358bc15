"""Protected KerasInjector against the whole-model reference with clamping (docs/semantics.md, section 12)."""

import numpy as np
import pytest
from protection_reference import EXPECTED, VALUES
from test_engine import assert_same_as_reference, seeded_faults

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.kerasfi.models import load
from dnnfi.engines.protection import Protection, protect
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


@pytest.mark.parametrize("method", list(EXPECTED))
def test_checker_on_nan_infinities_and_bounds(method):
    """tf.where gives the bits of the PyTorch checker and of the numpy reference (same table)."""
    import tensorflow as tf

    ours = protect(
        tf.constant(VALUES), tf.constant(0.0), tf.constant(1.0), tf.constant(0.0), method, tf.where
    ).numpy()
    np.testing.assert_array_equal(
        ours.view(np.uint32), np.array(EXPECTED[method], np.float32).view(np.uint32)
    )
