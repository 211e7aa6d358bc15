"""The `device` argument of the Keras injectors and the jobs' device resolution: on the CPU,
``device="cpu"`` and ``"auto"`` (no GPU here) give bit-identical results to the default
placement; ``cuda`` without a GPU stops with one line (naming the CUDA build where TensorFlow
is tensorflow-cpu); on a GPU (run where one exists) a fault
list gives bit-identical logits at batch sizes 1 and 64 and on a rerun."""

import logging

import pytest
import tensorflow as tf
from conftest import zoo
from mixed_faults import (
    assert_identical,
    assert_refused_without_gpu,
    assert_same_replica,
    mixed_fault_list,
)

from dnnfi.engines.devices import DeviceError
from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.kerasfi.models import use_device
from dnnfi.engines.kerasfi.weights import WeightInjector

GPU = bool(tf.config.list_physical_devices("GPU"))


@pytest.fixture(scope="module")
def model_and_faults(images16):
    model = zoo()
    return model, mixed_fault_list(KerasInjector(model).sites(), 5, len(images16), 100, 20)


@pytest.mark.skipif(GPU, reason="checks the CPU fallback: this machine has a GPU")
def test_cpu_and_auto_give_the_default_results(model_and_faults, images16, caplog):
    model, faults = model_and_faults
    reference = KerasInjector(model, batch_size=64).logits(faults, images16, progress=False)
    for device in ("cpu", "auto"):
        injector = KerasInjector(model, batch_size=64, device=device)
        assert injector.device == "/CPU:0"
        assert_identical(
            reference, injector.logits(faults, images16, progress=False), f"device={device}"
        )
    assert_same_replica(
        WeightInjector(model), WeightInjector(model, device="cpu"), images16, rate=0.05
    )
    with caplog.at_level(logging.INFO, logger="dnnfi"):
        assert use_device("auto", "device") == "/CPU:0"
    assert "TensorFlow device /CPU:0 (config key device: auto)" in caplog.text


@pytest.mark.skipif(GPU, reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_refused_in_one_line(model_and_faults):
    model, _ = model_and_faults
    counted = "TensorFlow (tf.config.list_physical_devices('GPU'))"
    if (
        not tf.test.is_built_with_cuda()
    ):  # tensorflow-cpu (requirements.txt): the message says what to install
        counted = (
            "TensorFlow, a build without CUDA here (tensorflow-cpu; GPU jobs need TensorFlow's CUDA build: "
            "make run GPU=1, config key python.keras or conda_envs: gpu),"
        )
    assert_refused_without_gpu(KerasInjector, WeightInjector, model, counted)
    with pytest.raises(DeviceError, match="^config key models.k.device: unknown device 'cuda:'"):
        use_device("cuda:", "models.k.device")


@pytest.mark.skipif(not GPU, reason="needs a GPU")
def test_gpu_results_are_deterministic_and_batch_independent(model_and_faults, images16):
    model, faults = model_and_faults
    injector = KerasInjector(model, batch_size=64, device="cuda")
    assert injector.device == "/GPU:0"
    reference = injector.logits(faults, images16, progress=False)
    assert_identical(
        reference, injector.logits(faults, images16, progress=False), "rerun on the GPU"
    )
    alone = KerasInjector(model, batch_size=1, device="cuda").logits(
        faults.iloc[:40], images16, progress=False
    )
    assert_identical(tuple(r[:40] for r in reference), alone, "batch size 1 vs 64 on the GPU")
