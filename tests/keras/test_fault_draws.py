"""Multi-bit activation fault lists (framework-free, kept with the engine that reads them)."""

import numpy as np
import pandas as pd

from dnnfi.faults.lists import FAULT_COLUMNS, draw_activation_faults
from dnnfi.faults.seeds import rng_for

SITES = pd.DataFrame({"site": ["a", "b"], "size": [6, 500], "dtype": ["float32", "bfloat16"]})


def draw(**kwargs):
    return draw_activation_faults(SITES, 400, rng_for(9, "multi"), np.arange(5), **kwargs)


def test_multi_bit_keeps_the_single_fault_columns_of_the_seed():
    single = draw()
    multi = draw(bits_per_element=3, elements_per_fault=2)
    pd.testing.assert_frame_equal(single[FAULT_COLUMNS], multi[FAULT_COLUMNS])
    assert "elements" not in single


def test_multi_bit_pairs_are_distinct_and_start_with_element_and_bit():
    multi = draw(bits_per_element=3, elements_per_fault=2)
    for f in multi.itertuples():
        pairs = list(zip(f.elements, f.bits))
        assert len(pairs) == 6 and len(set(pairs)) == 6 and pairs[0] == (f.element, f.bit)
        assert (
            len(set(f.elements)) == 2
            and max(f.elements) < SITES.set_index("site").loc[f.site, "size"]
        )
        assert max(f.bits) < (32 if f.site == "a" else 16)


def test_multi_element_zero_faults_have_no_bits():
    multi = draw(fault_model="zero", elements_per_fault=4)
    assert all(
        len(set(e)) == 4 and set(b) == {-1} for e, b in zip(multi["elements"], multi["bits"])
    )
