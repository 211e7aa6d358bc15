"""PyTorch architectures of the project, torchvision models, training, loading and evaluation."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dnnfi.engines import devices
from dnnfi.engines.devices import resolve
from dnnfi.engines.health import key_prefix, missing_file, unreadable
from dnnfi.engines.zoo import unknown_name
from dnnfi.workflow.runlog import Progress

log = logging.getLogger(__name__)


def digits_mlp(in_channels=1, classes=10, size=8):
    """Two hidden layers on flattened 8x8 digits."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_channels * size * size, 64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, classes),
    )


def digits_cnn(in_channels=1, classes=10, size=8):
    """Two convolutions, a pooling step and a linear classifier for 8x8 digits."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (size // 2) ** 2, classes),
    )


def _cifar_resnet(depth):
    from dnnfi.engines.torchfi.cifar import cifar_resnet

    return lambda in_channels, classes, size: cifar_resnet(depth, classes, in_channels)


ARCHITECTURES = {"digits_mlp": digits_mlp, "digits_cnn": digits_cnn} | {
    f"resnet{d}_cifar": _cifar_resnet(d) for d in (20, 32, 44, 56)
}


def read_checkpoint(path: str | Path, expected: str, key: str | None = None):
    """``torch.load`` of a local file (tensors only, onto the CPU). A missing or unreadable file
    stops with one line naming ``key`` (the config key, when known), the path and ``expected``."""
    path = Path(path)
    if not path.is_file():
        raise missing_file(key, path, expected)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (
        Exception
    ) as err:  # a truncated or foreign file fails in many ways: EOFError, OSError, KeyError, ...
        raise unreadable(key, path, "PyTorch checkpoint", expected, err) from err


def load_state(
    model: nn.Module,
    state: dict,
    path: str | Path,
    expected: str,
    key: str | None = None,
    strict: bool = True,
):
    """``model.load_state_dict(state)``; missing or unexpected keys and shape mismatches as one
    line naming the file ``state`` came from (see :func:`read_checkpoint`)."""
    try:
        return model.load_state_dict(state, strict=strict)
    except (RuntimeError, TypeError) as err:  # mismatched keys or shapes; TypeError: not a dict
        raise unreadable(key, path, "PyTorch checkpoint", expected, err) from err


def torchvision_model(
    name: str, weights: str | Path | None = None, key: str | None = None, classes: int = 1000
) -> nn.Module:
    """A torchvision classifier (e.g. ``vgg19``, ``resnet50``, ``inception_v3``) in eval mode.

    ``weights``: None (random initialization), a torchvision weights name such as ``"DEFAULT"``
    or ``"IMAGENET1K_V1"`` (downloaded by torchvision: needs a network), or the path of a local
    state dict file (e.g. a copy of torchvision's download). InceptionV3 with ImageNet weights
    is built as torchvision does (``transform_input=True``, auxiliary head present, unused in eval).
    ``key``: the config key of ``weights``, for error messages. ``classes``: outputs of a randomly
    initialized classifier (ImageNet weights have 1000).
    """
    import torchvision

    classifiers = torchvision.models.list_models(module=torchvision.models)
    if name not in classifiers:
        raise ValueError(unknown_name("torchvision classifier", name, classifiers))
    local = weights is not None and (
        Path(weights).suffix in (".pth", ".pt", ".th") or Path(weights).exists()
    )
    if weights is None:
        return torchvision.models.get_model(name, weights=None, num_classes=classes).eval()
    if not local:
        return torchvision.models.get_model(name, weights=weights).eval()
    expected = f"a torch.save state dict of torchvision's {name}"
    state = read_checkpoint(weights, expected, key)
    model = torchvision.models.get_model(name, weights=None, **pretrained_build_options(name))
    load_state(
        model,
        state.get("state_dict", state) if isinstance(state, dict) else state,
        weights,
        expected,
        key,
    )
    return model.eval()


def pretrained_build_options(name: str) -> dict:
    """Constructor options torchvision uses for a classifier with ImageNet weights."""
    return (
        {"aux_logits": True, "init_weights": False, "transform_input": True}
        if name == "inception_v3"
        else {}
    )


TORCHVISION_PREFIX = "torchvision:"


def fetch(
    source: str, architecture: str, weights: str | Path | None, classes: int, key: str | None = None
) -> nn.Module:
    """A model from a config's ``source``: ``torchvision`` (``weights``: a torchvision weights name,
    a local file or None) or ``file`` (``weights``: a CIFAR ResNet checkpoint such as
    ``resnet20-cifar10-12fca82f.th`` for a ``resnet*_cifar`` architecture). ``key``: the config
    key of ``weights``, for error messages."""
    if source == "torchvision":
        return torchvision_model(architecture, weights, key, classes)
    if source == "file" and architecture.endswith("_cifar") and architecture.startswith("resnet"):
        from dnnfi.engines.torchfi.cifar import load_cifar_resnet

        model = load_cifar_resnet(weights, classes, key)
        depth = len(model.layer1) * 6 + 2
        if f"resnet{depth}_cifar" != architecture:
            raise ValueError(
                f"{key_prefix(key)}{weights} holds a ResNet-{depth}, not the configured {architecture}"
            )
        return model
    raise ValueError(
        f"cannot fetch {architecture!r} from source {source!r}: use torchvision or a resnet*_cifar file"
    )


def build(architecture: str, input_shape, classes: int, pretrained: bool = False) -> nn.Module:
    """A fresh model; ``input_shape`` is (height, width, channels) as stored by the data rule.
    ``torchvision:<name>`` builds a torchvision classifier (with the layout of its ImageNet
    weights when ``pretrained``)."""
    if architecture.startswith(TORCHVISION_PREFIX):
        import torchvision

        name = architecture.removeprefix(TORCHVISION_PREFIX)
        options = pretrained_build_options(name) if pretrained else {}
        return torchvision.models.get_model(name, weights=None, num_classes=classes, **options)
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown PyTorch architecture {architecture!r}: expected one of {sorted(ARCHITECTURES)}"
        )
    height, _, channels = input_shape
    return ARCHITECTURES[architecture](channels, classes, height)


def use_device(
    device: str | torch.device = "auto", key: str | None = None, strict: bool = True
) -> torch.device:
    """The torch.device of a ``device`` setting (:func:`dnnfi.engines.devices.resolve`: one line naming
    ``key`` when PyTorch sees no such GPU; logged when ``key`` is given). On a GPU it first makes
    the process's kernels deterministic and fp32 exact (docs/semantics.md, section 15);
    ``strict=False`` (training) warns instead of failing on an op without a deterministic kernel."""
    name = resolve(
        str(device), torch.cuda.device_count(), "PyTorch (torch.cuda.device_count())", key
    )
    if name != "cpu":
        # read when cuBLAS starts (the first matmul): with it cuBLAS reduces in a fixed order
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=not strict)
        torch.backends.cudnn.benchmark = False  # the same convolution algorithm in every pass
        torch.backends.cudnn.deterministic = True
        # fp32 stays fp32: TF32 would round a flipped low mantissa bit away in the next layer
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        torch.backends.cudnn.conv.fp32_precision = "ieee"
    if key:  # a job's log says where it ran
        what = torch.cuda.get_device_name(name) if name != "cpu" else "CPU"
        log.info("PyTorch device %s, %s (config key %s: %s)", name, what, key, device)
    return torch.device(name)


def place(model: nn.Module, device: str | torch.device | None = None) -> torch.device:
    """Move ``model`` to a ``device`` setting (:func:`use_device`; None leaves it where it is);
    returns the device its parameters are on (the CPU for a model without any)."""
    if device is not None:
        target = use_device(device)
        model.to(target)
        return target
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """NHWC float array (as stored by the data rule) -> NCHW float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1), dtype=np.float32))


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    augment: bool = False,
):
    """Adam on cross-entropy, on the device of the model's parameters; returns the per-epoch
    mean training loss. ``augment`` (config key ``train.augment``) is Keras' only."""
    if augment:
        raise ValueError("train.augment: only Keras training augments its batches")
    torch.manual_seed(seed)
    device = place(model)
    data = torch.utils.data.TensorDataset(to_tensor(x), torch.from_numpy(y.astype(np.int64)))
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    model.train()
    epochs_done = Progress(
        range(epochs), desc="epochs", mininterval=0
    )  # a line per epoch, with its loss
    for _ in epochs_done:
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        losses.append(total / len(data))
        epochs_done.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    model.eval()
    return losses


