"""The `device` argument of the PyTorch injectors and the jobs' device resolution: on the CPU,
``device="cpu"`` and ``"auto"`` (no GPU here) give bit-identical results to the default (the
model's own device); ``cuda`` without a GPU stops with one line; on a GPU (run where one exists)
a fault list gives bit-identical logits at batch sizes 1 and 64 and on a rerun."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from mixed_faults import (
    assert_identical,
    assert_refused_without_gpu,
    assert_same_replica,
    mixed_fault_list,
)

from dnnfi.engines.devices import DeviceError
from dnnfi.engines.torchfi.activations import TorchInjector
from dnnfi.engines.torchfi.models import build, predict_logits, use_device
from dnnfi.engines.torchfi.weights import WeightInjector

GPU = torch.cuda.is_available()
N_IMAGES = 6


@pytest.fixture
def model_and_images():
    model = build("digits_cnn", (8, 8, 1), 10).eval()
    x = np.random.default_rng(0).normal(0, 1, (N_IMAGES, 8, 8, 1)).astype(np.float32)
    return model, x


def faults_of(model, n_single=100, n_multi=20):
    sites = TorchInjector(model, input_shape=(1, 8, 8)).sites()
    return mixed_fault_list(sites, 3, N_IMAGES, n_single, n_multi)


@pytest.mark.skipif(GPU, reason="checks the CPU fallback: this machine has a GPU")
def test_cpu_and_auto_give_the_default_results(model_and_images, caplog):
    model, x = model_and_images
    faults = faults_of(model)
    reference = TorchInjector(model, batch_size=64).logits(faults, x, progress=False)
    for device in ("cpu", "auto"):
        injector = TorchInjector(model, batch_size=64, device=device)
        assert injector.device == torch.device("cpu")
        assert_identical(reference, injector.logits(faults, x, progress=False), f"device={device}")
    on_cpu = WeightInjector(model, device="cpu")
    assert_same_replica(WeightInjector(model), on_cpu, x, rate=0.01)
    np.testing.assert_array_equal(on_cpu.logits(x), predict_logits(model, x))  # restored
    with caplog.at_level(logging.INFO, logger="dnnfi"):
        assert use_device("auto", "models.m.device") == torch.device("cpu")
    assert "PyTorch device cpu, CPU (config key models.m.device: auto)" in caplog.text


@pytest.mark.skipif(GPU, reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_refused_in_one_line(model_and_images):
    model, _ = model_and_images
    assert_refused_without_gpu(
        TorchInjector, WeightInjector, model, "PyTorch (torch.cuda.device_count())"
    )
    assert next(model.parameters()).device == torch.device("cpu")  # not moved
    with pytest.raises(DeviceError, match="^config key device: unknown device 'gpu'"):
        use_device("gpu", "device")


@pytest.mark.skipif(not GPU, reason="needs a GPU")
def test_gpu_results_are_deterministic_and_batch_independent(model_and_images):
    model, x = model_and_images
    faults = faults_of(model)
    injector = TorchInjector(model, batch_size=64, device="cuda")
    assert injector.device == torch.device("cuda:0") and next(model.parameters()).is_cuda
    reference = injector.logits(faults, x, progress=False)
    assert_identical(reference, injector.logits(faults, x, progress=False), "rerun on the GPU")
    alone = TorchInjector(model, batch_size=1).logits(faults.iloc[:40], x, progress=False)
    assert_identical(tuple(r[:40] for r in reference), alone, "batch size 1 vs 64 on the GPU")
    weights = WeightInjector(model)
    np.testing.assert_array_equal(
        weights.logits(x).view(np.uint32), weights.logits(x).view(np.uint32)
    )
