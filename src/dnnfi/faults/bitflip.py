"""IEEE-754 fault models on numpy arrays (fp32, fp16, bf16).

Bit numbering: the value viewed as an unsigned integer, bit 0 = least significant mantissa bit.
fp32: 0-22 mantissa, 23-30 exponent, 31 sign; fp16: 0-9, 10-14, 15; bf16: 0-6, 7-14, 15.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

#: float format name -> (numpy float dtype, unsigned integer view dtype, number of bits)
FORMATS: dict[str, tuple[np.dtype, np.dtype, int]] = {
    "float32": (np.dtype(np.float32), np.dtype(np.uint32), 32),
    "float16": (np.dtype(np.float16), np.dtype(np.uint16), 16),
    "bfloat16": (np.dtype(ml_dtypes.bfloat16), np.dtype(np.uint16), 16),
}

FAULT_MODELS = ("bitflip", "zero", "random", "stuck_at_0", "stuck_at_1")


def float_format(dtype) -> str:
    """Name of the IEEE-754 format of ``dtype`` (one of :data:`FORMATS`)."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in FORMATS:
        raise ValueError(f"unsupported tensor dtype {name!r}: expected one of {sorted(FORMATS)}")
    return name


def n_bits(dtype) -> int:
    """Number of bits of the float format of ``dtype``."""
    return FORMATS[float_format(dtype)][2]


def _as_uint(values: np.ndarray) -> tuple[np.ndarray, np.dtype]:
    fmt = float_format(values.dtype)
    _, uint, width = FORMATS[fmt]
    return np.ascontiguousarray(values).view(uint), uint


def _check_bits(bits: np.ndarray, dtype) -> np.ndarray:
    bits = np.asarray(bits, dtype=np.int64)
    width = n_bits(dtype)
    if bits.size and (bits.min() < 0 or bits.max() >= width):
        raise ValueError(f"bit positions must lie in 0..{width - 1} for {float_format(dtype)}")
    return bits


def flip_bits(values: np.ndarray, bits) -> np.ndarray:
    """XOR each value with ``1 << bit`` (element-wise, broadcasting ``bits``)."""
    raw, uint = _as_uint(values)
    bits = _check_bits(bits, values.dtype)
    mask = np.left_shift(np.ones_like(bits, dtype=uint), bits.astype(uint))
    return np.bitwise_xor(raw, mask).view(values.dtype)


def stuck_at(values: np.ndarray, bits, level: int) -> np.ndarray:
    """Force bit ``bits`` of each value to ``level`` (0 or 1)."""
    raw, uint = _as_uint(values)
    bits = _check_bits(bits, values.dtype)
    mask = np.left_shift(np.ones_like(bits, dtype=uint), bits.astype(uint))
    out = np.bitwise_or(raw, mask) if level else np.bitwise_and(raw, np.invert(mask))
    return out.view(values.dtype)


def apply_mask(values: np.ndarray, fault_model: str, masks) -> np.ndarray:
    """Faulty copy of ``values`` under a bit model: every bit set in ``masks`` (integers of the
    format's width, one per value) is flipped (``bitflip``) or forced (``stuck_at_0/1``)."""
    raw, uint = _as_uint(values)
    masks = np.asarray(masks).astype(uint)
    if fault_model == "bitflip":
        out = np.bitwise_xor(raw, masks)
    elif fault_model == "stuck_at_1":
        out = np.bitwise_or(raw, masks)
    elif fault_model == "stuck_at_0":
        out = np.bitwise_and(raw, np.invert(masks))
    else:
        raise ValueError(
            f"{fault_model!r} is not a bit fault model: expected bitflip, stuck_at_0 or stuck_at_1"
        )
    return out.view(values.dtype)


def apply_fault(values: np.ndarray, fault_model: str, bits=None, random_values=None) -> np.ndarray:
    """Faulty copy of ``values`` under one of :data:`FAULT_MODELS`.

    ``bits`` (same shape as ``values``) is used by bit flips and stuck-at faults; ``random_values``
    by the ``random`` model (already drawn by the caller, see :mod:`dnnfi.faults.lists`).
    """
    values = np.asarray(values)
    if fault_model == "bitflip":
        return flip_bits(values, bits)
    if fault_model == "zero":
        return np.zeros_like(values)
    if fault_model == "random":
        return np.asarray(random_values).astype(values.dtype)
    if fault_model in ("stuck_at_0", "stuck_at_1"):
        return stuck_at(values, bits, int(fault_model[-1]))
    raise ValueError(f"unknown fault model {fault_model!r}: expected one of {FAULT_MODELS}")
