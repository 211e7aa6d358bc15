"""The CIFAR-size Keras zoo: every architecture builds for CIFAR-100 and GTSRB class counts, has
the expected graph shape and size, gives finite logits, and the framework-free name list matches.

Each architecture is built twice (100 and 43 classes); the whole file takes about a minute on
two cores. No training here.
"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dnnfi.engines import zoo  # noqa: E402
from dnnfi.engines.kerasfi import cifar_zoo, models  # noqa: E402

# parameters (millions, 100 classes, batch-norm statistics included): the weiaicunzai/pytorch-cifar100
# models have vgg16 34.0, googlenet 6.2, inceptionv3 22.3, inceptionv4 41.3, resnet18 11.2,
# resnet34 21.3, resnet50 23.7, resnet101 42.7, resnet152 58.3, xception 21.0
PARAMS_M = {
    "vgg11_cifar": (27, 30),
    "vgg13_cifar": (27, 30),
    "vgg16_cifar": (32, 36),
    "vgg19_cifar": (37, 41),
    "googlenet_cifar": (5.8, 6.8),
    "inceptionv3_cifar": (20.5, 23.5),
    "inceptionv4_cifar": (39, 44),
    "resnet18_cifar": (10.7, 11.7),
    "resnet34_cifar": (20.3, 22.3),
    "resnet50_cifar": (22.5, 25),
    "resnet101_cifar": (40.5, 45),
    "resnet152_cifar": (55.5, 61),
    "xception_cifar": (20, 22),
    "small_resnet_cifar": (0.05, 0.2),
}
#: merge layers each architecture must contain (none for the sequential VGGs)
MERGES = {
    "resnet": {"Add"},
    "xception": {"Add"},
    "googlenet": {"Concatenate"},
    "inception": {"Concatenate"},
    "small_resnet": {"Add", "Concatenate"},
    "vgg": set(),
}


def merges(name):
    return next(
        kinds
        for prefix, kinds in sorted(MERGES.items(), key=lambda kv: -len(kv[0]))
        if name.startswith(prefix)
    )


def test_names_match_framework_free_list():
    assert set(zoo.KERAS_ARCHITECTURES) == set(models.ARCHITECTURES)
    assert set(cifar_zoo.BUILDERS) <= set(models.ARCHITECTURES)
    assert set(PARAMS_M) == set(cifar_zoo.BUILDERS)


@pytest.mark.parametrize("name", sorted(cifar_zoo.BUILDERS))
def test_architecture(name):
    model = models.build(name, (32, 32, 3), 100)
    assert model.output_shape == (None, 100)
    assert model.layers[-1].name == "logits"
    # logits: no softmax anywhere, the last layer is linear
    assert model.layers[-1].get_config()["activation"] == "linear"
    assert not any(type(layer).__name__ == "Softmax" for layer in model.layers)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert merges(name) <= kinds
    if name.startswith("vgg"):
        assert not {"Add", "Concatenate"} & kinds
    low, high = PARAMS_M[name]
    assert low <= model.count_params() / 1e6 <= high
    assert len({layer.name for layer in model.layers}) == len(model.layers)

    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    logits = np.asarray(model(x, training=False))
    assert logits.shape == (2, 100) and np.isfinite(logits).all()
    assert not np.allclose(logits[0], logits[1])  # the output depends on the input

    gtsrb = models.build(name, (32, 32, 3), 43)
    assert gtsrb.output_shape == (None, 43)
    # only the logits layer depends on the class count
    assert model.count_params() - gtsrb.count_params() == (100 - 43) * (
        model.layers[-1].kernel.shape[0] + 1
    )


@pytest.mark.parametrize(
    "name, side", [("inceptionv3_cifar", 33), ("resnet18_cifar", 48), ("xception_cifar", 40)]
)
def test_larger_inputs(name, side):
    model = models.build(name, (side, side, 3), 10)
    assert model.output_shape == (None, 10)


def test_too_small_input_is_refused():
    with pytest.raises(ValueError, match="at least 32x32"):
        models.build("resnet18_cifar", (28, 28, 3), 10)


def shifts(image, pad):
    """Every crop of the zero-padded image at the image's size, then the mirrored ones."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    crops = [
        padded[dy : dy + h, dx : dx + w] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
    ]
    return crops + [crop[:, ::-1] for crop in crops]


def test_shift_flip_is_a_shifted_crop_or_its_mirror():
    x = np.random.default_rng(1).random((16, 6, 5, 3), dtype=np.float32) + 1
    out = models.shift_flip(x, np.random.default_rng(0), pad=2)
    assert out.shape == x.shape and out.dtype == x.dtype
    matches = [
        [i for i, crop in enumerate(shifts(x[k], 2)) if np.array_equal(crop, out[k])]
        for k in range(16)
    ]
    assert all(len(m) == 1 for m in matches)
    mirrored = sum(m[0] >= 25 for m in matches)
    assert 0 < mirrored < 16
    assert len({m[0] % 25 for m in matches}) > 1  # the offsets vary


def test_augmented_batches_reshuffle_per_epoch_and_keep_labels():
    x = np.random.default_rng(2).random((10, 8, 8, 1), dtype=np.float32) + 1
    y = np.arange(10)
    batches = models._augmented_batches(x, y, 4, seed=3)
    assert len(batches) == 3
    first = [batches[i] for i in range(3)]
    assert sorted(np.concatenate([labels for _, labels in first])) == list(range(10))
    for images, labels in first:
        for image, label in zip(images, labels):
            assert any(np.array_equal(crop, image) for crop in shifts(x[label], 4))
    again = models._augmented_batches(x, y, 4, seed=3)
    assert all(np.array_equal(a[0], again[i][0]) for i, a in enumerate(first))
    batches.on_epoch_end()
    assert not np.array_equal(
        np.concatenate([batches[i][1] for i in range(3)]), np.concatenate([b[1] for b in first])
    )
