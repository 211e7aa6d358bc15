"""PyTorch models with NaN/Inf weights and unreadable model files stop with one line naming the
model, the tensor or the file (see dnnfi.engines.health); the shared tests of
tests/engines/loud_failures.py on a tiny PyTorch CNN."""

import numpy as np
import pytest
import torch
from engines.loud_failures import *  # noqa: F403 (the shared tests)
from engines.loud_failures import LoudFailures
from torch import nn

from dnnfi.engines.torchfi import models
from dnnfi.engines.torchfi.cifar import cifar_resnet, load_cifar_resnet


def tiny_cnn():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)
    )
    return model.eval()


@torch.no_grad()
def set_element(model, name, index, value):
    model.state_dict()[name][index] = value  # the state dict's tensors share the model's storage


def diverge(x, y):
    torch.manual_seed(0)
    model = models.build("digits_mlp", (8, 8, 1), 10)
    return model, models.train(model, x, y, 2, 16, 1e30, 0)


@pytest.fixture
def fw():
    return LoudFailures(
        tiny_cnn=tiny_cnn,
        suffix=".pt",
        predict_logits=models.predict_logits,
        named_tensors=models.named_tensors,
        set_element=set_element,
        first=("1.running_var", 1),  # a buffer
        later=("4.weight", (2, 7)),
        diverge=diverge,
        diverged=r"1\.weight \(4096 NaN\)",
    )


def test_bfloat16_tensors_are_checked():
    model = tiny_cnn().to(torch.bfloat16)
    with torch.no_grad():
        model[0].bias[3] = float("nan")
    assert [(name, a.dtype) for name, a in models.named_tensors(model)][:2] == [
        ("0.weight", np.float32),
        ("0.bias", np.float32),
    ]
    from dnnfi.engines.health import first_nonfinite

    assert first_nonfinite(lambda: models.named_tensors(model)) == "0.bias (1 NaN)"


def truncated_copy(path, target):
    data = path.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def test_unreadable_dnnfi_checkpoints_name_the_key_and_the_path(tmp_path):
    saved = tmp_path / "cnn.pt"
    models.save(models.build("digits_cnn", (8, 8, 1), 10), "digits_cnn", (8, 8, 1), 10, saved)
    expected = "a torch.save dict of architecture, input_shape, classes, state_dict written by the train or fetch rule"
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    for broken in (truncated_copy(saved, tmp_path / "cut.pt"), tmp_path / "text.pt"):
        with pytest.raises(ValueError) as error:
            models.load(broken, "models.cnn")
        message = str(error.value)
        assert message.startswith(
            f"models.cnn: {broken} is not a readable PyTorch checkpoint (expected {expected}: "
        )
        assert "\n" not in message
    spec = torch.load(saved, weights_only=True)
    del spec["state_dict"]["2.weight"]
    torch.save(spec, tmp_path / "partial.pt")
    with pytest.raises(
        ValueError,
        match=r"^models.cnn: .*partial.pt is not a readable PyTorch checkpoint \(expected the "
        r"state dict of a digits_cnn: RuntimeError: .*Missing key\(s\).*2\.weight",
    ):
        models.load(tmp_path / "partial.pt", "models.cnn")
    assert models.load(saved, "models.cnn")[2].weight.shape == (32, 16, 3, 3)


def test_truncated_cifar_checkpoint_names_the_config_key(tmp_path):
    whole = tmp_path / "resnet20.th"
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in cifar_resnet(20).state_dict().items()}}, whole
    )
    assert len(load_cifar_resnet(whole).layer1) == 3
    for legacy in (False, True):  # the published .th files use torch's legacy (non-zip) format
        torch.save(
            torch.load(whole, weights_only=True), whole, _use_new_zipfile_serialization=not legacy
        )
        cut = truncated_copy(whole, tmp_path / "cut.th")
        with pytest.raises(
            ValueError,
            match=rf"^models.resnet20.path: {cut} is not a readable PyTorch checkpoint "
            r"\(expected a torch.save state dict of a CIFAR ResNet, e.g. "
            r"resnet20-cifar10-12fca82f.th: \w+Error: ",
        ):
            models.fetch("file", "resnet20_cifar", cut, 10, key="models.resnet20.path")


def test_torchvision_weights_file_that_is_text(tmp_path):
    (tmp_path / "resnet18.pth").write_text("<html>not found</html>")
    with pytest.raises(
        ValueError,
        match=r"^models.r18.path: .*resnet18.pth is not a readable PyTorch checkpoint "
        r"\(expected a torch.save state dict of torchvision's resnet18: ",
    ):
        models.fetch(
            "torchvision", "resnet18", tmp_path / "resnet18.pth", 1000, key="models.r18.path"
        )
