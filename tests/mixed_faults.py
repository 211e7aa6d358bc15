"""Engine-test helpers: a mixed fault list and the bit-identity check (framework-free,
importable from every test process)."""

import numpy as np
import pandas as pd

from dnnfi.faults import draw_activation_faults
from dnnfi.outcomes import classify, summarize_logits


def mixed_fault_list(sites: pd.DataFrame, seed: int, n_images: int, n_single: int = 900, n_multi: int = 120) -> pd.DataFrame:
    """Bit flips (60%), zero, random, stuck-at-0 and stuck-at-1 (10% each) single faults, then
    multi-element faults (3 elements x 2 bits flipped, 2 elements zeroed), ``fault_id`` in order."""
    eligible = sites[sites["eligible"]]
    rng = np.random.default_rng(seed)
    images = np.arange(n_images)
    parts = [draw_activation_faults(eligible, int(n_single * 0.6), rng, images)]
    parts += [draw_activation_faults(eligible, int(n_single * 0.1), rng, images, fault_model=m)
              for m in ("zero", "random", "stuck_at_0", "stuck_at_1")]
    parts += [draw_activation_faults(eligible, n_multi // 2, rng, images, elements_per_fault=3, bits_per_element=2),
              draw_activation_faults(eligible, n_multi // 2, rng, images, fault_model="zero", elements_per_fault=2)]
    faults = pd.concat(parts, ignore_index=True)
    faults["elements"] = [v if isinstance(v, list) else None for v in faults["elements"]]
    faults["bits"] = [v if isinstance(v, list) else None for v in faults["bits"]]
    faults["fault_id"] = np.arange(len(faults))
    return faults


def assert_identical(reference: tuple, other: tuple, what: str) -> None:
    """(golden, faulty) logits of two runs of the same faults: bit-identical, same outcomes."""
    for name, a, b in zip(("golden", "faulty"), reference, other):
        same = (a.view(np.uint32) == b.view(np.uint32)).all(axis=1)
        assert same.all(), f"{what}: {name} logits differ in {np.count_nonzero(~same)} of {len(same)} faults"
    outcomes = [classify(summarize_logits(*r))["outcome"].astype(str).to_numpy() for r in (reference, other)]
    np.testing.assert_array_equal(*outcomes, err_msg=what)
