import numpy as np
import pandas as pd

from dnnfi import stats


def replicas():
    rows = []
    errors = {
        ("a", 0.1): [0.10, 0.12, 0.14], ("a", 0.2): [0.20, 0.30, 0.40],
        ("b", 0.1): [0.11, 0.11, 0.11 + 1e-9], ("b", 0.2): [0.50, 0.52, 0.54],
    }
    for (model, frate), values in errors.items():
        rows += [dict(model=model, frate=frate, perturbation="zero", replica=i, top1_error=v) for i, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_descriptive_by_hand():
    d = stats.descriptive(replicas()).set_index(["model", "frate"])
    assert np.isclose(d.loc[("a", 0.2), "mean"], 0.3) and np.isclose(d.loc[("a", 0.2), "std"], 0.1)
    assert np.isclose(d.loc[("a", 0.2), "iqr"], 0.1)  # numpy linear quartiles 0.25 and 0.35
    assert d.loc[("a", 0.2), "outliers"] == 0


def test_one_way_anova_by_hand():
    # frate 0.1: groups a=[.10,.12,.14] (mean .12), b=~[.11]*3; grand mean .115
    # SSB = 3*(.005^2)*2 = 1.5e-4 (df 1); SSW = .0008 (df 4) -> F = 1.5e-4 / 2e-4 = 0.75
    table = stats.anova_models(replicas()).set_index("frate")
    assert np.isclose(table.loc[0.1, "F"], 0.75, rtol=1e-5)
    assert not table.loc[0.1, "reject_equal_means"] and table.loc[0.2, "reject_equal_means"]


def test_equal_variance_and_factorial_anova():
    ev = stats.equal_variance(replicas()).set_index(["model", "test"])
    # b: variance ~0 at frate 0.1 vs 4e-4 at 0.2 -> Bartlett rejects equal variances
    assert ev.loc[("b", "bartlett"), "reject_equal_variances"]
    fac = stats.anova_factorial(replicas()).set_index("term")
    assert {"C(model)", "C(frate)", "C(model):C(frate)", "Residual"} <= set(fac.index)
    assert fac.loc["Residual", "df"] == 8
    tk = stats.tukey(replicas())
    assert len(tk) == 2 and set(tk["group1"]) == {"a"}
