"""Failure-rate weight faults (Rojas et al.): corrupt round(frate x N) weights, evaluate, restore.

N is the number of weights of the chosen layer types. Locations are drawn uniformly without
replacement over all of them at once (one flat index space across layers), vectorized.
Perturbations: ``zero``; ``random`` = uniform within the owning layer's own [min, max] of that
parameter tensor before the fault.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

PERTURBATIONS = ("zero", "random")
LAYER_TYPES = {"conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d), "linear": (nn.Linear,)}


def weight_tensors(model: nn.Module, layer_types=("conv", "linear")) -> dict[str, torch.Tensor]:
    """Weight tensors of the chosen layer types by parameter name, in module order."""
    unknown = set(layer_types) - set(LAYER_TYPES)
    if unknown:
        raise ValueError(f"unknown layer types {sorted(unknown)}: expected some of {sorted(LAYER_TYPES)}")
    classes = tuple(c for t in layer_types for c in LAYER_TYPES[t])
    return {f"{name}.weight" if name else "weight": m.weight for name, m in model.named_modules() if isinstance(m, classes)}


@dataclass
class WeightFaults:
    """One replica's faults: parameter name, flat index within it, and the new value."""

    param: np.ndarray  #: parameter name per fault, (k,) object
    index: np.ndarray  #: flat index within the parameter, (k,) int64
    value: np.ndarray  #: new value, (k,) float32

    def __len__(self) -> int:
        return len(self.index)


def draw(tensors: dict[str, torch.Tensor], frate: float, perturbation: str, rng: np.random.Generator) -> WeightFaults:
    """Draw round(frate x total) distinct weight locations and their new values."""
    if perturbation not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {perturbation!r}: expected one of {PERTURBATIONS}")
    names = list(tensors)
    sizes = np.array([tensors[n].numel() for n in names], dtype=np.int64)
    total = int(sizes.sum())
    count = int(round(frate * total))
    flat = np.sort(rng.choice(total, size=count, replace=False))
    which = np.searchsorted(np.cumsum(sizes), flat, side="right")
    index = flat - np.concatenate([[0], np.cumsum(sizes)[:-1]])[which]
    if perturbation == "zero":
        value = np.zeros(count, dtype=np.float32)
    else:
        lo = np.array([tensors[n].min().item() for n in names])[which]
        hi = np.array([tensors[n].max().item() for n in names])[which]
        value = (lo + rng.random(count) * (hi - lo)).astype(np.float32)
    return WeightFaults(np.array(names, dtype=object)[which], index, value)


@contextmanager
@torch.no_grad()
def applied(tensors: dict[str, torch.Tensor], faults: WeightFaults):
    """Set the faulty weights for the ``with`` block, then restore the originals bit-exactly."""
    saved = []
    for name in np.unique(faults.param):
        rows = faults.param == name
        flat = tensors[name].view(-1)
        idx = torch.from_numpy(faults.index[rows]).to(flat.device)
        saved.append((flat, idx, flat[idx].clone()))
        flat[idx] = torch.from_numpy(faults.value[rows]).to(flat.device, flat.dtype)
    try:
        yield
    finally:
        for flat, idx, original in saved:
            flat[idx] = original
