"""The shared device tests (tests/engines/devices.py) on the Keras engine: the zoo graph; ``cuda``
without a GPU names the CUDA build where TensorFlow is tensorflow-cpu."""

import pytest
import tensorflow as tf
from conftest import zoo
from engines.devices import *  # noqa: F403 (the shared tests)
from engines.devices import Devices, faults_for

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.kerasfi.models import predict_logits, use_device
from dnnfi.engines.kerasfi.weights import WeightInjector


@pytest.fixture(scope="module")
def fw(images16):
    model = zoo()
    counted = "TensorFlow (tf.config.list_physical_devices('GPU'))"
    if not tf.test.is_built_with_cuda():  # tensorflow-cpu (requirements.txt): says what to install
        counted = (
            "TensorFlow, a build without CUDA here (tensorflow-cpu; GPU jobs need TensorFlow's CUDA build: "
            "make run GPU=1, config key python.keras or conda_envs: gpu),"
        )
    return Devices(
        injector=KerasInjector,
        weight_injector=WeightInjector,
        model=model,
        images=images16,
        faults=faults_for(KerasInjector(model).sites(), 5, len(images16)),
        predict_logits=predict_logits,
        use_device=use_device,
        gpu=bool(tf.config.list_physical_devices("GPU")),
        cpu_device="/CPU:0",
        gpu_device="/GPU:0",
        cpu_log="TensorFlow device /CPU:0",
        counted=counted,
        bad_device="cuda:",
        replica_rate=0.05,
    )
