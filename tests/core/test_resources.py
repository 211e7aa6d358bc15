"""dnnfi.workflow.resources: shapes read from a split's header or its config, memory that grows with the
data, the model's layer outputs and the attempt."""

import math

import numpy as np

from dnnfi.data.datasets import Split
from dnnfi.workflow import resources

IMAGENET_299 = {
    "source": "imagenet_folder",
    "path": "absent",
    "image_size": 299,
    "limit_per_class": 10,
}


def test_a_splits_shape_comes_from_its_npz_header(tmp_path):
    Split(np.zeros((7, 5, 4, 3), np.uint8), np.zeros(7, np.int64), ["a"]).save(
        tmp_path / "test.npz"
    )
    assert resources.stored_shape(tmp_path / "test.npz") == resources.Shape(7, 60, 1)
    assert resources.split_shape(tmp_path / "test.npz", IMAGENET_299, "test") == resources.Shape(
        7, 60, 1
    )


def test_before_preparation_the_shape_follows_the_config(tmp_path):
    assert resources.split_shape(tmp_path / "none.npz", IMAGENET_299, "test") == resources.Shape(
        10_000, 299 * 299 * 3, 1
    )
    assert resources.estimated_shape(
        {"source": "digits", "test_fraction": 0.3}, "test"
    ) == resources.Shape(540, 64, 4)
    gtsrb = {"source": "gtsrb", "image_size": 32, "limit": 10_000}
    assert resources.estimated_shape(gtsrb, "test") == resources.Shape(10_000, 3072, 1)


def test_memory_holds_the_float32_images_and_grows_with_the_attempt():
    shape = resources.Shape(10_000, 299 * 299 * 3, 1)
    first = resources.mem_mb("keras", shape, 10_000, 100, 0)
    assert first > 10_000 * 299 * 299 * 3 * 4 / 2**20  # 10.7 GB of float32 images
    assert (
        2 * first - 2 <= resources.mem_mb("keras", shape, 10_000, 100, 0, attempt=2) <= 2 * first
    )  # rounded up
    assert resources.runtime_min(1000, 100, shape, attempt=2) > resources.runtime_min(
        1000, 100, shape
    )
    # a campaign job reads its 16 images by row: neither the stored split nor 10,000 in float32
    by_row = resources.mem_mb("keras", shape, 16, 100, 0, whole_split=False)
    assert by_row == math.ceil(1.25 * (900 + 2 * 16 * 299 * 299 * 3 * 4 / 2**20 + 3 * 100))


def test_layer_outputs_recorded_next_to_the_model_replace_the_estimate(tmp_path):
    shape = resources.Shape(10, 224 * 224 * 3, 1)
    model = tmp_path / "m.keras"
    assert resources.layer_outputs(model, shape) == resources.ACTIVATIONS_PER_INPUT * shape.pixels
    assert resources.layer_count(model) == resources.FALLBACK_LAYERS
    resources.write_layer_outputs(model, [5_208_000, 734])
    assert resources.layer_outputs(model, shape) == 5_208_734
    assert resources.layer_count(model) == 2
    # a Keras pass of 128 rows keeps them all, in the model's precision
    assert resources.pass_mb(128, 5_208_734, "float32") == 2 * resources.pass_mb(
        128, 5_208_734, "float16"
    )