def trained(spec: dict, split, seed: int, device: dict) -> nn.Module:
    """A new model of a config's ``spec`` (architecture, preprocess, train) trained on ``split`` (a
    :class:`dnnfi.data.datasets.Split`) on ``device`` (:func:`use_device`, not strict: training
    may use a nondeterministic kernel); ``seed`` fixes the initial weights and the training (the
    train rule)."""
    from dnnfi.data.preprocess import preprocess

    target = use_device(**device, strict=False)
    torch.manual_seed(seed)  # the initial weights too (drawn on the CPU, then moved)
    shape = split.x.shape[1:]
    model = build(spec["architecture"], shape, len(split.classes)).to(target)
    losses = train(
        model, preprocess(split.x, spec["preprocess"]), split.y, seed=seed, **spec["train"]
    )
    log.info("training loss per epoch: %s", [round(v, 4) for v in losses])
    return model


def fetched(spec: dict, input_shape, classes: int, key: str) -> tuple[nn.Module, str, bool]:
    """(model, architecture, pretrained) of a config's ``spec`` of source ``torchvision`` or
    ``file`` (:func:`fetch`) for ``classes``: what :func:`save` needs to rebuild it; ``key``: the
    config key of its weights (``path`` wins over ``weights``). ``input_shape`` is unused (a
    PyTorch module takes any), as in Keras' :func:`dnnfi.engines.kerasfi.models.fetched`."""
    weights = spec.get("path", spec["weights"])
    model = fetch(spec["source"], spec["architecture"], weights, classes, key)
    log.info(
        "%s from %s: %d parameters",
        spec["architecture"],
        weights,
        sum(p.numel() for p in model.parameters()),
    )
    if spec["source"] != "torchvision":
        return model, spec["architecture"], False
    return model, TORCHVISION_PREFIX + spec["architecture"], weights is not None


