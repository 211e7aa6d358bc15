"""CIFAR ResNet-20/32/44/56 (He et al. 2016, option-A shortcuts) and its published weights.

The layout matches the widely used weights of Y. Idelbayev (``inputs/models/resnet*-cifar10-*.th``:
a dict ``{'best_prec1', 'state_dict'}`` whose keys carry a ``module.`` prefix), so those files load
as they are. Inputs: RGB in [0, 1] normalized with the ImageNet mean and std (preprocessing
``imagenet_mean_std``), NCHW 3x32x32. Activation functions are modules (one ReLU module per block,
called twice) so that every activation is a fault site.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

DEPTHS = (20, 32, 44, 56, 110)


class OptionAShortcut(nn.Module):
    """Parameter-free shortcut: stride-2 subsampling, then zero-padding of the new channels."""

    def __init__(self, extra_channels: int):
        super().__init__()
        self.extra = extra_channels // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(
            x[:, :, ::2, ::2], (0, 0, 0, 0, self.extra, self.extra), "constant", 0
        )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity or option-A shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.shortcut = (
            OptionAShortcut(planes - in_planes)
            if stride != 1 or in_planes != planes
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + self.shortcut(x)
        return self.relu(out)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs: 16/32/64 channels, n basic blocks per stage."""

    def __init__(self, depth: int = 20, classes: int = 10, in_channels: int = 3):
        super().__init__()
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (e.g. {DEPTHS}), got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        widths, layers, in_planes = (16, 32, 64), [], 16
        for stage, planes in enumerate(widths):
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(in_planes, planes, stride=2 if stage and not b else 1))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(self.flatten(self.pool(out)))


def cifar_resnet(depth: int = 20, classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """A fresh CIFAR ResNet of the given depth (20, 32, 44, 56, 110, ...)."""
    return CifarResNet(depth, classes, in_channels)


def load_cifar_resnet(path: str | Path, classes: int = 10, key: str | None = None) -> CifarResNet:
    """The CIFAR ResNet stored at ``path`` (Idelbayev's checkpoint format or a plain state dict),
    depth inferred from the keys, in eval mode. ``key``: the config key of ``path``, for error messages."""
    from dnnfi.engines.health import unreadable
    from dnnfi.engines.torchfi.models import load_state, read_checkpoint

    expected = "a torch.save state dict of a CIFAR ResNet, e.g. resnet20-cifar10-12fca82f.th"
    checkpoint = read_checkpoint(path, expected, key)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else {}
    state = {k.removeprefix("module."): v for k, v in state.items()}
    blocks = {k.split(".")[1] for k in state if k.startswith("layer1.")}
    if not blocks:
        raise unreadable(key, path, "CIFAR ResNet checkpoint", expected, "no layer1.* keys")
    model = cifar_resnet(6 * len(blocks) + 2, classes)
    missing, unexpected = load_state(model, state, path, expected, key, strict=False)
    # the published files predate BatchNorm's num_batches_tracked counter (unused in eval mode)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise unreadable(
            key,
            path,
            "CIFAR ResNet checkpoint",
            expected,
            f"missing keys {missing[:5]}, unexpected keys {unexpected[:5]}",
        )
    return model.eval()
