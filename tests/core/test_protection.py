"""The framework-free half of protection: the checker formula, bounds tables, layer selection,
and the paired statistics of protection.csv."""

import numpy as np
import pandas as pd
import pytest
from protection_reference import reference_checker

from dnnfi.analysis.paired import newcombe_interval, paired_comparison, protection_table
from dnnfi.engines.protection import Protection, ProtectionError, merge_ranges, protect

SITES = pd.DataFrame(
    {
        "site": ["conv", "relu:0", "relu:1", "fc"],
        "layer": ["conv", "relu", "relu", "fc"],
        "activation": [False, True, True, False],
        "eligible": [True, True, True, False],
    }
)
BOUNDS = pd.DataFrame(
    {
        "site": SITES["site"],
        "layer": SITES["layer"],
        "min": [-2.0, 0.0, 0.0, -5.0],
        "max": [2.0, 1.5, 3.0, 5.0],
    }
)


@pytest.mark.parametrize("method", ["range_restriction", "clip_to_zero"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_numpy_checker_equals_the_independent_reference(method, dtype):
    values = np.random.default_rng(0).normal(0, 3, 1000).astype(dtype)
    values[:4] = [np.nan, np.inf, -np.inf, -0.0]
    lo, hi = dtype(-1.25), dtype(2.5)
    ours = protect(values, lo, hi, dtype(0), method, np.where)
    np.testing.assert_array_equal(ours, reference_checker(method, -1.25, 2.5, values))
    assert np.isfinite(ours).all() and ours.min() >= lo and ours.max() <= hi
    assert ours[0] == (0 if method == "clip_to_zero" else lo)  # NaN


def test_merge_ranges_keeps_site_order_and_extremes():
    parts = [BOUNDS.assign(min=BOUNDS["min"] + 1), BOUNDS, BOUNDS.assign(max=BOUNDS["max"] - 1)]
    pd.testing.assert_frame_equal(merge_ranges(parts), BOUNDS)
    with pytest.raises(ProtectionError, match="site relu:1: NaN in its fault-free outputs"):
        merge_ranges([BOUNDS.assign(max=[1.0, 1.0, np.nan, 1.0])])


@pytest.mark.parametrize(
    "layers, sites",
    [
        ("activations", ["relu:0", "relu:1"]),
        ("all", list(SITES["site"])),
        ("^(conv|fc)$", ["conv", "fc"]),
    ],
)
def test_layer_selection(layers, sites):
    protection = Protection.from_bounds("clip_to_zero", layers, BOUNDS, SITES)
    assert sorted(protection.limits) == sorted(sites)
    assert protection.limits.get("relu:1", (0.0, 3.0)) == (0.0, 3.0)


def test_selections_that_cannot_apply_are_refused():
    with pytest.raises(
        ProtectionError, match="config key protection.layers: 'bn' selects no layer"
    ):
        Protection.from_bounds("clip_to_zero", "bn", BOUNDS, SITES)
    with pytest.raises(ProtectionError, match="the bounds table has no row for site relu:1"):
        Protection.from_bounds("clip_to_zero", "relu", BOUNDS.iloc[:2], SITES)


def test_paired_comparison_counts_and_exact_mcnemar():
    before = np.array([1] * 10 + [1] * 8 + [0] * 2 + [0] * 80, bool)  # a = 10, b = 8, c = 2, d = 80
    after = np.array([1] * 10 + [0] * 8 + [1] * 2 + [0] * 80, bool)
    r = paired_comparison(before, after)
    assert (
        r["count_unprotected"],
        r["count_protected"],
        r["only_unprotected"],
        r["only_protected"],
    ) == (18, 12, 8, 2)
    assert r["difference"] == pytest.approx(-0.06)
    assert r["mcnemar_p"] == pytest.approx(
        0.109375
    )  # two-sided binomial: 2 x P(X <= 2), X ~ Bin(10, 1/2) = 2 x 56/1024
    assert r["difference_lo"] < -0.06 < r["difference_hi"]


def test_newcombe_interval_covers_at_small_counts():
    """Coverage of the 95% interval over 2,000 simulated paired samples of 40 trials with rare
    discordance (where a Wald interval collapses): at least 93%, and zero counts give an interval."""
    rng = np.random.default_rng(1)
    probabilities = [0.05, 0.04, 0.01, 0.90]  # a, b, c, d: true difference 0.01 - 0.04 = -0.03
    covered = 0
    for _ in range(2000):
        a, b, c, d = rng.multinomial(40, probabilities)
        lo, hi = newcombe_interval(a, b, c, d)
        covered += lo <= -0.03 <= hi
    assert covered / 2000 >= 0.93
    lo, hi = newcombe_interval(0, 0, 0, 40)
    assert lo < 0 < hi and hi == pytest.approx(-lo)


def test_protection_table_refuses_different_fault_lists():
    rows = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "fault_id": [0, 1],
            "image": [0, 1],
            "site": "relu:0",
            "element": [3, 4],
            "bit": [30, 2],
            "fault_model": "bitflip",
            "outcome": ["sdc", "masked"],
            "scm": [True, False],
            "initially_correct": [True, False],
        }
    )
    fault_free = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "label": [1, 2],
            "top1_unprotected": [1, 2],
            "top1_protected": [1, 0],
        }
    )
    protected = rows.assign(outcome=["masked", "masked"], scm=False)
    table = protection_table(protected, rows, fault_free).set_index(["scenario", "measure"])
    assert (
        table.loc[("all", "sdc"), "only_unprotected"] == 1
        and table.loc[("all", "scm"), "difference"] == -0.5
    )
    assert table.loc[("fi_misclassified", "sdc"), "trials"] == 1
    assert table.loc[("fault_free", "top1_accuracy"), "rate_protected"] == 0.5
    with pytest.raises(
        ValueError, match="protected and unprotected fault lists differ \\(model m, fault 1\\)"
    ):
        protection_table(protected.assign(bit=[30, 3]), rows, fault_free)
