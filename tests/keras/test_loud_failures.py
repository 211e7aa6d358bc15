"""Keras models with NaN/Inf weights and unreadable model files stop with one line naming the
model, the variable or the file (see dnnfi.engines.health); the shared tests of
tests/engines/loud_failures.py on a tiny Keras CNN."""

import re

import numpy as np
import pytest
from engines.loud_failures import *  # noqa: F403 (the shared tests)
from engines.loud_failures import LoudFailures

from dnnfi.data.datasets import Split
from dnnfi.engines.kerasfi import models
from dnnfi.engines.runner import baseline_job

keras = pytest.importorskip("keras")


def tiny_cnn():
    from keras import layers

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((4, 4, 1)),
            layers.Conv2D(4, 3, padding="same", name="conv"),
            layers.BatchNormalization(name="bn"),
            layers.ReLU(name="relu"),
            layers.Flatten(name="flat"),
            layers.Dense(3, name="logits"),
        ],
        name="tiny",
    )


def baseline_files(tmp_path, x):
    Split(x, np.arange(len(x)) % 3, ["a", "b", "c"]).save(tmp_path / "test.npz")
    return {
        "name": "tiny",
        "path": "results/models/d/tiny.keras",
        "test": str(tmp_path / "test.npz"),
        "preprocessing": "none",
    }


def set_element(variable, index, value):
    array = variable.numpy()
    array[index] = value
    variable.assign(array)


def diverge(x, y):
    model = models.build("digits_sequential", (8, 8, 1), 10, seed=0)
    return model, models.train(model, x * 1e6, y, 2, 16, 1e36, 0).history["loss"]


@pytest.fixture
def fw():
    return LoudFailures(
        tiny_cnn=tiny_cnn,
        suffix=".keras",
        predict_logits=models.predict_logits,
        named_tensors=models.named_tensors,
        set_element=lambda model, path, index, value: set_element(
            {v.path: v for v in model.weights}[path], index, value
        ),
        first=("tiny/bn/moving_variance", 2),  # non-trainable
        later=("tiny/logits/kernel", (9, 1)),
        diverge=diverge,
        diverged=r"\S*conv2d\S*/kernel \(\d+ NaN\)",
    )


def test_nan_kernel_hidden_by_max_pooling_still_stops_the_baseline(tmp_path):
    model = models.build("digits_sequential", (8, 8, 1), 10, seed=0)
    x = np.random.default_rng(1).uniform(0, 1, (6, 8, 8, 1)).astype(np.float32)
    set_element(
        model.layers[1].kernel, (0, 0, 3, 5), np.nan
    )  # second convolution, before ReLU and max pooling
    assert np.isfinite(
        models.predict_logits(model, x)
    ).all()  # max pooling drops the NaN of output channel 5
    with pytest.raises(
        ValueError,
        match=r"^model tiny \(results/models/d/tiny.keras\): fault-free logits are finite but "
        r"hide a non-finite parameter \(max pooling can drop NaN\); first non-finite "
        r"parameter tensor: "
        + re.escape(model.layers[1].kernel.path)
        + r" \(1 NaN\)\. Set models.tiny.allow_nonfinite",
    ):
        baseline_job(
            model=model,
            predict_logits=models.predict_logits,
            named_tensors=models.named_tensors,
            **baseline_files(tmp_path, x),
        )


EXPECTED = "a .keras archive or an HDF5 .h5 file written by Keras' model.save"


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_truncated_or_text_model_files_name_the_key_and_the_path(tmp_path, suffix):
    saved = tmp_path / f"tiny{suffix}"
    tiny_cnn().save(saved)
    data = saved.read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    (tmp_path / f"text{suffix}").write_text("not a model\n")
    for broken in (tmp_path / f"cut{suffix}", tmp_path / f"text{suffix}"):
        with pytest.raises(ValueError) as error:
            models.load(broken, "models.tiny.path")
        message = str(error.value)
        assert message.startswith(
            f"models.tiny.path: {broken} is not a readable Keras model (expected {EXPECTED}: "
        )
        assert "\n" not in message
    assert models.load(saved, "models.tiny.path").get_layer("logits").units == 3


def test_application_weights_file_that_is_text(tmp_path):
    keras.utils.set_random_seed(0)
    model = models.application("MobileNet", (32, 32, 3), 10)
    model.save_weights(tmp_path / "mobilenet.weights.h5")
    again = models.application(
        "MobileNet", (32, 32, 3), 10, tmp_path / "mobilenet.weights.h5", key="models.mn.path"
    )
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    assert np.array_equal(models.predict_logits(model, x), models.predict_logits(again, x))
    (tmp_path / "mobilenet.h5").write_text("<html>not found</html>")
    with pytest.raises(
        ValueError,
        match=r"^models.mn.path: .*mobilenet.h5 is not a readable Keras weights file \(expected "
        r"weights of Keras' MobileNet with 10 classes, a .weights.h5 or .h5 file: OSError: ",
    ):
        models.application(
            "MobileNet", (32, 32, 3), 10, tmp_path / "mobilenet.h5", key="models.mn.path"
        )
