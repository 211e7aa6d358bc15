import numpy as np
import pandas as pd

from dnnfi.aggregate import annotate_scm, outcome_table, scm_table, with_interval
from dnnfi.taxonomy import load


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
    assert np.isclose(table["rate_lo"][0], 0.02154, atol=1e-5) and np.isclose(table["rate_hi"][0], 0.11175, atol=1e-5)


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
        {"dataset": "digits", "model": "m", "label": [3, 8, 0, 7], "golden_top1": [3, 8, 5, 1], "correct": [True, True, False, False]}
    )
    table = scm_table(annotated, baselines, {"digits": tax}).set_index("scenario")
    assert table.loc["fault_free", ["trials", "mispredictions", "scm"]].tolist() == [4, 2, 1]
    assert table.loc["fi_correct", ["trials", "mispredictions", "scm"]].tolist() == [4, 3, 1]
    assert np.isclose(table.loc["fi_correct", "scm_probability"], 1 / 3)
    assert np.isclose(table.loc["fi_correct", "scm_rate"], 1 / 4)
    assert table.loc["fi_misclassified_scm", "scm_probability"] == 1.0


def test_outcome_table_counts_per_group():
    table = outcome_table(injections(), ["model", "bit"]).set_index("bit")
    assert table.loc[30, ["injections", "sdc", "masked"]].tolist() == [3, 3, 0]
    assert table.loc[1, "masked_rate"] == 1.0 and table.loc[2, "benign"] == 1
    assert table["sdc_rate"].to_dict() == {1: 0.0, 2: 0.0, 29: 1.0, 30: 1.0}
