"""keras.applications: the 12 architectures of the TensorFI+ study and newer families (sites and a
few faults against the reference), the zoo list and each family's preprocessing against the
installed Keras."""

import inspect

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import random_images
from reference import run_reference

from dnnfi.data.preprocess import preprocess
from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.kerasfi.models import application, min_side
from dnnfi.engines.zoo import KERAS_APPLICATIONS, KERAS_FAMILIES
from dnnfi.faults.lists import draw_activation_faults
from dnnfi.faults.outcomes import classify
from dnnfi.faults.seeds import rng_for

pytestmark = pytest.mark.keras

STUDY = (
    "VGG16",
    "VGG19",
    "MobileNet",
    "MobileNetV2",
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "Xception",
    "DenseNet121",
    "DenseNet169",
    "InceptionResNetV2",
    "InceptionV3",
)
#: a family beyond the study whose models rescale their input themselves (Rescaling, Normalization)
NEWER = ("EfficientNetB0",)


@pytest.mark.parametrize("name", sorted(STUDY) + list(NEWER))
def test_application_sites_and_faults(name):
    keras.utils.set_random_seed(0)
    side = min_side(name)
    model = application(name, (side, side, 3), classes=10, classifier_activation=None)
    injector = KerasInjector(model, batch_size=32)
    sites = injector.sites()
    # one site per layer call: every layer but the input; all eligible but the last layer
    assert len(sites) == len(model.layers) - 1
    assert sites["eligible"].sum() == len(model.layers) - 2 and not sites["eligible"].iloc[-1]
    assert sites["size"].tolist() == [
        int(np.prod(model.get_layer(s).output.shape[1:])) for s in sites["site"]
    ]
    images = random_images(3, side, seed=2)
    faults = draw_activation_faults(sites[sites["eligible"]], 16, rng_for(5, name), np.arange(3))
    engine = classify(injector.run(faults, images, progress=False))
    summary, _ = run_reference(model, faults, images)
    reference = classify(pd.concat([faults, summary], axis=1))
    assert engine["outcome"].astype(str).tolist() == reference["outcome"].astype(str).tolist()
    assert engine["faulty_top1"].tolist() == reference["faulty_top1"].tolist()


def installed_classifiers() -> dict[str, str]:
    """name -> family (the submodule defining it) of every keras.applications function with a
    classifier top (``include_top`` and ``classifier_activation``)."""
    found = {}
    for name, fn in vars(keras.applications).items():
        if callable(fn) and not inspect.ismodule(fn):
            params = inspect.signature(fn).parameters
            if {"include_top", "classifier_activation"} <= set(params):
                found[name] = fn.__module__.rsplit(".", 1)[-1]
    return found


def test_zoo_lists_every_classifier_of_the_installed_keras():
    installed = installed_classifiers()
    assert len(installed) == 40
    assert installed == KERAS_APPLICATIONS
    assert set(installed.values()) == set(KERAS_FAMILIES)


@pytest.mark.parametrize("family", sorted(KERAS_FAMILIES))
def test_family_preprocessing_equals_keras_preprocess_input(family):
    pixels = np.random.default_rng(3).integers(0, 256, (2, 5, 5, 3)).astype("float32")
    expected = getattr(keras.applications, family).preprocess_input(pixels.copy())
    ours = preprocess(pixels.astype("uint8"), KERAS_FAMILIES[family][0])
    np.testing.assert_array_equal(ours, np.asarray(expected))
    assert not np.array_equal(ours, pixels / 255.0)  # none of them is plain unit scaling


def test_unknown_application_and_too_small_input_are_named():
    with pytest.raises(
        ValueError,
        match=r"unknown keras.applications architecture 'VGG17' \(close matches: VGG19, VGG16\)",
    ):
        application("VGG17")
    with pytest.raises(ValueError, match="at least 75x75"):
        application("InceptionV3", (32, 32, 3))
