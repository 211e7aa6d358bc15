"""All 12 keras.applications architectures of the TensorFI+ study: sites and a few faults."""

import numpy as np
import pandas as pd
import pytest
from conftest import random_images
from reference import run_reference

import keras
from dnnfi.faults import draw_activation_faults
from dnnfi.kerasfi.engine import KerasInjector
from dnnfi.kerasfi.models import APPLICATIONS, application
from dnnfi.outcomes import classify
from dnnfi.seeds import rng_for

pytestmark = pytest.mark.keras


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_application_sites_and_faults(name):
    keras.utils.set_random_seed(0)
    side = APPLICATIONS[name]
    model = application(name, (side, side, 3), classes=10, classifier_activation=None)
    injector = KerasInjector(model, batch_size=32)
    sites = injector.sites()
    # one site per layer call: every layer but the input; all eligible but the last layer
    assert len(sites) == len(model.layers) - 1
    assert sites["eligible"].sum() == len(model.layers) - 2 and not sites["eligible"].iloc[-1]
    assert sites["size"].tolist() == [int(np.prod(model.get_layer(s).output.shape[1:])) for s in sites["site"]]
    images = random_images(3, side, seed=2)
    faults = draw_activation_faults(sites[sites["eligible"]], 16, rng_for(5, name), np.arange(3))
    engine = classify(injector.run(faults, images, progress=False))
    summary, _ = run_reference(model, faults, images)
    reference = classify(pd.concat([faults, summary], axis=1))
    assert engine["outcome"].astype(str).tolist() == reference["outcome"].astype(str).tolist()
    assert engine["faulty_top1"].tolist() == reference["faulty_top1"].tolist()


def test_unknown_application_and_too_small_input_are_named():
    with pytest.raises(ValueError, match="VGG17"):
        application("VGG17")
    with pytest.raises(ValueError, match="at least 75x75"):
        application("InceptionV3", (32, 32, 3))
