"""Model zoo: the CIFAR ResNet family and its published weights, torchvision loading, digits models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from conftest import CIFAR10_CLASSES, inputs_path
from torchvision.models import get_model_weights
from torchvision.transforms.functional import normalize

from dnnfi.data.datasets import image_folder
from dnnfi.data.preprocess import preprocess
from dnnfi.engines.torchfi.cifar import cifar_resnet, load_cifar_resnet
from dnnfi.engines.torchfi.models import build, predict_logits, to_tensor, torchvision_model, train
from dnnfi.engines.zoo import TORCHVISION_CLASSIFIERS, family_preprocessing


@pytest.mark.parametrize(
    ("depth", "params"), [(20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018)]
)
def test_cifar_resnet_sizes(depth, params):
    model = cifar_resnet(depth)
    assert (
        sum(p.numel() for p in model.parameters()) == params
    )  # He et al. 2016, Table 6: 0.27M .. 0.85M
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_real_resnet20_reaches_its_accuracy_on_jpeg_cifar10():
    split = image_folder(inputs_path("data", "cifar10-jpeg", "test"), CIFAR10_CLASSES)
    model = load_cifar_resnet(inputs_path("models", "resnet20-cifar10-12fca82f.th"))
    logits = predict_logits(model, preprocess(split.x, "imagenet_mean_std"))
    accuracy = (logits.argmax(axis=1) == split.y).mean()
    assert len(split.y) == 10_000
    assert 0.79 <= accuracy <= 0.83, accuracy


def test_real_resnet56_loads_with_its_depth():
    model = load_cifar_resnet(inputs_path("models", "resnet56-cifar10-4bfd9763.th"))
    assert len(model.layer1) == 9 and not model.training


def test_cifar_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_cifar_resnet(tmp_path / "missing.th")
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, tmp_path / "other.th")
    with pytest.raises(ValueError, match="CIFAR ResNet"):
        load_cifar_resnet(tmp_path / "other.th")


def test_torchvision_local_weights_round_trip(tmp_path):
    model = torchvision_model("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(model.state_dict(), path)
    again = torchvision_model("resnet18", path)
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values())
    )
    with pytest.raises(FileNotFoundError, match="resnet18"):
        torchvision_model("resnet18", tmp_path / "absent.pth")
    with pytest.raises(
        ValueError, match=r"unknown torchvision classifier 'resnet9000' \(close matches: resnet50"
    ):
        torchvision_model("resnet9000")


def test_zoo_lists_every_classifier_of_the_installed_torchvision():
    assert TORCHVISION_CLASSIFIERS == tuple(
        torchvision.models.list_models(module=torchvision.models)
    )


@pytest.mark.parametrize("name", TORCHVISION_CLASSIFIERS)
def test_family_preprocessing_equals_the_normalization_of_every_imagenet_weights(name):
    """dnnfi.data.preprocess of the model's mode equals torchvision's Normalize with the mean and std of
    each of its classifier weights (pixels / 255 first, as torchvision's to-tensor step does)."""
    pixels = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    ours = to_tensor(preprocess(pixels, family_preprocessing("torchvision", name)))
    classifiers = [
        w for w in get_model_weights(name) if w.meta["categories"]
    ]  # not vgg16's features-only weights
    assert classifiers
    for weights in classifiers:
        t = weights.transforms()
        expected = normalize(to_tensor(pixels.astype(np.float32)) / 255, t.mean, t.std)
        torch.testing.assert_close(ours, expected, rtol=0, atol=0, msg=f"{name} {weights}")


def test_inception_local_weights_use_torchvision_input_transform(tmp_path):
    model = torchvision_model("inception_v3")
    assert not model.transform_input
    torch.save(model.state_dict(), tmp_path / "inception.pth")
    loaded = torchvision_model("inception_v3", tmp_path / "inception.pth")
    assert loaded.transform_input and loaded(torch.randn(1, 3, 75, 75)).shape == (1, 1000)


def test_build_knows_digits_and_cifar_architectures():
    assert build("digits_cnn", (8, 8, 1), 10)(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    net = build("resnet32_cifar", (32, 32, 3), 100)
    assert len(net.layer2) == 5 and net.linear.out_features == 100
    with pytest.raises(ValueError, match="unknown PyTorch architecture"):
        build("resnet21_cifar", (32, 32, 3), 10)
    assert np.isfinite(predict_logits(net, np.zeros((3, 32, 32, 3), np.float32))).all()


def test_layer_output_sizes_count_every_leaf_modules_output():
    from dnnfi.engines.torchfi.models import layer_output_sizes

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 5 * 5, 2),
    ).train()
    assert layer_output_sizes(model, (5, 5, 3)) == [100, 100, 100, 2]  # conv, relu, flatten, linear
    assert model.training  # its mode is restored


def test_training_refuses_augmentation_which_only_keras_does():
    model = build("digits_mlp", (8, 8, 1), 10)
    x, y = np.zeros((4, 8, 8, 1), np.float32), np.arange(4)
    with pytest.raises(ValueError, match="train.augment: only Keras"):
        train(model, x, y, 1, 4, 0.01, 0, augment=True)
