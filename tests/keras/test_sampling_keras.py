"""Golden site values of the Keras engine (what stratified sampling counts and draws from)."""

import numpy as np
import pandas as pd
import pytest
from conftest import zoo

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.engines.protection import Protection
from dnnfi.faults.bitflip import n_bits
from dnnfi.faults.lists import bit_sweep
from dnnfi.faults.outcomes import classify


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_golden_site_values_are_the_engines_and_a_bit_sweep_flips_them(policy, images16):
    injector = KerasInjector(zoo(policy))
    sites = injector.sites()
    eligible = sites[sites["eligible"]].set_index("site")
    names = list(eligible.index)
    values = injector.golden_site_values(images16, names)
    for name in names:
        assert values[name].shape == (len(images16), eligible.loc[name, "size"])
        assert values[name].dtype.name == eligible.loc[name, "dtype"]
    # the same values for any cut of the images (fixed pass shape)
    part = injector.golden_site_values(images16[3:5], names[:2])
    for name in names[:2]:
        assert part[name].tobytes() == values[name][3:5].tobytes()
    # a stuck-at-1 sweep changes nothing exactly where the golden value already has the bit
    site = "gap"  # followed by the logits only: every changed value changes them
    element = int(np.flatnonzero(values[site][4] != 0)[0])
    points = pd.DataFrame({"image": [4], "site": [site], "element": [element]})
    results = classify(
        injector.run(bit_sweep(points, sites, "stuck_at_1"), images16, progress=False)
    )
    width = n_bits(eligible.loc[site, "dtype"])
    golden = int(
        values[site][4, element : element + 1].view({16: np.uint16, 32: np.uint32}[width])[0]
    )
    has_bit = [(golden >> b) & 1 == 1 for b in range(width)]
    assert len(results) == width and any(has_bit) and not all(has_bit)
    assert all(o == "masked" for o, h in zip(results["outcome"], has_bit) if h)
    assert any(o != "masked" for o, h in zip(results["outcome"], has_bit) if not h)


def test_golden_site_values_are_taken_before_the_checker(images16):
    """With protection, a fault corrupts the layer's own output (before its checker), so the strata
    count that value: the protected injector gives the same golden site values."""
    model, site = zoo(), "stem"
    plain = KerasInjector(model)
    protected = KerasInjector(
        model, protection=Protection("range_restriction", {site: (0.0, 0.01)})
    )
    raw, checked = (
        plain.golden_site_values(images16, [site]),
        protected.golden_site_values(images16, [site]),
    )
    assert raw[site].max() > 0.01
    assert raw[site].tobytes() == checked[site].tobytes()
