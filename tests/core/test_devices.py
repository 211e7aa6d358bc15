"""The `device` setting without a framework: resolution for a GPU count, the key a model's jobs
name, the `gpu` resource rule, schema errors, and the GPU install variants' pins."""

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dnnfi.engines.devices import DEVICE, DeviceError, needs_gpu, resolve, setting
from dnnfi.workflow import config as C

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
TORCH = "PyTorch (torch.cuda.device_count())"


@pytest.mark.parametrize(
    "device, gpus, expected",
    [
        ("auto", 0, "cpu"),
        ("auto", 2, "cuda:0"),
        ("cpu", 0, "cpu"),
        ("cpu", 2, "cpu"),
        ("cuda", 1, "cuda:0"),
        ("cuda:0", 1, "cuda:0"),
        ("cuda:1", 2, "cuda:1"),
        ("cuda:10", 11, "cuda:10"),
    ],
)
def test_resolve(device, gpus, expected):
    assert resolve(device, gpus, TORCH) == expected


def test_a_gpu_the_machine_lacks_is_one_line_naming_the_key():
    with pytest.raises(DeviceError) as info:
        resolve("cuda", 0, TORCH, "models.m.device")
    assert str(info.value) == (
        "config key models.m.device: device cuda requested, but PyTorch (torch.cuda.device_count()) sees no GPU "
        "on this machine; expected auto or cpu here, or a job on a GPU node"
    )
    with pytest.raises(
        DeviceError,
        match=r"^config key device: device cuda:2 requested, but TF sees 2 GPUs "
        r"\(up to cuda:1\) on this machine;",
    ):
        resolve("cuda:2", 2, "TF", "device")
    with pytest.raises(
        DeviceError, match=r"^device cuda:1 requested, but TF sees 1 GPU \(up to cuda:0\)"
    ):
        resolve("cuda:1", 1, "TF")  # the API: no config key


@pytest.mark.parametrize("bad", ["gpu", "CUDA", "cuda:", "cuda0", "cuda:-1", "cuda:1 ", "mps", ""])
def test_unknown_devices_are_refused(bad):
    with pytest.raises(
        DeviceError,
        match=f"^config key device: unknown device {re.escape(repr(bad))}, "
        "expected auto, cpu, cuda or cuda:N$",
    ):
        resolve(bad, 4, TORCH, "device")


def test_a_model_setting_overrides_the_top_level_and_names_its_key():
    config = {"device": "cpu", "models": {"a": {}, "b": {"device": "cuda:1"}}}
    assert setting(config, "a") == {"device": "cpu", "key": "device"}
    assert setting(config, "b") == {"device": "cuda:1", "key": "models.b.device"}
    assert setting({"models": {"a": {}}}, "a") == {"device": "auto", "key": "device"}


def test_only_explicit_cuda_asks_for_a_gpu():
    assert [needs_gpu(d) for d in ("auto", "cpu", "cuda", "cuda:3")] == [False, False, True, True]


def test_schema_accepts_what_the_resolver_accepts():
    schema = C.load_schema()
    top, model = (
        schema["properties"]["device"],
        schema["properties"]["models"]["additionalProperties"],
    )
    assert top["pattern"] == model["properties"]["device"]["pattern"] == f"^({DEVICE.pattern})$"
    # a model default would hide the top level
    assert top["default"] == "auto" and "default" not in model["properties"]["device"]


def check(edit) -> dict:
    config = copy.deepcopy(DEMO)
    edit(config)
    C.check(config)
    return config


def test_bad_device_values_are_one_line_naming_the_key():
    for edit, key in (
        (lambda c: c.update(device="gpu"), "device"),
        (lambda c: c["models"]["torch_mlp"].update(device="cuda:x"), "models.torch_mlp.device"),
    ):
        with pytest.raises(C.ConfigError) as info:
            check(edit)
        value = "gpu" if key == "device" else "cuda:x"
        assert (
            str(info.value)
            == f"config key {key}: expected pattern ^(auto|cpu|cuda|cuda:[0-9]+)$, got {value!r}"
        )
    config = check(lambda c: c["models"]["torch_mlp"].update(device="cuda:1"))
    assert config["device"] == "auto" and config["conda_envs"] == "cpu"
    assert (
        "device" not in config["models"]["torch_cnn"]
    )  # a model without its own device follows the top level


def test_import_loads_no_framework():
    code = (
        "import sys, dnnfi.engines.devices; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'torch', 'keras')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def pins(path: str) -> list[str]:
    """The pinned lines of a requirements or env file, comments dropped."""
    lines = [line.split("#")[0].strip(" -") for line in (REPO / path).read_text().splitlines()]
    return [line for line in lines if "=" in line]


def test_gpu_variants_are_the_cpu_pins_with_tensorflow_cuda_and_its_libraries_without_torch():
    cuda = [p for p in pins("requirements-gpu.txt") if p.startswith("nvidia-")]
    assert len(cuda) == 12 and all(p.endswith("-cu12") for p in (p.split("==")[0] for p in cuda))
    for cpu, gpu in (
        ("requirements.txt", "requirements-gpu.txt"),
        ("envs/tensorflow.yaml", "envs/tensorflow-gpu.yaml"),
    ):
        # without PyTorch: its CUDA 13 wheels would overwrite cuDNN and NCCL of CUDA 12 (tests/core/test_env_files.py)
        swapped = [
            p.replace("tensorflow-cpu==", "tensorflow[and-cuda]==")
            for p in pins(cpu)
            if not p.startswith("torch")
        ]
        assert [p for p in pins(gpu) if not p.startswith("nvidia-")] == swapped
        assert [p for p in pins(gpu) if p.startswith("nvidia-")] == cuda
        assert "tensorflow[and-cuda]==2.21.0" in swapped
