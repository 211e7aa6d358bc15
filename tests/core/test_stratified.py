"""Stratified estimators on synthetic populations with known answers, and the coverage of their
95% intervals by simulation (fixed seed)."""

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from dnnfi.analysis.stratified_estimates import (
    shrunk_rates,
    shrunk_ratio,
    stratified_rate,
    stratified_ratio,
)

#: a fault population like ResNet-20's: most strata never fail, one always does, a few in between
WEIGHTS = np.array([0.55, 0.25, 0.1, 0.05, 0.03, 0.012, 0.006, 0.002])
RATES = np.array([0.0, 0.0, 0.0005, 0.01, 0.08, 0.35, 0.7, 1.0])
SCM_GIVEN_SDC = np.array([0.5, 0.5, 0.0, 1.0, 0.3, 0.6, 0.8, 0.45])
#: a Neyman-like allocation (floor 20 per stratum; heavy strata without events still get a few
#: hundred draws, as a pilot gives them)
TRIALS = np.array([400, 200, 80, 60, 250, 180, 90, 20])


def test_rate_is_the_weighted_stratum_rates():
    est = stratified_rate([0.5, 0.3, 0.2], [0, 10, 50], [100, 100, 100])
    assert est["estimate"] == pytest.approx(0.5 * 0 + 0.3 * 0.1 + 0.2 * 0.5)
    assert est["lo"] < 0.13 < est["hi"]


def test_one_stratum_is_wilson():
    est = stratified_rate([1.0], [45], [3000])
    lo, hi = proportion_confint(45, 3000, method="wilson")
    assert est["n_eff"] == pytest.approx(3000)
    assert (est["lo"], est["hi"]) == pytest.approx(
        (lo, hi)
    )  # section 8's example: [0.011229, 0.020011]


def test_stratum_without_events_and_stratum_of_only_events():
    # population rate exactly 0.1: the stratum of weight 0.9 never fails, the other always does
    est = stratified_rate([0.9, 0.1], [0, 200], [200, 200])
    assert est["estimate"] == pytest.approx(0.1)
    assert 0.08 < est["lo"] < 0.1 < est["hi"] < 0.12  # neither collapses to a point nor explodes


def test_lightly_sampled_heavy_stratum_without_events_keeps_the_interval_wide():
    # 10 clean draws from a stratum of weight 0.9 cannot rule out a rate near 25% there
    est = stratified_rate([0.9, 0.1], [0, 0], [10, 1000])
    assert est["estimate"] == 0
    assert est["n_eff"] == pytest.approx(11.16, abs=0.01) and est["hi"] == pytest.approx(
        0.2561, abs=1e-4
    )  # section 11


def test_prior_trials_shrink_each_stratum_towards_the_campaign_rate():
    # the plan's pseudo-injections (dnnfi.designs.strata.PRIOR_TRIALS): campaign rate p = 0.05
    rates = shrunk_rates([0.5, 0.5], [0, 10], [20, 100], prior_trials=5)
    assert rates == pytest.approx([(5 * 0.05 + 0.25) / 25.5, (10 + 5 * 0.05 + 0.25) / 105.5])
    assert shrunk_rates([0.5, 0.5], [0, 10], [20, 100]) == pytest.approx(
        [0.25 / 20.5, 10.25 / 100.5]
    )
    # SCM shares of SDCs shrink towards the pooled share 2 / 10 alike: (x + 1/2 + S r) / (y + 1 + S)
    sdc = shrunk_rates([0.5, 0.5], [0, 10], [20, 100], prior_trials=5)
    share = np.array([(0.5 + 5 * 0.2) / 6, (2 + 0.5 + 5 * 0.2) / 16])
    assert shrunk_ratio([0.5, 0.5], [0, 2], [0, 10], [20, 100], prior_trials=5) == pytest.approx(
        (sdc * share).sum() / sdc.sum()
    )
    one = stratified_rate([1.0], [45], [3000], prior_trials=5)  # still Wilson at n
    assert one["n_eff"] == pytest.approx(3000) and one["lo"] == pytest.approx(0.011229, abs=1e-6)


