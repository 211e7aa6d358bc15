"""The `device` argument of an engine's injectors and the jobs' device resolution: on the CPU,
``device="cpu"`` and ``"auto"`` (no GPU here) give bit-identical results to the default
placement; ``cuda`` without a GPU stops with one line; on a GPU (run where one exists) a fault
list gives bit-identical logits at batch sizes 1 and 64 and on a rerun."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mixed_faults import (
    assert_identical,
    assert_refused_without_gpu,
    assert_same_replica,
    mixed_fault_list,
)

from dnnfi.engines.devices import DeviceError

__all__ = [
    "test_cpu_and_auto_give_the_default_results",
    "test_cuda_without_a_gpu_is_refused_in_one_line",
    "test_gpu_results_are_deterministic_and_batch_independent",
]


@dataclass
class Devices:
    """A framework's side of these tests."""

    injector: Callable  # the activation injector class
    weight_injector: Callable
    model: Any
    images: np.ndarray
    faults: pd.DataFrame  # mixed_fault_list of the model's sites
    predict_logits: Callable
    use_device: Callable
    gpu: bool  # whether the framework sees a GPU
    cpu_device: Any  # an injector's ``device`` on the CPU, and on the first GPU
    gpu_device: Any
    cpu_log: str  # the log line of use_device("auto"), up to the config key
    counted: str  # how the framework counts GPUs, as the refusal names it
    bad_device: str  # a device setting use_device refuses
    replica_rate: float  # weight fault rate of the replica run on both placements
    #: where the model's weights are, where an injector moves the model (PyTorch); None where the
    #: framework places each op instead (TensorFlow)
    weights_device: Callable | None = None


def faults_for(sites: pd.DataFrame, seed: int, n_images: int) -> pd.DataFrame:
    """The fault list of these tests: 100 single and 20 multi-element faults of every model."""
    return mixed_fault_list(sites, seed, n_images, n_single=100, n_multi=20)


def test_cpu_and_auto_give_the_default_results(fw: Devices, caplog):
    if fw.gpu:
        pytest.skip("checks the CPU fallback: this machine has a GPU")
    model, x = fw.model, fw.images
    reference = fw.injector(model, batch_size=64).logits(fw.faults, x, progress=False)
    for device in ("cpu", "auto"):
        injector = fw.injector(model, batch_size=64, device=device)
        assert injector.device == fw.cpu_device
        assert_identical(
            reference, injector.logits(fw.faults, x, progress=False), f"device={device}"
        )
    on_cpu = fw.weight_injector(model, device="cpu")
    assert_same_replica(fw.weight_injector(model), on_cpu, x, rate=fw.replica_rate)
    np.testing.assert_array_equal(on_cpu.logits(x), fw.predict_logits(model, x))  # restored
    with caplog.at_level(logging.INFO, logger="dnnfi"):
        assert fw.use_device("auto", "models.m.device") == fw.cpu_device
    assert f"{fw.cpu_log} (config key models.m.device: auto)" in caplog.text


def test_cuda_without_a_gpu_is_refused_in_one_line(fw: Devices):
    if fw.gpu:
        pytest.skip("needs a machine without a GPU")
    assert_refused_without_gpu(fw.injector, fw.weight_injector, fw.model, fw.counted)
    if fw.weights_device:
        assert fw.weights_device(fw.model) == fw.cpu_device  # not moved
    bad = fw.bad_device
    with pytest.raises(DeviceError, match=f"^config key models.m.device: unknown device '{bad}'"):
        fw.use_device(bad, "models.m.device")


def test_gpu_results_are_deterministic_and_batch_independent(fw: Devices):
    if not fw.gpu:
        pytest.skip("needs a GPU")
    model, x, faults = fw.model, fw.images, fw.faults
    injector = fw.injector(model, batch_size=64, device="cuda")
    assert injector.device == fw.gpu_device
    if fw.weights_device:
        assert fw.weights_device(model) == fw.gpu_device
    reference = injector.logits(faults, x, progress=False)
    assert_identical(reference, injector.logits(faults, x, progress=False), "rerun on the GPU")
    alone = fw.injector(model, batch_size=1, device="cuda").logits(
        faults.iloc[:40], x, progress=False
    )
    assert_identical(tuple(r[:40] for r in reference), alone, "batch size 1 vs 64 on the GPU")
    weights = fw.weight_injector(model, device="cuda")
    np.testing.assert_array_equal(
        weights.logits(x).view(np.uint32), weights.logits(x).view(np.uint32)
    )
