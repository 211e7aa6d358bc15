"""The shared device tests (tests/engines/devices.py) on the PyTorch engine: a digits CNN, whose
injectors move it to their device (the model's own device by default)."""

import numpy as np
import pytest
import torch
from engines.devices import *  # noqa: F403 (the shared tests)
from engines.devices import Devices, faults_for

from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.models import build, predict_logits, use_device
from dnnfi.engines.torchfi.weights import WeightInjector


@pytest.fixture
def fw():
    """A fresh model per test: the GPU test moves it."""
    model = build("digits_cnn", (8, 8, 1), 10).eval()
    x = np.random.default_rng(0).normal(0, 1, (6, 8, 8, 1)).astype(np.float32)
    return Devices(
        injector=TorchInjector,
        weight_injector=WeightInjector,
        model=model,
        images=x,
        faults=faults_for(TorchInjector(model, input_shape=(1, 8, 8)).sites(), 3, len(x)),
        predict_logits=predict_logits,
        use_device=use_device,
        gpu=torch.cuda.is_available(),
        cpu_device=torch.device("cpu"),
        gpu_device=torch.device("cuda:0"),
        cpu_log="PyTorch device cpu, CPU",
        counted="PyTorch (torch.cuda.device_count())",
        bad_device="gpu",
        replica_rate=0.01,
        weights_device=lambda model: next(model.parameters()).device,
    )
