"""The protection checkers of docs/semantics.md section 12 spelled out in numpy, written
independently of :func:`dnnfi.engines.protection.protect`, for both engines' reference injectors."""

import numpy as np


def reference_checker(method: str, lo: float, hi: float, values: np.ndarray) -> np.ndarray:
    """Out of [lo, hi]: to the nearer bound, NaN to lo (range_restriction), or to 0 (clip_to_zero)."""
    lo, hi = values.dtype.type(lo), values.dtype.type(hi)
    outside = (values < lo) | (values > hi) | np.isnan(values)
    if method == "clip_to_zero":
        return np.where(outside, values.dtype.type(0), values)
    return np.where(values > hi, hi, np.where(outside, lo, values))


#: values at the edges of bounds [0, 1] and their checked values (docs/semantics.md section 12)
VALUES = np.array(
    [np.nan, np.inf, -np.inf, -0.0, 0.0, -1.5, 0.25, 1.0, 1.0000001, 7.0], dtype=np.float32
)
EXPECTED = {
    "range_restriction": [0.0, 1.0, 0.0, -0.0, 0.0, 0.0, 0.25, 1.0, 1.0, 1.0],
    "clip_to_zero": [0.0, 0.0, 0.0, -0.0, 0.0, 0.0, 0.25, 1.0, 0.0, 0.0],
}
