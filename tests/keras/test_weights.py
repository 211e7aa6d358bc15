"""The shared weight-fault tests (tests/engines/weights.py) on the Keras engine: the zoo graph
(nested and shared layers, depthwise convolution, batch norm), and the digits model's dense
kernel for the statistics of random values."""

import keras
import numpy as np
import pytest
from conftest import zoo
from engines.weights import *  # noqa: F403 (the shared tests)
from engines.weights import Weights

from dnnfi.engines.kerasfi.models import digits_sequential
from dnnfi.engines.kerasfi.weights import WeightInjector, weight_sites

pytestmark = pytest.mark.keras


def assign(model, values):
    for v in model.weights:
        v.assign(values[v.path])


@pytest.fixture
def fw(images16):
    keras.utils.set_random_seed(0)
    model = zoo()
    keras.utils.set_random_seed(1)
    big = digits_sequential()
    return Weights(
        model=model,
        images=images16,
        weight_sites=weight_sites,
        weight_injector=WeightInjector,
        weights=lambda model: {v.path: np.array(v.numpy()) for v in model.weights},
        assign=assign,
        forward=lambda model, x: keras.ops.convert_to_numpy(model(x)),
        kernels={
            "stem/kernel": "3x3x3x16",
            "inner/inner_dw/kernel": "3x3x16x1",
            "shared_pw/kernel": "1x1x16x16",
            "logits/kernel": "32x10",
        },
        linear=["logits/kernel"],
        biases={"stem/bias", "inner/inner_dw/bias", "shared_pw/bias", "logits/bias"},
        normalization={"inner/inner_bn/gamma", "inner/inner_bn/beta"},
        big_model=big,
        big_site=big.layers[-2].kernel.path,  # 256x32 (layer names count up per process)
    )
