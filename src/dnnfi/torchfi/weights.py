"""Failure-rate weight faults (Rojas et al.): corrupt round(frate x N) weights, evaluate, restore.

N is the number of elements of the chosen parameter tensors (default: weights of convolution and
linear layers; options: their biases, normalization layers' scale and shift). Locations are
drawn uniformly without replacement over all of them at once (one flat index space across
tensors), vectorized. Perturbations:

- ``zero``: the weight becomes 0;
- ``random``: a new value drawn from ``distribution``: ``layer_uniform`` (default, uniform within
  the owning tensor's own [min, max] before the fault), ``layer_normal`` (normal with that
  tensor's mean and std), ``uniform`` (uniform within ``value_range``);
- ``bitflip``: one IEEE-754 bit of the weight flipped, uniform over the format's bits or over ``bits``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from dnnfi.bitflip import flip_bits, n_bits
from dnnfi.torchfi.faultops import format_name, to_numpy
from dnnfi.torchfi.models import to_tensor

PERTURBATIONS = ("zero", "random", "bitflip")
DISTRIBUTIONS = ("layer_uniform", "layer_normal", "uniform")
LAYER_TYPES = {"conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d), "linear": (nn.Linear,)}
NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def weight_tensors(model: nn.Module, layer_types=("conv", "linear"), biases: bool = False,
                   normalization: bool = False) -> dict[str, torch.Tensor]:
    """Parameter tensors that can be faulted, by parameter name, in module order.

    ``layer_types``: weights of these layer kinds (keys of :data:`LAYER_TYPES`); ``biases``: their
    biases too; ``normalization``: scale and shift of batch/layer/group/instance norm layers.
    """
    unknown = set(layer_types) - set(LAYER_TYPES)
    if unknown:
        raise ValueError(f"unknown layer types {sorted(unknown)}: expected some of {sorted(LAYER_TYPES)}")
    classes = tuple(c for t in layer_types for c in LAYER_TYPES[t])
    out = {}
    for name, m in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(m, classes):
            out[prefix + "weight"] = m.weight
            if biases and m.bias is not None:
                out[prefix + "bias"] = m.bias
        elif normalization and isinstance(m, NORM_TYPES):
            out.update({prefix + p: getattr(m, p) for p in ("weight", "bias") if getattr(m, p, None) is not None})
    return out


@dataclass
class WeightFaults:
    """One replica's faults: parameter name, flat index within it, and the new value."""

    param: np.ndarray  #: parameter name per fault, (k,) object
    index: np.ndarray  #: flat index within the parameter (C order), (k,) int64
    value: np.ndarray  #: new value, (k,) float32 (exact for fp16/bf16 parameters too)
    bit: np.ndarray = field(default=None)  #: flipped bit per fault for ``bitflip``, else -1; (k,) int64

    def __post_init__(self):
        if self.bit is None:
            self.bit = np.full(len(self.index), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def to_frame(self) -> pd.DataFrame:
        """The faults as a table (columns param, index, value, bit) for storage next to results."""
        return pd.DataFrame({"param": self.param, "index": self.index, "value": self.value, "bit": self.bit})


def draw(tensors: dict[str, torch.Tensor], frate: float, perturbation: str, rng: np.random.Generator, *,
         distribution: str = "layer_uniform", value_range: tuple[float, float] | None = None,
         bits=None) -> WeightFaults:
    """Draw round(frate x total) distinct locations over ``tensors`` and their new values.

    ``distribution``/``value_range`` configure ``random``; ``bits`` restricts ``bitflip`` positions.
    """
    if perturbation not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {perturbation!r}: expected one of {PERTURBATIONS}")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown random distribution {distribution!r}: expected one of {DISTRIBUTIONS}")
    if not 0 <= frate <= 1:
        raise ValueError(f"frate must lie in [0, 1], got {frate}")
    if not tensors:
        raise ValueError("no parameter tensor to fault (check layer_types)")
    names = list(tensors)
    sizes = np.array([tensors[n].numel() for n in names], dtype=np.int64)
    ends = np.cumsum(sizes)
    count = int(round(frate * ends[-1]))
    flat = np.sort(rng.choice(ends[-1], size=count, replace=False))
    which = np.searchsorted(ends, flat, side="right")
    index = flat - (ends - sizes)[which]
    param = np.array(names, dtype=object)[which]
    bit = np.full(count, -1, dtype=np.int64)
    if perturbation == "zero":
        value = np.zeros(count, dtype=np.float32)
    elif perturbation == "random":
        value = _random_values(tensors, names, which, rng, distribution, value_range)
    else:
        value, bit = _flipped_values(tensors, names, which, index, rng, bits)
    return WeightFaults(param, index, value, bit)


def _stats(tensors, names, which, op) -> np.ndarray:
    """Per-fault statistic of its tensor (computed once per tensor that has faults)."""
    stat = np.zeros(len(names))
    for i in np.unique(which):
        stat[i] = op(tensors[names[i]].detach().float()).item()
    return stat[which]


