"""Stratified design: value classes, exact atom probabilities, allocation, drawing within strata
and the pilot + Neyman rounds with the margin stop, on synthetic sites and populations."""

import numpy as np
import pandas as pd
import pytest

from dnnfi.analysis.intervals import wilson
from dnnfi.designs.strata import (
    VALUE_CLASSES,
    allocate,
    atom_table,
    class_table,
    draw_strata,
    estimate,
    golden_counts,
    image_counts,
    predicted_need,
    run_stratified,
    strata_of,
    value_class,
)
from dnnfi.faults.seeds import rng_for

#: two fp32 sites over 2 images: "a" has 4 elements, "b" has 2
VALUES = {
    "a": np.array([[1.0, -2.0, 0.0, 3.0], [0.5, -0.0, 1.0, 1.0]], np.float32),
    "b": np.array([[2.0, -1.0], [0.0, 4.0]], np.float32),
}
SITES = pd.DataFrame({"site": ["a", "b"], "size": [4, 2], "dtype": ["float32", "float32"]})
COUNTS = {site: image_counts(values.view(np.uint32)) for site, values in VALUES.items()}


def recompute(positions, sites):
    """The population's golden values at ``positions``, as an engine recomputes them for a draw."""
    return {site: VALUES[site][positions] for site in sites}


def test_value_classes():
    enc = np.array([1.0, -2.0, 0.0, -0.0, 3.0], np.float32).view(np.uint32)
    # 1.0 = 0x3F800000: bit 23 set, bit 30 clear; -2.0 = 0xC0000000: bit 30 set
    assert [VALUE_CLASSES[c] for c in value_class(enc, 30, 32)] == [
        "positive_clear",
        "negative_set",
        "zero",
        "zero",
        "positive_set",
    ]
    assert [VALUE_CLASSES[c] for c in value_class(enc, 23, 32)] == [
        "positive_set",
        "negative_clear",
        "zero",
        "zero",
        "positive_clear",
    ]


def test_image_counts_give_every_class_of_every_bit():
    rng = np.random.default_rng(0)
    for dtype, width in (("float32", 32), ("float16", 16)):
        values = (rng.standard_normal((3, 333)) * 1e3).astype(dtype)
        values[:, ::7] = 0
        values[:, ::11] = -0.0
        values[0, :4] = [np.inf, -np.inf, np.nan, -np.nan]
        encoding = values.view(f"uint{width}")
        counts = image_counts(encoding)
        assert counts.shape == (3, 3 + 2 * width) and counts.dtype == np.uint16
        for bit in range(width):
            expected = [np.bincount(value_class(row, bit, width), minlength=5) for row in encoding]
            assert (class_table(counts, bit) == np.array(expected)).all(), (dtype, bit)
            # the population's table is the sum of the images'
            assert (class_table(counts.sum(axis=0), bit) == np.sum(expected, axis=0)).all()


def test_golden_counts_hold_only_counts_computed_a_block_at_a_time():
    asked = []

    def values(positions, sites):
        asked.append(list(positions))
        return recompute(positions, sites)

    counts = golden_counts(values, 2, ["a", "b"], block=1)
    assert asked == [[0], [1]]
    assert all((counts[s] == COUNTS[s]).all() for s in COUNTS)


def test_atom_probabilities_are_exact():
    atoms = atom_table(SITES, COUNTS.__getitem__)
    assert atoms["p"].sum() == pytest.approx(1.0)
    # layer-uniform: site a has 1/2, bit 30 1/32; of its 8 values 2 are zero, 4 positive with bit 30 clear
    a30 = atoms[(atoms["site"] == "a") & (atoms["bit"] == 30)].set_index("value")["p"]
    assert a30["zero"] == pytest.approx(0.5 / 32 * 2 / 8)
    assert a30["positive_clear"] == pytest.approx(0.5 / 32 * 4 / 8)  # 1.0, 0.5, 1.0, 1.0
    sized = atom_table(SITES, COUNTS.__getitem__, "size_proportional", bits=[30, 31])
    assert sized.groupby("site")["p"].sum()["a"] == pytest.approx(4 / 6)
    assert set(sized["bit"]) == {30, 31}
    table, codes = strata_of(atoms, "bit")
    assert len(table) == 32 and np.allclose(table["weight"], 1 / 32)


def test_allocation_floor_and_neyman():
    n = allocate([0.5, 0.3, 0.2, 0.0], [0.0, 0.1, 0.4, 1.0], 100, floor=5)
    assert n.sum() == 100 and n[3] == 0 and (n[:3] >= 5).all()
    # the rest (85) in proportion to W S = 0, 0.03, 0.08
    assert list(n) == [5, 5 + 23, 5 + 62, 0]
    with pytest.raises(ValueError, match="cannot give"):
        allocate([0.5, 0.5], [1, 1], 3, floor=2)


