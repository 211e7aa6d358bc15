"""Fault models applied to a few elements of a torch tensor, with the numpy semantics of
:mod:`dnnfi.bitflip` (so both engines corrupt a value identically), and multi-bit fault lists."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pandas as pd
import torch

from dnnfi.bitflip import FAULT_MODELS, apply_fault, flip_bit_sets, n_bits

#: torch float dtype -> (numpy dtype name, same-width integer torch dtype for bitwise views)
TORCH_FORMATS = {
    torch.float32: ("float32", torch.int32),
    torch.float16: ("float16", torch.int16),
    torch.bfloat16: ("bfloat16", torch.int16),
    torch.float64: ("float64", torch.int64),
}


def format_name(dtype: torch.dtype) -> str:
    """numpy-style name of a torch float dtype ("float32", "float16", "bfloat16")."""
    if dtype not in TORCH_FORMATS:
        raise ValueError(f"unsupported tensor dtype {dtype}: expected one of {list(TORCH_FORMATS)}")
    return TORCH_FORMATS[dtype][0]


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """CPU numpy copy of a float tensor, bfloat16 included (via its bit pattern)."""
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def from_numpy(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Tensor with the bits of ``a`` on ``like``'s device and dtype."""
    if like.dtype == torch.bfloat16:
        return torch.from_numpy(np.ascontiguousarray(a).view(np.int16)).view(torch.bfloat16).to(like.device)
    return torch.from_numpy(np.ascontiguousarray(a)).to(like.device, like.dtype)


def bitwise_equal_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(rows,) bool: row i of ``a`` has exactly the bits of row i of ``b`` (NaN == NaN, 0 != -0)."""
    if a.dtype in TORCH_FORMATS:
        a, b = a.view(TORCH_FORMATS[a.dtype][1]), b.view(TORCH_FORMATS[b.dtype][1])
    return (a == b).reshape(len(a), -1).all(dim=1)


def corrupt(
    flat: torch.Tensor, rows: np.ndarray, elements: np.ndarray, models: np.ndarray, bits: np.ndarray,
    random_u: np.ndarray, bit_sets: list | None = None,
) -> np.ndarray:
    """Apply one fault per listed row, in place, to ``flat`` (rows, elements per row).

    ``models``/``bits``/``random_u`` follow :data:`dnnfi.faults.FAULT_COLUMNS`; ``bit_sets`` (optional,
    one sequence of bit positions or None per fault) turns a ``bitflip`` into a multi-bit flip.
    ``random`` maps ``random_u`` onto the [min, max] of the row's golden values (in float64).
    Returns a bool array: True where the fault changed the value's bits.
    """
    r = torch.as_tensor(rows, device=flat.device)
    e = torch.as_tensor(elements, device=flat.device)
    old = to_numpy(flat[r, e])
    new = old.copy()
    for model in np.unique(models):
        sel = models == model
        if model == "random":
            golden = flat[r[torch.as_tensor(sel, device=flat.device)]]
            lo, hi = (to_numpy(v).astype(np.float64) for v in (golden.amin(dim=1), golden.amax(dim=1)))
            new[sel] = apply_fault(old[sel], model, random_values=lo + random_u[sel] * (hi - lo))
        elif model == "bitflip" and bit_sets is not None and any(bit_sets[i] is not None for i in np.flatnonzero(sel)):
            for i in np.flatnonzero(sel):
                chosen = [bits[i]] if bit_sets[i] is None else list(bit_sets[i])
                new[i] = flip_bit_sets(old[i : i + 1], np.array([chosen]))[0]
        elif model in FAULT_MODELS:
            new[sel] = apply_fault(old[sel], model, bits[sel])
        else:
            raise ValueError(f"unknown fault model {model!r}: expected one of {FAULT_MODELS}")
    flat[r, e] = from_numpy(new, flat)
    uint = new.dtype.itemsize
    return (old.view(f"u{uint}") != new.view(f"u{uint}"))


def draw_multi_bit(faults: pd.DataFrame, sites: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """Copy of a ``bitflip`` fault list where each fault flips ``k`` distinct bits drawn uniformly
    over its site's format; adds column ``bits`` (tuple per fault) and sets ``bit`` to the first."""
    if (faults["fault_model"] != "bitflip").any():
        raise ValueError("multi-bit faults need fault_model 'bitflip' on every row")
    widths = faults["site"].map(dict(zip(sites["site"], sites["dtype"].map(n_bits)))).to_numpy()
    if not 1 <= k <= widths.min():
        raise ValueError(f"k={k} bits per fault: expected 1..{widths.min()}")
    keys = rng.random((len(faults), widths.max()))
    keys[np.arange(widths.max())[None, :] >= widths[:, None]] = np.inf  # only bits of the format
    chosen = np.argsort(keys, axis=1)[:, :k]
    out = faults.copy()
    out["bit"] = chosen[:, 0]
    out["bits"] = [tuple(int(b) for b in row) for row in chosen]
    return out
