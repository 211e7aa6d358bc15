"""Torch side of the fault contract: bit-exact numpy views of torch tensors and the gather /
scatter around :func:`dnnfi.faults.lists.corrupt_activations`, so both engines corrupt identically."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pandas as pd
import torch

from dnnfi.faults.lists import corrupt_activations

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
        return (
            torch.from_numpy(np.ascontiguousarray(a).view(np.int16))
            .view(torch.bfloat16)
            .to(like.device)
        )
    return torch.from_numpy(np.ascontiguousarray(a)).to(like.device, like.dtype)


def bitwise_equal_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(rows,) bool: row i of ``a`` has exactly the bits of row i of ``b`` (NaN == NaN, 0 != -0)."""
    if a.dtype in TORCH_FORMATS:
        a, b = a.view(TORCH_FORMATS[a.dtype][1]), b.view(TORCH_FORMATS[b.dtype][1])
    return (a == b).reshape(len(a), -1).all(dim=1)


def row_sums(t: torch.Tensor) -> torch.Tensor:
    """(rows,) int64: per row, the sum (modulo 2**64) of its bytes read as 64-bit integers, or
    of its elements' bit patterns where a row is not a whole number of them: a one-pass
    fingerprint (integer sums: exact, in any order). A change of one element changes it; rows
    with equal sums need :func:`bitwise_equal_rows` to tell."""
    flat = t.reshape(len(t), -1)
    if flat.dtype in TORCH_FORMATS:
        flat = flat.view(TORCH_FORMATS[flat.dtype][1])
    if flat.stride(-1) == 1 and (flat.shape[1] * flat.element_size()) % 8 == 0:
        return flat.view(torch.int64).sum(dim=1)  # no widening copy
    return flat.sum(dim=1, dtype=torch.int64)


def corrupt(flat: torch.Tensor, faults: pd.DataFrame, batch_rows: np.ndarray) -> np.ndarray:
    """Apply the faults ``faults`` in place to ``flat`` (rows, elements per row): fault i hits
    row ``batch_rows[i]``. Returns, per fault, whether it changed any bit."""

    def index(a):
        return torch.tensor(a, dtype=torch.int64, device=flat.device)

    def gather(row, element):
        return to_numpy(flat[index(batch_rows[row]), index(element)])

    def value_range(rows):
        golden = flat[index(batch_rows[rows])]
        return to_numpy(golden.amin(dim=1)), to_numpy(golden.amax(dim=1))

    row, element, new, changed = corrupt_activations(faults, gather, value_range)
    flat[index(batch_rows[row]), index(element)] = from_numpy(new, flat)
    return changed


def corrupt_in_layout(
    value: torch.Tensor, faults: pd.DataFrame, batch_rows: np.ndarray
) -> np.ndarray:
    """:func:`corrupt` on ``value`` (batch first, elements numbered in row-major order of its
    shape) in place, keeping its strides: kernels downstream can round otherwise in another
    layout (a channels-last pooling after a permute does), so a faulty value keeps the layout the
    model gives its golden value. ``value`` must not overlap itself in memory."""
    dense = value.contiguous()
    changed = corrupt(dense.view(len(dense), -1), faults, batch_rows)
    if dense is not value:
        value.copy_(dense)
    return changed


def cat_rows(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(parts)`` (batch-first tensors) in the layout of ``parts[0]``, its dimensions in
    the same order of strides: torch.cat makes some layouts (a permute's) contiguous, in which
    kernels downstream can round otherwise."""
    out = torch.cat(parts)
    first = parts[0]
    order = sorted(range(first.dim()), key=lambda d: -first.stride(d))
    strides = [out.stride(d) for d in order]
    if strides == sorted(strides, reverse=True):
        return out
    target = torch.empty([out.shape[d] for d in order], dtype=out.dtype, device=out.device)
    return target.permute(*np.argsort(order).tolist()).copy_(out)
