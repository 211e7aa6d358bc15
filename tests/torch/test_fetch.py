"""Model sources of the workflow: checkpoints and torchvision classifiers survive save/load."""

import numpy as np
import pytest
from conftest import inputs_path

from dnnfi.engines import zoo
from dnnfi.engines.torchfi import models


def test_cifar_checkpoint_roundtrip_and_depth_check(tmp_path, cifar_images):
    path = inputs_path("models", "resnet20-cifar10-12fca82f.th")
    model = models.fetch("file", "resnet20_cifar", path, 10)
    models.save(model, "resnet20_cifar", (32, 32, 3), 10, tmp_path / "m.pt")
    again = models.load(tmp_path / "m.pt")
    assert np.array_equal(
        models.predict_logits(model, cifar_images), models.predict_logits(again, cifar_images)
    )
    with pytest.raises(ValueError, match="holds a ResNet-20, not the configured resnet56_cifar"):
        models.fetch("file", "resnet56_cifar", path, 10)


def test_torchvision_roundtrip_keeps_the_pretrained_layout(tmp_path):
    model = models.fetch("torchvision", "resnet18", None, 1000)
    models.save(model, "torchvision:resnet18", (64, 64, 3), 1000, tmp_path / "v.pt")
    x = np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32)
    assert np.array_equal(
        models.predict_logits(model, x), models.predict_logits(models.load(tmp_path / "v.pt"), x)
    )
    inception = models.build("torchvision:inception_v3", (299, 299, 3), 1000, pretrained=True)
    assert inception.transform_input and inception.aux_logits


def test_framework_free_zoo_lists_match():
    assert set(zoo.TORCH_ARCHITECTURES) == set(models.ARCHITECTURES)
