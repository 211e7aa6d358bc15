import numpy as np
import pandas as pd

from dnnfi.analysis.aggregate import (
    activation_summary,
    annotate_scm,
    outcome_table,
    published_activation,
    published_weight,
    scm_table,
    weight_summary,
    with_interval,
)
from dnnfi.analysis.intervals import wilson
from dnnfi.analysis.taxonomy import load


def wilson_by_hand(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_wilson_interval_matches_the_formula():
    table = with_interval(pd.DataFrame({"k": [5, 0, 30], "n": [100, 40, 30]}), "rate", "k", "n")
    for row in table.itertuples():
        lo, hi = wilson_by_hand(row.k, row.n)
        assert np.isclose(row.rate_lo, lo) and np.isclose(row.rate_hi, hi)
    assert table["rate"].tolist() == [0.05, 0.0, 1.0]
    assert np.isclose(table["rate_lo"][0], 0.02154, atol=1e-5) and np.isclose(
        table["rate_hi"][0], 0.11175, atol=1e-5
    )
    # the tables' achieved margin is the quantity the sequential stopping rule checks
    assert np.allclose(table["rate_margin"], wilson(table["k"], table["n"])["margin"])
    wide = with_interval(pd.DataFrame({"k": [5], "n": [100]}), "rate", "k", "n", confidence=0.99)
    assert wide["rate_lo"][0] < table["rate_lo"][0] and wide["rate_hi"][0] > table["rate_hi"][0]


def injections():
    # digits taxonomy: low 0-2 and mid 3-6 are safety-critical (A), high 7-9 is B
    return pd.DataFrame(
        {
            "dataset": "digits",
            "model": "m",
            "image": [0, 0, 1, 1, 2, 2],
            "label": [3, 3, 8, 8, 0, 0],
            "baseline_top1": [3, 3, 8, 8, 5, 5],
            "initially_correct": [True, True, True, True, False, False],
            "golden_top1": [3, 3, 8, 8, 5, 5],
            "faulty_top1": [9, 4, 1, 8, 8, 5],
            "outcome": pd.Categorical(["sdc", "sdc", "sdc", "masked", "sdc", "benign"]),
            "sdc_top5": False,
            "bit": [30, 30, 29, 1, 30, 2],
        }
    )


def test_scm_scenarios_and_rates():
    tax = load("digits")
    annotated = annotate_scm(injections(), tax)
    assert annotated["scm"].tolist() == [True, False, False, False, True, False]
    assert annotated["scenario"].tolist() == ["fi_correct"] * 4 + ["fi_misclassified_scm"] * 2
    baselines = pd.DataFrame(
        {
            "dataset": "digits",
            "model": "m",
            "label": [3, 8, 0, 7],
            "golden_top1": [3, 8, 5, 1],
            "correct": [True, True, False, False],
        }
    )
    table = scm_table(annotated, baselines, {"digits": tax}).set_index("scenario")
    assert table.loc["fault_free", ["trials", "mispredictions", "scm"]].tolist() == [4, 2, 1]
    assert table.loc["fi_correct", ["trials", "mispredictions", "scm"]].tolist() == [4, 3, 1]
    assert np.isclose(table.loc["fi_correct", "scm_probability"], 1 / 3)
    assert np.isclose(table.loc["fi_correct", "scm_rate"], 1 / 4)
    assert table.loc["fi_misclassified_scm", "scm_probability"] == 1.0
    # the pooled misclassified scenario holds image 2's two injections (one SCM SDC, one benign)
    assert table.loc["fi_misclassified", ["trials", "mispredictions", "scm"]].tolist() == [2, 1, 1]
    assert "fi_misclassified_nonscm" not in table.index
    assert list(table.index) == [
        "fault_free",
        "fi_correct",
        "fi_misclassified",
        "fi_misclassified_scm",
    ]

    summary = activation_summary(
        annotated, baselines, table.reset_index(), target_margin=0.05
    ).iloc[0]
    assert summary["top1_accuracy"] == 0.5 and summary["injections"] == 6 and summary["images"] == 4
    assert np.isclose(summary["sdc_rate"], 4 / 6) and summary["target_margin"] == 0.05
    assert np.isclose(summary["sdc_rate_margin"], wilson(4, 6)["margin"])
    assert np.isclose(summary["scm_probability_fi_correct"], 1 / 3)
    lo, hi = wilson_by_hand(1, 3)
    assert np.isclose(summary["scm_probability_fi_correct_lo"], lo)
    assert np.isclose(summary["scm_probability_fi_correct_hi"], hi)
    shown = published_activation(pd.DataFrame([summary])).iloc[0]
    assert shown["SDC rate [95% CI]"].startswith("66.67% [") and shown["Top-1 accuracy"] == "50.00%"
    assert shown["SCM prob., FI, initially correct"].startswith("33.3% [")
    assert shown["SCM prob., FI, initially misclassified (SCM)"].startswith("100.0% [")


def test_outcome_table_counts_per_group():
    table = outcome_table(injections(), ["model", "bit"]).set_index("bit")
    assert table.loc[30, ["injections", "sdc", "masked"]].tolist() == [3, 3, 0]
    assert table.loc[1, "masked_rate"] == 1.0 and table.loc[2, "benign"] == 1
    assert table["sdc_rate"].to_dict() == {1: 0.0, 2: 0.0, 29: 1.0, 30: 1.0}


def test_outcome_table_scm_columns():
    table = outcome_table(annotate_scm(injections(), load("digits")), ["model", "bit"]).set_index(
        "bit"
    )
    # bit 30: three SDCs, two of them SCM (3 -> 9 and 5 -> 8)
    assert table.loc[30, ["sdc", "scm"]].tolist() == [3, 2]
    assert np.isclose(table.loc[30, "scm_probability"], 2 / 3) and np.isclose(
        table.loc[30, "scm_rate"], 2 / 3
    )
    assert np.isnan(table.loc[1, "scm_probability"])  # no SDC, no share


def test_weight_summary_mean_interval_by_hand():
    replicas = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "frate": [0.0, 0.1, 0.1, 0.1],
            "perturbation": ["none", "zero", "zero", "zero"],
            "replica": [0, 0, 1, 2],
            "n_faults": [0, 5, 5, 5],
            "top1_error": [0.1, 0.2, 0.3, 0.4],
            "top5_error": 0.0,
        }
    )
    table = weight_summary(replicas).set_index("frate")
    # mean 0.3, std 0.1, n 3: t(0.975, 2) = 4.3027 -> half-width 4.3027 * 0.1 / sqrt(3) = 0.24841
    assert np.isclose(table.loc[0.1, "top1_error_mean_hi"] - 0.3, 0.24841, atol=1e-5)
    assert np.isnan(table.loc[0.0, "top1_error_mean_lo"])  # one fault-free run: no interval
    shown = published_weight(table.reset_index()).set_index("frate")
    assert shown.loc["0.1", "Mean top-1 error [95% CI]"] == "30.00% [5.16, 54.84]"
    assert shown.loc["0", "Mean top-1 error [95% CI]"] == "10.00% (one run)"
    assert shown.loc["0.1", "Faulty weights"] == 5
