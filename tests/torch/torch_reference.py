"""Deliberately simple reference for activation faults: forward hooks that edit the output of the
k-th call of a module, full forward passes (no prefix reuse, no masking shortcut, no padding).

Faults run ``rows`` at a time, one per batch row, and the golden logits come from the same batch
without hooks: oneDNN's batch-1 kernels round differently from batches of 2 or more, so a batch of
one would not be the engine's numerical path (the engine never runs a batch of one).
"""

from __future__ import annotations

import numpy as np
import torch

from dnnfi.bitflip import apply_fault, flip_bit_sets


def _faulty_element(values: np.ndarray, element: int, fault) -> np.ndarray:
    """Copy of one image's site output (flat numpy) with the fault applied to ``element``."""
    out = values.copy()
    old = values[element : element + 1]
    bits = getattr(fault, "bits", None)
    if fault.fault_model == "bitflip" and bits is not None:
        out[element] = flip_bit_sets(old, np.array([list(bits)]))[0]
    elif fault.fault_model == "random":
        lo, hi = float(values.min()), float(values.max())  # float64 arithmetic, as documented
        out[element] = apply_fault(old, "random", random_values=[lo + fault.random_u * (hi - lo)])[0]
    else:
        out[element] = apply_fault(old, fault.fault_model, [fault.bit])[0]
    return out


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    import ml_dtypes

    t = t.detach().contiguous()
    return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16) if t.dtype == torch.bfloat16 else t.numpy()


def _as_tensor(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    if like.dtype == torch.bfloat16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16).reshape(like.shape)
    return torch.from_numpy(a).reshape(like.shape)


@torch.no_grad()
def reference_logits(model, x: torch.Tensor, faults, call_of_site: dict, rows: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(golden, faulty) logits as float32 numpy, one row per fault; ``x`` in the model's layout."""
    modules = dict(model.named_modules())
    golden, faulty = [], []
    for start in range(0, len(faults), rows):
        batch = faults.iloc[start : start + rows]
        if len(batch) == 1:  # never a batch of one (see the module docstring)
            batch = faults.iloc[start - 1 : start + 1]
        images = x[torch.from_numpy(batch["image"].to_numpy(dtype=np.int64, copy=True))]
        calls: dict[str, int] = {}

        def hook(module, args, output, layer):
            k = calls[layer] = calls.get(layer, -1) + 1
            edited = _as_numpy(output).reshape(len(output), -1).copy()
            for row, fault in enumerate(batch.itertuples(index=False)):
                if call_of_site[fault.site] == (layer, k):
                    edited[row] = _faulty_element(edited[row], fault.element, fault)
            return _as_tensor(edited, output)

        layers = {call_of_site[s][0] for s in batch["site"]}
        handles = [modules[layer].register_forward_hook(lambda m, a, o, layer=layer: hook(m, a, o, layer)) for layer in layers]
        try:
            f = model(images).float().numpy()
        finally:
            for h in handles:
                h.remove()
        g = model(images).float().numpy()
        take = slice(len(g) - len(faults.iloc[start : start + rows]), None)
        golden.append(g[take])
        faulty.append(f[take])
    return np.concatenate(golden), np.concatenate(faulty)
