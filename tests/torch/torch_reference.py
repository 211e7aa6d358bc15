"""Deliberately simple reference for activation faults: forward hooks that edit the output of the
k-th call of a module, full forward passes (no prefix reuse, no masking shortcut).

Faults run ``PASS_ROWS`` at a time, one per batch row (a last partial batch is padded with copies
of its first row), and the golden logits come from the same batch without hooks: the fixed pass
shape of docs/semantics.md, so the engine's logits must equal these bit for bit.
With a protection, the hooks of protected calls also clamp / zero the (faulty or golden) output,
written independently of :func:`dnnfi.engines.protection.protect` (tests/protection_reference.py).
"""

from __future__ import annotations

import numpy as np
import torch
from protection_reference import reference_checker

from dnnfi.engines.devices import PASS_ROWS
from dnnfi.faults.bitflip import apply_fault


def _faulty_row(values: np.ndarray, fault) -> np.ndarray:
    """Copy of one image's site output (flat numpy) with every (element, bit) pair of the fault
    applied in turn."""
    out = values.copy()
    elements = getattr(fault, "elements", None)
    pairs = (
        zip(fault.elements, fault.bits)
        if isinstance(elements, (list, tuple, np.ndarray))
        else [(fault.element, fault.bit)]
    )
    lo, hi = float(values.min()), float(values.max())  # float64 arithmetic, as documented
    for element, bit in pairs:
        random_value = [lo + fault.random_u * (hi - lo)] if fault.fault_model == "random" else None
        out[element : element + 1] = apply_fault(
            out[element : element + 1], fault.fault_model, [bit], random_value
        )
    return out


def _as_numpy(t: torch.Tensor) -> np.ndarray:
    import ml_dtypes

    t = t.detach().contiguous()
    return (
        t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        if t.dtype == torch.bfloat16
        else t.numpy()
    )


def _as_tensor(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """``a`` as a tensor with the strides of ``like`` (e.g. a permute's): layers downstream can
    round otherwise in another layout."""
    t = (
        torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        if like.dtype == torch.bfloat16
        else torch.from_numpy(a)
    )
    return torch.empty_like(like).copy_(t.reshape(like.shape))


@torch.no_grad()
def reference_logits(
    model,
    x: torch.Tensor,
    faults,
    call_of_site: dict,
    rows: int = PASS_ROWS["torch"]["cpu"],
    protection=None,
) -> tuple[np.ndarray, np.ndarray]:
    """(golden, faulty) logits as float32 numpy, one row per fault; ``x`` in the model's layout.
    ``protection``: a :class:`dnnfi.engines.protection.Protection` applied in both passes."""
    modules = dict(model.named_modules())
    checked = {call_of_site[s]: b for s, b in (protection.limits.items() if protection else ())}
    golden, faulty = [], []
    for start in range(0, len(faults), rows):
        batch = faults.iloc[start : start + rows]
        n = len(batch)
        picks = np.concatenate([np.arange(n), np.zeros(rows - n, dtype=int)])
        images = x[torch.from_numpy(batch["image"].to_numpy(dtype=np.int64, copy=True)[picks])]
        calls: dict[str, int] = {}

        def hook(module, args, output, layer, inject):
            k = calls[layer] = calls.get(layer, -1) + 1
            edited = _as_numpy(output).reshape(len(output), -1).copy()
            for row, fault in enumerate(batch.itertuples(index=False)):
                if inject and call_of_site[fault.site] == (layer, k):
                    edited[row] = _faulty_row(edited[row], fault)
            if (layer, k) in checked:
                edited = reference_checker(protection.method, *checked[layer, k], edited)
            return _as_tensor(edited, output)

        def forward(inject):
            calls.clear()
            layers = {call_of_site[s][0] for s in batch["site"]} | {layer for layer, _ in checked}
            handles = [
                modules[layer].register_forward_hook(
                    lambda m, a, o, layer=layer: hook(m, a, o, layer, inject)
                )
                for layer in layers
            ]
            try:
                return model(images).float().numpy()
            finally:
                for h in handles:
                    h.remove()

        f = forward(inject=True)
        g = forward(inject=False)
        golden.append(g[:n])
        faulty.append(f[:n])
    return np.concatenate(golden), np.concatenate(faulty)