def test_zero_weight_strata_are_ignored_and_unsampled_strata_refused():
    base = stratified_rate([0.5, 0.5], [3, 7], [50, 50])
    padded = stratified_rate([0.5, 0.5, 0.0], [3, 7, 0], [50, 50, 0])
    assert padded["estimate"] == pytest.approx(base["estimate"])
    assert padded["hi"] == pytest.approx(base["hi"])
    with pytest.raises(ValueError, match="no injection"):
        stratified_rate([0.5, 0.5], [3, 0], [50, 0])
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_rate([0.5, 0.4], [3, 0], [50, 10])


def test_ratio_known_answer_with_all_and_no_scm_strata():
    # stratum 0: SDC rate 0.1, every SDC is SCM; stratum 1: SDC rate 0.2, none is SCM: R = 1/3
    est = stratified_ratio([0.5, 0.5], [10, 0], [10, 20], [100, 100])
    assert est["estimate"] == pytest.approx(0.05 / 0.15)
    assert est["lo"] < 1 / 3 < est["hi"]
    assert (
        stratified_ratio([0.5, 0.5], [0, 0], [0, 0], [100, 100])["n_eff"]
        != stratified_ratio([0.5, 0.5], [0, 0], [0, 0], [100, 100])["n_eff"]
    )  # NaN without SDCs
    with pytest.raises(ValueError, match="every SCM is an SDC"):
        stratified_ratio([1.0], [3], [2], [10])


def test_ratio_of_one_stratum_is_wilson_over_the_sdcs():
    est = stratified_ratio([1.0], [14], [45], [3000])
    lo, hi = proportion_confint(14, 45, method="wilson")
    assert est["estimate"] == pytest.approx(14 / 45)
    assert est["hi"] - est["lo"] == pytest.approx(hi - lo, rel=0.02)


def _campaigns(rng, reps):
    sdc = rng.binomial(TRIALS, RATES, size=(reps, len(WEIGHTS)))
    return sdc, rng.binomial(sdc, SCM_GIVEN_SDC)


def test_coverage_and_bias_by_simulation():
    rng = np.random.default_rng(11)
    sdc, scm = _campaigns(rng, 20_000)
    truth = WEIGHTS @ RATES
    rate = stratified_rate(WEIGHTS, sdc, np.broadcast_to(TRIALS, sdc.shape))
    covered = (rate["lo"] <= truth) & (truth <= rate["hi"])
    assert rate["estimate"].mean() == pytest.approx(truth, rel=0.01)  # unbiased
    assert covered.mean() >= 0.93
    # sound but not wasteful: the half-width is within 1.5x of the one the true spread would give
    assert rate["margin"].mean() < 1.5 * 1.96 * rate["estimate"].std()
    prob_truth = (WEIGHTS * RATES * SCM_GIVEN_SDC).sum() / truth
    prob = stratified_ratio(WEIGHTS, scm, sdc, np.broadcast_to(TRIALS, sdc.shape))
    covered = (prob["lo"] <= prob_truth) & (prob_truth <= prob["hi"])
    assert prob["estimate"].mean() == pytest.approx(prob_truth, abs=0.01)  # ratio bias is O(1/n)
    assert covered.mean() >= 0.93
    assert prob["margin"].mean() < 1.5 * 1.96 * prob["estimate"].std()


def test_coverage_at_small_counts():
    # 400 injections over strata whose events are rare everywhere: a handful of SDCs per campaign
    rng = np.random.default_rng(12)
    weights, rates, trials = (
        np.array([0.7, 0.2, 0.1]),
        np.array([0.0, 0.003, 0.05]),
        np.array([100, 100, 200]),
    )
    sdc = rng.binomial(trials, rates, size=(20_000, 3))
    est = stratified_rate(weights, sdc, np.broadcast_to(trials, sdc.shape))
    truth = weights @ rates
    assert 0.93 <= ((est["lo"] <= truth) & (truth <= est["hi"])).mean()
