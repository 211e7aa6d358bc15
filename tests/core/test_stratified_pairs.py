"""Protected pairs of stratified campaigns (docs/semantics.md, section 12): the weighted paired
difference, its interval's coverage on a synthetic population with a known difference, McNemar's
test within strata, and the table's pairing."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from dnnfi.analysis.paired import (
    newcombe_interval,
    stratified_mcnemar,
    stratified_paired_rate,
    stratified_paired_ratio,
    stratified_protection_table,
)
from dnnfi.designs.strata import estimate, stratum_counts


@pytest.mark.parametrize("cells", [[[50, 3], [11, 7]], [[40, 0], [0, 0]], [[0, 0], [5, 5]]])
def test_one_stratum_is_newcombe_and_the_exact_mcnemar_test(cells):
    (d, c), (b, a) = cells  # rows: unprotected no / yes; columns: protected no / yes
    result = stratified_paired_rate([1.0], np.array([cells]))
    assert (float(result["lo"]), float(result["hi"])) == pytest.approx(
        newcombe_interval(a, b, c, d), abs=1e-12
    )
    assert float(result["difference"]) == pytest.approx((c - b) / (a + b + c + d))
    p = stratified_mcnemar(
        [0.4, 0.6], np.array([cells, [[9, 0], [0, 1]]]), np.random.default_rng(0)
    )
    assert p == pytest.approx(mcnemar([[a, b], [c, d]], exact=True).pvalue if b + c else 1.0)


def synthetic_population(rng):
    """48 strata of unequal weight; SDCs rare except in 5 heavy strata (as the exponent's top
    bits are); protection removes 90% of the SDCs and makes a few new ones. Joint probabilities
    of (state without, state with protection), states 0 no SDC, 1 SDC not SCM, 2 SCM."""
    strata = 48
    weights = rng.dirichlet(np.full(strata, 0.7))
    sdc = np.full(strata, 0.002)
    sdc[rng.choice(strata, 5, replace=False)] = rng.uniform(0.2, 0.6, 5)
    share = rng.uniform(0.2, 0.7, strata)  # SCM share of SDCs
    joint = np.zeros((strata, 3, 3))
    for h in range(strata):
        split = np.array([1 - share[h], share[h]])
        joint[h, 0] = (1 - sdc[h]) * np.r_[1 - 5e-4, 5e-4 * split]
        for state in (1, 2):  # kept with 10%: the same state 80% of those times
            kept = 0.1 * (np.array([0, 0.2, 0.8]) if state == 2 else np.array([0, 0.8, 0.2]))
            joint[h, state] = sdc[h] * split[state - 1] * (kept + np.r_[0.9, 0, 0])
    return weights, sdc, joint


def test_interval_of_the_weighted_difference_covers_a_known_difference():
    rng = np.random.default_rng(7)
    weights, sdc, joint = synthetic_population(rng)
    sdc_before = (weights * joint[:, 1:, :].sum((1, 2))).sum()
    sdc_after = (weights * joint[:, :, 1:].sum((1, 2))).sum()
    scm_before = (weights * joint[:, 2, :].sum(1)).sum()
    scm_after = (weights * joint[:, :, 2].sum(1)).sum()
    truth = {
        "sdc": sdc_after - sdc_before,
        "scm": scm_after - scm_before,
        "scm_probability": scm_after / sdc_after - scm_before / sdc_before,
    }
    spread = weights * np.sqrt(sdc * (1 - sdc))  # a Neyman allocation on the SDC rate
    for total in (1500, 4000):
        n = np.maximum(2, np.round(total * spread / spread.sum())).astype(int)
        campaigns = 2000
        cells = np.stack(
            [
                rng.multinomial(n[h], joint[h].ravel(), size=campaigns).reshape(campaigns, 3, 3)
                for h in range(len(weights))
            ],
            axis=1,
        )

        def event(cells, first):  # 2x2 cells of "state >= first" without / with protection
            no, yes = slice(None, first), slice(first, None)
            return np.stack(
                [
                    np.stack([cells[..., a, :][..., b].sum((-2, -1)) for b in (no, yes)], -1)
                    for a in (no, yes)
                ],
                -2,
            )

        results = {
            "sdc": stratified_paired_rate(weights, event(cells, 1)),
            "scm": stratified_paired_rate(weights, event(cells, 2)),
            "scm_probability": stratified_paired_ratio(weights, cells),
        }
        for measure, result in results.items():
            covered = (result["lo"] <= truth[measure]) & (truth[measure] <= result["hi"])
            assert covered.mean() >= 0.93, (total, measure, covered.mean())
            width = np.mean(result["hi"] - result["lo"])
            assert abs(np.mean(result["difference"]) - truth[measure]) < 0.02 * width
            assert width < 0.5 if measure == "scm_probability" else width < 0.015


def test_mcnemar_within_strata_keeps_its_level_and_finds_an_effect():
    rng = np.random.default_rng(3)
    strata = 20
    weights = rng.dirichlet(np.ones(strata))
    discordant, both = rng.uniform(0, 0.05, strata), rng.uniform(0, 0.1, strata)
    n = rng.integers(20, 300, strata)

    def p_values(share_only_after, campaigns):
        cells = np.stack(
            [
                1 - both - discordant,
                discordant * share_only_after,
                discordant * (1 - share_only_after),
                both,
            ],
            -1,
        )  # (no, no), (no, yes), (yes, no), (yes, yes)
        return np.array(
            [
                stratified_mcnemar(
                    weights,
                    np.stack([rng.multinomial(n[h], cells[h]) for h in range(strata)]).reshape(
                        strata, 2, 2
                    ),
                    np.random.default_rng(r),
                    draws=5000,
                )
                for r in range(campaigns)
            ]
        )

    assert (p_values(0.5, 400) <= 0.05).mean() <= 0.06  # no effect in any stratum
    assert (p_values(0.2, 100) <= 0.05).mean() >= 0.8  # protection removes most discordant events


def injections(round_, population, stratum, outcome, scm):
    return pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "population": population,
            "round": round_,
            "fault_id": np.arange(len(stratum)),
            "image": 0,
            "site": "relu:0",
            "element": 1,
            "bit": 30,
            "fault_model": "bitflip",
            "stratum": stratum,
            "outcome": outcome,
            "sdc_top5": False,
            "scm": scm,
        }
    )


def test_table_pairs_by_round_and_population_and_weights_the_allocation_rounds():
    pilot = injections(0, "all", [0, 1], ["sdc", "sdc"], [True, True])  # enters no estimate
    rounds = pd.concat(
        [
            injections(1, "all", [0, 0, 1, 1, 1], ["sdc", "masked", "sdc", "due", "masked"], False),
            injections(2, "all", [0, 1, 1], ["sdc", "sdc", "masked"], [True, False, False]),
        ]
    )  # the same fault_id in both rounds
    unprotected = pd.concat([pilot, rounds], ignore_index=True)
    protected = unprotected.assign(outcome="masked", scm=False)
    protected.loc[7, ["outcome", "scm"]] = ["sdc", True]  # round 2, fault 0 stays an SCM
    strata = {("d", "m", "all"): pd.DataFrame({"weight": [0.25, 0.75]})}
    fault_free = pd.DataFrame(
        {"dataset": "d", "model": "m", "label": [1], "top1_unprotected": [1], "top1_protected": [1]}
    )
    params = {
        "seed": 1,
        "campaign": "c",
        "confidence": 0.95,
        "stratified": {"strata": "field_value"},
    }
    table = stratified_protection_table(protected, unprotected, fault_free, strata, params)
    table = table.set_index("measure")
    assert table["scenario"].tolist() == ["all"] * 4 + ["fault_free"]
    weights = strata["d", "m", "all"]["weight"].to_numpy()
    for side, frame in (("unprotected", unprotected), ("protected", protected)):
        expected = estimate(stratum_counts(frame[frame["round"] > 0], 2), weights)
        for measure, metric in (("sdc", "sdc_rate"), ("due", "due_rate"), ("scm", "scm_rate")):
            assert table.loc[measure, f"rate_{side}"] == pytest.approx(
                float(expected[metric]["estimate"]), abs=1e-15
            )
    assert table.loc["scm_probability", "rate_unprotected"] == pytest.approx(
        float(estimate(stratum_counts(rounds, 2), weights)["scm_probability"]["estimate"])
    )
    assert table.loc["sdc", ["trials", "count_unprotected", "count_protected"]].tolist() == [
        8,
        4,
        1,
    ]
    assert table.loc["sdc", ["only_unprotected", "only_protected"]].tolist() == [3, 0]
    assert pd.isna(table.loc["scm_probability", "mcnemar_p"])
    assert table.loc["sdc", "difference_lo"] <= table.loc["sdc", "difference"] <= 0
    with pytest.raises(ValueError, match="fault lists differ \\(model m, fault 1\\)"):
        stratified_protection_table(
            protected.assign(bit=[30, 30, 30, 3, 30, 30, 30, 30, 30, 30]),
            unprotected,
            fault_free,
            strata,
            params,
        )


def test_figure_of_a_pair_without_an_all_scenario(tmp_path):
    from dnnfi.analysis import figures

    both = pd.concat(
        [
            injections(1, population, [0, 1, 1], ["sdc", "masked", "sdc"], [True, False, False])
            for population in ("fi_correct", "fi_misclassified")
        ],
        ignore_index=True,
    )
    strata = {
        ("d", "m", p): pd.DataFrame({"weight": [0.5, 0.5]})
        for p in ("fi_correct", "fi_misclassified")
    }
    fault_free = pd.DataFrame(
        {"dataset": "d", "model": "m", "label": [1], "top1_unprotected": [1], "top1_protected": [1]}
    )
    params = {"seed": 1, "campaign": "c", "confidence": 0.95, "stratified": {"strata": "bit"}}
    table = stratified_protection_table(
        both.assign(outcome="masked", scm=False), both, fault_free, strata, params
    )
    assert table["scenario"].tolist() == ["fi_correct"] * 4 + ["fi_misclassified"] * 4 + [
        "fault_free"
    ]
    paths = [tmp_path / "p.png", tmp_path / "p.pdf"]
    figures.protection(table, paths)
    assert all(p.stat().st_size > 10_000 for p in paths)