def test_draws_stay_in_their_atom_and_follow_atom_probabilities():
    atoms = atom_table(SITES, COUNTS.__getitem__)
    table, codes = strata_of(atoms, "bit_value")
    h = table.index[(table["bit"] == 23) & (table["value"] == "positive_set")][0]
    n = np.zeros(len(table), np.int64)
    n[h] = 6000
    faults = draw_strata(
        atoms, codes, n, rng_for(1, "t"), COUNTS.__getitem__, recompute, np.array([10, 11])
    )
    assert (faults["stratum"] == h).all() and set(faults["image"]) == {10, 11}
    golden = np.array(
        [
            VALUES[s][i - 10, e]
            for s, i, e in zip(faults["site"], faults["image"], faults["element"])
        ]
    )
    assert (
        value_class(golden.view(np.uint32), 23, 32) == VALUE_CLASSES.index("positive_set")
    ).all()
    # bit 23 is set in the three 1.0s of site a (probability 1/2 x 1/8 each) and in b's 4.0 (1/2 x 1/4)
    share = faults.groupby(["site", "image", "element"]).size() / len(faults)
    assert list(share.index) == [("a", 10, 0), ("a", 11, 2), ("a", 11, 3), ("b", 11, 1)]
    assert np.allclose(share, [0.2, 0.2, 0.2, 0.4], atol=0.02)
    again = draw_strata(
        atoms, codes, n, rng_for(1, "t"), COUNTS.__getitem__, recompute, np.array([10, 11])
    )
    pd.testing.assert_frame_equal(faults, again)  # deterministic from the seed
    one_by_one = draw_strata(
        atoms, codes, n, rng_for(1, "t"), COUNTS.__getitem__, recompute, np.array([10, 11]), block=1
    )
    pd.testing.assert_frame_equal(faults, one_by_one)  # whatever images a recompute holds
    with pytest.raises(ValueError, match="single-bit fault model"):
        draw_strata(
            atoms,
            codes,
            n,
            rng_for(1, "t"),
            COUNTS.__getitem__,
            recompute,
            np.array([10, 11]),
            "random",
        )

    def drifted(positions, sites):  # an engine whose golden values depend on the pass
        return {s: 0 * v for s, v in recompute(positions, sites).items()}

    with pytest.raises(
        RuntimeError, match="counted: the engine's golden values depend on the pass"
    ):
        draw_strata(
            atoms, codes, n, rng_for(1, "t"), COUNTS.__getitem__, drifted, np.array([10, 11])
        )


def test_rounds_stop_at_the_margin_and_reach_the_truth():
    weights = np.array([0.7, 0.2, 0.08, 0.02])
    rates = np.array([0.0, 0.001, 0.1, 0.6])
    rng = np.random.default_rng(3)

    def evaluate(n, round_):
        sdc = rng.binomial(n, rates)
        return pd.DataFrame(
            {"trials": n, "sdc": sdc, "sdc_top5": sdc, "due": 0, "scm": rng.binomial(sdc, 0.5)}
        )

    counts, done = run_stratified(
        weights, evaluate, "sdc_rate", 0.005, pilot=200, round_size=200, max_injections=20_000
    )
    est = estimate(counts, weights)["sdc_rate"]
    assert est["margin"] <= 0.005 and est["lo"] <= weights @ rates <= est["hi"]
    assert (
        done[-1] == 200 + counts["trials"].sum()
    )  # the pilot counts in the cost, not in the estimate
    # uniform sampling would need about 1.96^2 p (1 - p) / 0.005^2 = 3,900 injections
    assert done[-1] < 2000
    assert (
        counts["trials"][3] > counts["trials"][0] * weights[3] / weights[0]
    )  # the SDC-prone stratum oversampled


def test_need_at_known_rates_without_pseudo_injections_is_wilsons_sample_size():
    # the ceiling of make bench-sampling-ceiling: one stratum's need is the smallest n whose
    # Wilson interval at p n events has the margin, by a plain search over n
    rates = pd.DataFrame({"trials": [1000.0], "sdc": [20.0], "sdc_top5": 0, "due": 0, "scm": 0})
    need = predicted_need(rates, rates, np.ones(1), "sdc_rate", 0.005, 1, 10**5, prior_trials=0)
    n = np.arange(1, 10**5)
    reference = n[wilson(0.02 * n, n)["margin"] <= 0.005][0]
    # the margin is the larger distance to a Wilson bound: more than the normal 1.96^2 p (1 - p) /
    # 0.005^2 = 3,012
    assert need == reference == 3746
    # the plan's pseudo-injections only enter a plan of several strata: one stratum keeps its need
    assert predicted_need(rates, rates, np.ones(1), "sdc_rate", 0.005, 1, 10**5) == need