def save(
    model: nn.Module,
    architecture: str,
    input_shape,
    classes: int,
    path: str | Path,
    pretrained: bool = False,
) -> None:
    """Save weights with what is needed to rebuild the model (see :func:`build`), and the size of
    its layer outputs for the resources of its jobs (:func:`dnnfi.workflow.resources.write_layer_outputs`)."""
    from dnnfi.workflow.resources import write_layer_outputs

    torch.save(
        {
            "architecture": architecture,
            "input_shape": list(input_shape),
            "classes": classes,
            "pretrained": pretrained,
            "state_dict": model.state_dict(),
        },
        path,
    )
    write_layer_outputs(path, layer_output_sizes(model, input_shape))


def layer_output_sizes(model: nn.Module, input_shape) -> list[int]:
    """Elements of the output of every leaf module call for one image of ``input_shape`` (H, W, C)."""
    sizes, training = [], model.training

    def count(module, inputs, output):
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel())

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    param = next(model.parameters())
    height, width, channels = input_shape
    try:
        with torch.no_grad():
            model.eval()(
                torch.zeros(1, channels, height, width, device=param.device, dtype=param.dtype)
            )
    finally:
        model.train(training)
        for hook in hooks:
            hook.remove()
    return sizes


SAVED_FIELDS = ("architecture", "input_shape", "classes", "state_dict")


def load(path: str | Path, key: str | None = None, precision: str = "float32") -> nn.Module:
    """Rebuild a model saved by :func:`save`, in eval mode and in ``precision`` (see
    :func:`with_precision`); ``key``: the config key that names the model, for error messages."""
    expected = f"a torch.save dict of {', '.join(SAVED_FIELDS)} written by the train or fetch rule"
    spec = read_checkpoint(path, expected, key)
    lacking = (
        [f for f in SAVED_FIELDS if f not in spec] if isinstance(spec, dict) else list(SAVED_FIELDS)
    )
    if lacking:
        raise unreadable(
            key, path, "dnnfi PyTorch model", expected, f"it has no {', '.join(lacking)}"
        )
    model = build(
        spec["architecture"], spec["input_shape"], spec["classes"], spec.get("pretrained", False)
    )
    load_state(model, spec["state_dict"], path, f"the state dict of a {spec['architecture']}", key)
    return with_precision(model.eval(), precision)


def with_precision(model: nn.Module, precision: str) -> nn.Module:
    """``model`` with every floating-point parameter and buffer in ``precision`` (docs/semantics.md
    section 14), rounded to nearest (ties to even) by ``Module.to``; its injectors and
    :func:`predict_logits` cast the inputs to the parameters' dtype, so each layer computes and
    outputs the format (inside a layer a kernel may accumulate wider, as PyTorch's float32
    "opmath" for half formats and accelerators do, and rounds its output to the format)."""
    from dnnfi.faults.precision import check_precision

    return model.to(getattr(torch, check_precision(precision)))


def named_tensors(model: nn.Module):
    """(name, array) of every floating-point parameter and buffer (e.g. BatchNorm's running_var)
    in model order, one at a time, for :func:`dnnfi.engines.health.first_nonfinite`."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            # numpy has no bfloat16; float32 holds each bfloat16 value exactly
            tensor = tensor.detach().cpu()
            yield name, (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def rows_for(model: nn.Module, pass_rows: dict | None = None) -> int:
    """Rows of every pass of ``model`` on the device of its parameters, from ``pass_rows`` (the
    config key ``pass_rows.torch``; None: :data:`dnnfi.engines.devices.PASS_ROWS`)."""
    param = next(model.parameters(), None)
    return devices.pass_rows(
        "torch", "cpu" if param is None or param.device.type == "cpu" else "cuda", pass_rows
    )


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: np.ndarray, pass_rows: dict | None = None, progress: bool = True
) -> np.ndarray:
    """Model outputs for NHWC ``x``, shape (n, classes), float32, computed in passes of the rows
    of ``pass_rows`` (:func:`rows_for`; the last one padded), the engines' fault-free path."""
    rows = rows_for(model, pass_rows)
    param = next(model.parameters())
    out = []
    for i in Progress(range(0, len(x), rows), desc="passes", disable=not progress):
        part = to_tensor(x[i : i + rows]).to(
            param.device, param.dtype if param.is_floating_point() else torch.float32
        )
        padded = torch.cat([part, part[:1].expand(rows - len(part), *part.shape[1:])])
        out.append(model(padded)[: len(part)].float().cpu().numpy())
    return np.concatenate(out)
