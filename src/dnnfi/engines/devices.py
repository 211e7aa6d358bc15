"""The ``device`` setting (config/README.md; docs/semantics.md, section 15), framework-free.

``auto`` is the first GPU the framework sees (the job's GPU: SLURM and ``CUDA_VISIBLE_DEVICES``
number a job's GPUs from 0), else the CPU; ``cpu``; ``cuda`` (= ``cuda:0``) or ``cuda:N``, which
stop with one line naming the config key where the framework sees no such GPU. The frameworks
only count their GPUs: :func:`dnnfi.engines.torchfi.models.use_device`, :func:`dnnfi.engines.kerasfi.models.use_device`.
"""

from __future__ import annotations

import re

#: values of the ``device`` setting (the config schema has the same pattern)
DEVICE = re.compile(r"auto|cpu|cuda|cuda:[0-9]+")

#: Rows of every forward pass an engine runs (golden and faulty, prefix and downstream, weight
#: replicas, baselines), per framework and device kind; the config key ``pass_rows`` sets them
#: (the schema's defaults are these). Smaller batches are padded with copies of a row. CPU and GPU
#: kernels round differently by batch shape, while at one shape a row's result depends on that row
#: alone: so a fault's logits and outcome cannot depend on batch_size, on the other faults in its
#: list or on the shard layout (docs/semantics.md, section 4). CPU: as measured on 2 cores. Keras:
#: a TensorFlow call costs more than its padding on small models (ResNet-8 per injection: 0.52-0.55
#: ms at 128 rows, 0.62-0.75 at 64, 0.78 at 32), a pass's transient tensors cost time and memory on
#: large ones (ResNet50 at 224 px: 19.4-20.2 ms and a 5.0 GB peak at 128 rows, 16.8-17.8 ms and
#: 4.0 GB at 64, 17.1 ms and 3.7 GB at 32): 64 rows keep a 224-px ResNet50 within 4 GB. PyTorch's
#: padding costs more than its calls (ResNet-20: 0.39 ms at 16, 0.87 at 64). GPU: enough rows to
#: keep a GPU's cores busy on a 224-px ResNet50 (not measured here).
PASS_ROWS = {"keras": {"cpu": 64, "gpu": 512}, "torch": {"cpu": 16, "gpu": 256}}


class DeviceError(ValueError):
    """A device setting this machine cannot honour; the message is one line naming the key."""


def setting(config: dict, model: str) -> dict:
    """A model's ``device`` and the config key it comes from (the model's own, else the top level)."""
    spec = config["models"][model]
    if "device" in spec:
        return {"device": spec["device"], "key": f"models.{model}.device"}
    return {"device": config.get("device", "auto"), "key": "device"}


def needs_gpu(device: str) -> bool:
    """Whether a job must be given a GPU (the rules' ``gpu`` resource): ``cuda`` and ``cuda:N``.
    ``auto`` takes whatever the job was given and asks for nothing."""
    return device.startswith("cuda")


def pass_rows(framework: str, device: str, setting: dict | None = None) -> int:
    """Rows of every pass of ``framework`` on a resolved ``device`` (``cpu`` or ``cuda:N``):
    ``setting`` (the config's ``pass_rows.<framework>``: ``cpu`` and ``gpu``), else the defaults."""
    return (setting or PASS_ROWS[framework])["cpu" if device == "cpu" else "gpu"]


def resolve(device: str, gpus: int, framework: str, key: str | None = None) -> str:
    """``cpu`` or ``cuda:N`` for ``device`` on a machine where the framework sees ``gpus`` GPUs
    (``framework``: its name and the call that counted them, for the message)."""
    where = f"config key {key}: " if key else ""
    if not DEVICE.fullmatch(device):
        raise DeviceError(f"{where}unknown device {device!r}, expected auto, cpu, cuda or cuda:N")
    if device == "cpu" or (device == "auto" and not gpus):
        return "cpu"
    index = int(device.partition(":")[2] or 0)
    if index >= gpus:
        seen = f"{gpus} GPU{'s' if gpus > 1 else ''} (up to cuda:{gpus - 1})" if gpus else "no GPU"
        raise DeviceError(
            f"{where}device {device} requested, but {framework} sees {seen} on this machine; "
            "expected auto or cpu here, or a job on a GPU node"
        )
    return f"cuda:{index}"