def _random_values(tensors, names, which, rng, distribution, value_range) -> np.ndarray:
    count = len(which)
    if distribution == "uniform":
        if value_range is None or value_range[0] > value_range[1]:
            raise ValueError(f"distribution 'uniform' needs value_range=(low, high), got {value_range}")
        lo, hi = np.full(count, value_range[0]), np.full(count, value_range[1])
        return (lo + rng.random(count) * (hi - lo)).astype(np.float32)
    if distribution == "layer_uniform":
        lo, hi = _stats(tensors, names, which, torch.min), _stats(tensors, names, which, torch.max)
        return (lo + rng.random(count) * (hi - lo)).astype(np.float32)
    mean, std = _stats(tensors, names, which, torch.mean), _stats(tensors, names, which, torch.std)
    return rng.normal(mean, std).astype(np.float32)


def _flipped_values(tensors, names, which, index, rng, bits) -> tuple[np.ndarray, np.ndarray]:
    value = np.zeros(len(which), dtype=np.float32)
    bit = np.zeros(len(which), dtype=np.int64)
    for i in np.unique(which):
        rows = which == i
        t = tensors[names[i]].detach()
        width = n_bits(format_name(t.dtype))
        chosen = (rng.random(rows.sum()) * width).astype(np.int64) if bits is None else \
            np.asarray(bits, dtype=np.int64)[rng.integers(0, len(bits), rows.sum())]
        original = to_numpy(t.reshape(-1)[torch.as_tensor(index[rows], device=t.device)])
        value[rows], bit[rows] = flip_bits(original, chosen).astype(np.float32), chosen
    return value, bit


@contextmanager
@torch.no_grad()
def applied(tensors: dict[str, torch.Tensor], faults: WeightFaults):
    """Set the faulty weights for the ``with`` block, then restore the originals bit-exactly."""
    inverse, names = pd.factorize(faults.param)  # 4x faster than np.unique on the name strings
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
    saved = []
    try:
        for k, name in enumerate(names):
            if name not in tensors:
                raise KeyError(f"weight faults name parameter {name!r}, not among the chosen tensors")
            rows = order[bounds[k] : bounds[k + 1]]
            t = tensors[name]
            new = torch.as_tensor(faults.value[rows], device=t.device).to(t.dtype)
            if t.is_contiguous():  # index_select/index_copy_ on the flat view: fast on huge tensors
                flat, idx = t.view(-1), torch.as_tensor(faults.index[rows], device=t.device)
                saved.append((flat.index_copy_, (0, idx, flat.index_select(0, idx))))
                flat.index_copy_(0, idx, new)
            else:  # any strides (e.g. channels_last): unravelled C-order indices
                where = tuple(torch.as_tensor(a, device=t.device) for a in np.unravel_index(faults.index[rows], t.shape))
                saved.append((t.index_put_, (where, t[where].clone())))
                t.index_put_(where, new)
        yield
    finally:
        for restore, args in reversed(saved):
            restore(*args)


@torch.no_grad()
def top_errors(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> tuple[float, float]:
    """(top-1 error, top-5 error) as fractions on NHWC ``images`` with integer ``labels``."""
    param = next(model.parameters())
    wrong1 = wrong5 = 0
    labels = torch.as_tensor(np.asarray(labels))
    for i in range(0, len(images), batch_size):
        logits = model(to_tensor(images[i : i + batch_size]).to(param.device, param.dtype)).float().cpu()
        y = labels[i : i + batch_size]
        top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
        wrong1 += int((top5[:, 0] != y).sum())
        wrong5 += int((top5 != y[:, None]).all(dim=1).sum())
    return wrong1 / len(images), wrong5 / len(images)


def evaluate_replica(model: nn.Module, tensors: dict[str, torch.Tensor], faults: WeightFaults,
                     images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> dict:
    """Top-1/top-5 error of ``model`` with ``faults`` applied (weights restored afterwards)."""
    with applied(tensors, faults):
        top1, top5 = top_errors(model.eval(), images, labels, batch_size)
    return {"n_faults": len(faults), "top1_error": top1, "top5_error": top5}


def run_replicas(model: nn.Module, images: np.ndarray, labels: np.ndarray, frate: float, perturbation: str,
                 rngs, *, layer_types=("conv", "linear"), biases: bool = False, normalization: bool = False,
                 batch_size: int = 256, progress: bool = True, **draw_options) -> pd.DataFrame:
    """One row per replica (one independent draw per generator in ``rngs``, same images):
    replica, n_faults, top1_error, top5_error. ``draw_options`` go to :func:`draw`."""
    from tqdm.auto import tqdm

    tensors = weight_tensors(model, layer_types, biases, normalization)
    rows = []
    for replica, rng in enumerate(tqdm(list(rngs), desc="replicas", disable=not progress)):
        faults = draw(tensors, frate, perturbation, rng, **draw_options)
        rows.append({"replica": replica, **evaluate_replica(model, tensors, faults, images, labels, batch_size)})
    return pd.DataFrame(rows)