def _campaigns_to_margin(reps: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(estimates, coverage flags, truth) of ``reps`` campaigns stopped at an SDC-rate margin of
    +/-0.1 points on a population like ResNet-20's initially misclassified images: one stratum of
    1.3% weight fails 64% of the time, four light ones 90%, twelve of 1.3% weight each only 1%,
    and heavy mantissa-like strata almost never."""
    weights = np.r_[0.013, np.full(4, 0.001), np.full(12, 0.013), np.zeros(5)]
    weights[-5:] = (1 - weights.sum()) / 5
    rates = np.r_[0.64, np.full(4, 0.9), np.full(12, 0.01), np.full(5, 1e-4)]
    truth = weights @ rates
    rng = np.random.default_rng(3)

    def evaluate(n, round_):
        sdc = rng.binomial(n, rates)
        return pd.DataFrame({"trials": n, "sdc": sdc, "sdc_top5": sdc, "due": 0, "scm": 0})

    estimates, covered = [], []
    for _ in range(reps):
        counts, _ = run_stratified(weights, evaluate, "sdc_rate", 0.001, 500, 1000, 60_000)
        est = estimate(counts, weights)["sdc_rate"]
        estimates.append(float(est["estimate"]))
        covered.append(bool(est["lo"] <= truth <= est["hi"]))
    return np.array(estimates), np.array(covered), truth


def test_campaigns_stopped_at_their_margin_keep_their_coverage(monkeypatch):
    # light strata of moderate rate, a few injections each, often show no SDC: the plan's
    # pseudo-injections keep them sampled, so the margin no longer hangs on their luck
    estimates, covered, truth = _campaigns_to_margin(300)
    assert covered.mean() >= 0.93
    assert abs(estimates.mean() - truth) < 0.25 * estimates.std()
    monkeypatch.setattr("dnnfi.designs.strata.PRIOR_TRIALS", 0)
    estimates, covered, truth = _campaigns_to_margin(300)
    assert covered.mean() < 0.92 and estimates.mean() - truth < -0.25 * estimates.std()


def test_bit_sweep_lists_every_bit_of_each_point():
    from dnnfi.faults.lists import bit_sweep, validate_faults

    sites = pd.DataFrame({"site": ["a", "h"], "size": [4, 3], "dtype": ["float32", "float16"]})
    points = pd.DataFrame({"image": [1, 0], "site": ["h", "a"], "element": [2, 3]})
    faults = bit_sweep(points, sites)
    validate_faults(faults, sites, n_images=2)
    assert len(faults) == 16 + 32 and list(faults["fault_id"]) == list(range(48))
    assert list(faults["bit"][:16]) == list(range(16)) and list(faults["bit"][16:]) == list(
        range(32)
    )
    assert (faults["point"][:16] == 0).all() and set(
        map(tuple, faults[16:][["image", "site", "element"]].to_numpy().tolist())
    ) == {(0, "a", 3)}
    with pytest.raises(ValueError, match="bit fault model"):
        bit_sweep(points, sites, "zero")


def test_stratum_counts_and_every_metric_estimated():
    from dnnfi.designs.strata import estimate, stratum_counts

    results = pd.DataFrame(
        {
            "stratum": [0, 0, 1, 1, 1, 1],
            "outcome": ["sdc", "masked", "sdc", "sdc", "due", "benign"],
            "sdc_top5": [True, False, False, True, False, False],
            "scm": [True, False, True, False, False, False],
        }
    )
    counts = stratum_counts(results, 3)
    assert counts.to_dict("list") == {
        "trials": [2, 4, 0],
        "sdc": [1, 2, 0],
        "sdc_top5": [1, 1, 0],
        "due": [0, 1, 0],
        "scm": [1, 1, 0],
    }
    est = estimate(counts, np.array([0.25, 0.75, 0.0]))
    assert est["sdc_rate"]["estimate"] == pytest.approx(0.25 * 1 / 2 + 0.75 * 2 / 4)
    assert est["due_rate"]["estimate"] == pytest.approx(0.75 / 4)
    assert est["scm_rate"]["estimate"] == pytest.approx(0.25 / 2 + 0.75 / 4)
    assert est["sdc_top5_rate"]["estimate"] == pytest.approx(0.25 / 2 + 0.75 / 4)
    assert est["scm_probability"]["estimate"] == pytest.approx((0.25 / 2 + 0.75 / 4) / 0.5)
