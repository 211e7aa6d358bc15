"""PyTorch models with NaN/Inf weights and unreadable model files stop with one line naming the
model, the tensor or the file (see dnnfi.engines.health)."""

import numpy as np
import pytest
import torch
from torch import nn

from dnnfi.data.datasets import Split
from dnnfi.engines.health import check_trained
from dnnfi.engines.runner import baseline_job
from dnnfi.engines.torchfi import models
from dnnfi.engines.torchfi.cifar import cifar_resnet, load_cifar_resnet


def tiny_cnn():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)
    )
    return model.eval()


def baseline_files(tmp_path, x):
    Split(x, np.arange(len(x)) % 3, ["a", "b", "c"]).save(tmp_path / "test.npz")
    return {
        "name": "cnn",
        "path": "results/models/d/cnn.pt",
        "test": str(tmp_path / "test.npz"),
        "preprocessing": "none",
    }


def test_nan_weight_stops_the_baseline_naming_the_first_tensor(tmp_path):
    model, x = tiny_cnn(), np.random.default_rng(0).normal(size=(5, 4, 4, 1)).astype(np.float32)
    files = baseline_files(tmp_path, x)
    assert (
        baseline_job(
            model=model,
            predict_logits=models.predict_logits,
            named_tensors=models.named_tensors,
            **files,
        )["correct"].dtype
        == bool
    )
    with torch.no_grad():
        model[4].weight[2, 7] = float("nan")  # later in model order
        model[1].running_var[1] = float("inf")  # a buffer, first in model order
    with pytest.raises(ValueError) as error:
        baseline_job(
            model=model,
            predict_logits=models.predict_logits,
            named_tensors=models.named_tensors,
            **files,
        )
    assert str(error.value) == (
        "model cnn (results/models/d/cnn.pt): fault-free logits hold NaN/Inf on 5 of 5 images; first non-finite "
        "parameter tensor: 1.running_var (1 Inf). Set models.cnn.allow_nonfinite: true to study such a model anyway."
    )
    with torch.no_grad():
        model[1].running_var[1] = 1.0
    with pytest.raises(
        ValueError, match=r"first non-finite parameter tensor: 4\.weight \(1 NaN\)\. "
    ):
        baseline_job(
            model=model,
            predict_logits=models.predict_logits,
            named_tensors=models.named_tensors,
            **files,
        )
    table = baseline_job(
        model=model,
        predict_logits=models.predict_logits,
        named_tensors=models.named_tensors,
        **files,
        allow_nonfinite=True,
    )
    assert len(table) == 5


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


def test_diverged_training_names_the_learning_rate():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8, 8, 1)).astype(np.float32), rng.integers(0, 10, 64)
    torch.manual_seed(0)
    model = models.build("digits_mlp", (8, 8, 1), 10)
    assert np.isnan(models.train(model, x, y, 2, 16, 1e30, 0)).all()
    with pytest.raises(
        ValueError,
        match=r"^models.mlp.train: training diverged \(first non-finite parameter tensor: "
        r"1\.weight \(4096 NaN\)\); lower models.mlp.train.learning_rate$",
    ):
        check_trained(models.named_tensors(model), "models.mlp.train")
