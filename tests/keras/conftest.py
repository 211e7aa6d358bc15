"""Keras test fixtures: small graphs of every shape the engine must handle, and images."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")


def zoo(policy: str = "float32", classes: int = 10):
    """Sequential sub-model (depthwise, BN, ReLU) nested in a functional graph, one layer
    called twice, Add and Concatenate; ``policy`` sets the dtype policy of every layer but the
    float32 logits (``mixed_float16``, ``mixed_bfloat16``)."""
    from keras import layers

    inner = keras.Sequential(
        [
            keras.Input((8, 8, 16)),
            layers.DepthwiseConv2D(3, padding="same", name="inner_dw", dtype=policy),
            layers.BatchNormalization(name="inner_bn", dtype=policy),
            layers.ReLU(name="inner_relu", dtype=policy),
        ],
        name="inner",
    )
    shared = layers.Conv2D(16, 1, name="shared_pw", dtype=policy)
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(
        16, 3, strides=2, padding="same", activation="relu", name="stem", dtype=policy
    )(inputs)
    a = inner(x)
    c = shared(shared(a))
    y = layers.Add(name="add", dtype=policy)([a, c])
    z = layers.Concatenate(name="cat", dtype=policy)([y, x])
    z = layers.GlobalAveragePooling2D(name="gap", dtype=policy)(z)
    outputs = layers.Dense(classes, name="logits", dtype="float32")(z)
    model = keras.Model(inputs, outputs, name=f"zoo_{policy}")
    # random BN statistics, so that BN is not an identity
    rng = np.random.default_rng(0)
    bn = inner.get_layer("inner_bn")
    bn.moving_mean.assign(rng.normal(0, 0.1, 16).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.5, 2, 16).astype("float32"))
    return model


@pytest.fixture(scope="session")
def images16():
    return np.random.default_rng(1).normal(0, 1, (12, 16, 16, 3)).astype("float32")


def random_images(n: int, side: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, side, side, 3)).astype("float32")
