"""The protection checker of an engine (docs/semantics.md section 12) on NaN, infinities, zeros of
both signs and values at and just beyond the bounds: the engine's op and the numpy reference of
tests/protection_reference.py give the same bits, the table of its EXPECTED."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from protection_reference import EXPECTED, VALUES, reference_checker

from dnnfi.engines.protection import protect

__all__ = ["test_checker_on_nan_infinities_and_bounds"]


@dataclass
class Checker:
    """A framework's side of this test."""

    tensor: Callable  # a float32 tensor of a numpy array or a float
    where: Callable  # the engine's select op


@pytest.mark.parametrize("method", list(EXPECTED))
def test_checker_on_nan_infinities_and_bounds(fw: Checker, method):
    expected = np.array(EXPECTED[method], dtype=np.float32).view(np.uint32)
    lo, hi, zero = fw.tensor(0.0), fw.tensor(1.0), fw.tensor(0.0)
    ours = protect(fw.tensor(VALUES), lo, hi, zero, method, fw.where).numpy()
    np.testing.assert_array_equal(ours.view(np.uint32), expected)
    np.testing.assert_array_equal(
        reference_checker(method, 0.0, 1.0, VALUES).view(np.uint32), expected
    )
