import numpy as np
import pandas as pd
import pytest

from dnnfi.analysis import stats


def replicas():
    rows = []
    errors = {
        ("a", 0.1): [0.10, 0.12, 0.14],
        ("a", 0.2): [0.20, 0.30, 0.40],
        ("b", 0.1): [0.11, 0.11, 0.11 + 1e-9],
        ("b", 0.2): [0.50, 0.52, 0.54],
    }
    for (model, frate), values in errors.items():
        rows += [
            dict(model=model, frate=frate, perturbation="zero", replica=i, top1_error=v)
            for i, v in enumerate(values)
        ]
    return pd.DataFrame(rows)


def table_of(groups, key, frate=0.1, perturbation="zero"):
    """Replica rows with one group per value of ``key`` (model or frate)."""
    rows = [
        {"model": "m", "frate": frate, "perturbation": perturbation, key: name, "top1_error": v}
        for name, values in groups.items()
        for v in values
    ]
    return pd.DataFrame(rows)


# scipy.stats.f_oneway documentation example (mussel shell measurements at five sites)
MUSSELS = {
    "tillamook": [0.0571, 0.0813, 0.0831, 0.0976, 0.0817, 0.0859, 0.0735, 0.0659, 0.0923, 0.0836],
    "newport": [0.0873, 0.0662, 0.0672, 0.0819, 0.0749, 0.0649, 0.0835, 0.0725],
    "petersburg": [0.0974, 0.1352, 0.0817, 0.1016, 0.0968, 0.1064, 0.105],
    "magadan": [0.1033, 0.0915, 0.0781, 0.0685, 0.0677, 0.0697, 0.0764, 0.0689],
    "tvarminne": [0.0703, 0.1026, 0.0956, 0.0973, 0.1039, 0.1045],
}
# scipy.stats.levene / bartlett documentation example (three groups of 10)
LEVENE = {
    0.1: [8.88, 9.12, 9.04, 8.98, 9.00, 9.08, 9.01, 8.85, 9.06, 8.99],
    0.2: [8.88, 8.95, 9.29, 9.44, 9.15, 9.58, 8.36, 9.18, 8.67, 9.05],
    0.3: [8.95, 9.12, 8.95, 8.85, 9.03, 8.84, 9.07, 8.98, 8.86, 8.98],
}
# scipy.stats.tukey_hsd documentation example (three groups of 5)
TUKEY = {
    "g0": [24.5, 23.5, 26.4, 27.1, 29.9],
    "g1": [28.4, 34.2, 29.5, 32.2, 30.1],
    "g2": [26.1, 28.3, 24.3, 26.2, 27.8],
}


def test_descriptive_by_hand():
    d = stats.descriptive(replicas()).set_index(["model", "frate"])
    assert np.isclose(d.loc[("a", 0.2), "mean"], 0.3) and np.isclose(d.loc[("a", 0.2), "std"], 0.1)
    assert np.isclose(d.loc[("a", 0.2), "iqr"], 0.1)  # numpy linear quartiles 0.25 and 0.35
    assert d.loc[("a", 0.2), "outliers"] == 0
    # 1, 2, 3, 4, 100: quartiles 2 and 4, upper fence 7 -> one outlier; adjusted Fisher-Pearson skewness
    x = [1.0, 2.0, 3.0, 4.0, 100.0]
    d = stats.descriptive(table_of({"m": x}, "model")).iloc[0]
    assert d["outliers"] == 1 and d["median"] == 3.0 and d["iqr"] == 2.0
    m2, m3 = np.mean((np.array(x) - 22) ** 2), np.mean((np.array(x) - 22) ** 3)
    assert np.isclose(d["skewness"], m3 / m2**1.5 * np.sqrt(5 * 4) / 3)


def test_one_way_anova_by_hand():
    # frate 0.1: groups a=[.10,.12,.14] (mean .12), b=~[.11]*3; grand mean .115
    # SSB = 3*(.005^2)*2 = 1.5e-4 (df 1); SSW = .0008 (df 4) -> F = 1.5e-4 / 2e-4 = 0.75
    table = stats.anova_models(replicas()).set_index("frate")
    assert np.isclose(table.loc[0.1, "F"], 0.75, rtol=1e-5)
    assert not table.loc[0.1, "reject_equal_means"] and table.loc[0.2, "reject_equal_means"]


def test_one_way_anova_reproduces_the_scipy_documentation_example():
    row = stats.anova_models(table_of(MUSSELS, "model")).iloc[0]
    assert row["models"] == 5
    assert np.isclose(row["F"], 7.1210194716424473) and np.isclose(
        row["p_value"], 0.00028122423145345439
    )


def test_levene_and_bartlett_reproduce_the_scipy_documentation_example():
    ev = stats.equal_variance(table_of(LEVENE, "frate")).set_index("test")
    assert np.isclose(ev.loc["levene", "statistic"], 7.584952754501659)
    assert np.isclose(ev.loc["levene", "p_value"], 0.002431505967249681)
    assert np.isclose(ev.loc["bartlett", "statistic"], 22.789434813726768)
    assert np.isclose(ev.loc["bartlett", "p_value"], 1.1254782518834628e-05)
    assert ev["reject_equal_variances"].all() and (ev["frates"] == 3).all()


def test_tukey_reproduces_the_documented_example():
    # scipy's documented table: (0 - 1) -4.600 p 0.014 [-8.249, -0.951]; (0 - 2) -0.260 p 0.980;
    # (1 - 2) 4.340 p 0.020 [0.691, 7.989]. statsmodels reports mean(group2) - mean(group1).
    tk = stats.tukey(table_of(TUKEY, "model")).set_index(["group1", "group2"])
    assert np.allclose(tk["meandiff"], [4.6, 0.26, -4.34])
    assert np.allclose(
        tk.loc[("g0", "g1"), ["lower", "upper"]].astype(float), [0.951, 8.249], atol=1e-3
    )
    assert np.allclose(
        tk.loc[("g1", "g2"), ["lower", "upper"]].astype(float), [-7.989, -0.691], atol=1e-3
    )
    assert np.allclose(tk["p_adj"], [0.014, 0.980, 0.020], atol=1e-3)
    assert tk["reject"].tolist() == [True, False, True]


def test_std_intervals_by_the_chi_square_table():
    # n = 10, s = 1, one frate (no adjustment): chi2(0.975, 9) = 19.023, chi2(0.025, 9) = 2.700
    # -> [sqrt(9 / 19.023), sqrt(9 / 2.700)] = [0.6878, 1.8257]
    x = 1 + np.array([-1, 1] * 5) * np.sqrt(9 / 10)  # sample std exactly 1
    one = stats.std_intervals(table_of({0.1: x}, "frate")).iloc[0]
    assert np.isclose(one["std"], 1.0)
    assert np.allclose([one["std_lo"], one["std_hi"]], [0.6878, 1.8257], atol=1e-4)
    # three frates: Bonferroni level 0.05 / 3 per interval, chi2(0.99167, 9) = 22.18 and chi2(0.00833, 9) = 1.987
    three = stats.std_intervals(table_of({0.1: x, 0.2: 2 * x, 0.3: x}, "frate")).set_index("frate")
    assert np.allclose(
        three.loc[0.1, ["std_lo", "std_hi"]].astype(float),
        [np.sqrt(9 / 22.18), np.sqrt(9 / 1.987)],
        rtol=2e-3,
    )
    assert np.isclose(three.loc[0.2, "std_hi"], 2 * three.loc[0.1, "std_hi"])
    assert np.isclose(three.loc[0.1, "confidence"], 1 - 0.05 / 3)


def test_factorial_anova_by_hand_on_a_balanced_design():
    data = replicas()
    fac = stats.anova_factorial(data).set_index("term")
    assert {"C(model)", "C(frate)", "C(model):C(frate)", "Residual"} <= set(fac.index)
    assert fac.loc["Residual", "df"] == 8
    # balanced 2 x 2 with 3 replicas: SS(model) = 6 * sum over models of (model mean - grand mean)^2
    y = data["top1_error"]
    ss_model = 6 * ((data.groupby("model")["top1_error"].mean() - y.mean()) ** 2).sum()
    ss_resid = ((y - data.groupby(["model", "frate"])["top1_error"].transform("mean")) ** 2).sum()
    assert np.isclose(fac.loc["C(model)", "sum_sq"], ss_model)
    assert np.isclose(fac.loc["Residual", "sum_sq"], ss_resid)
    assert np.isclose(fac.loc["C(model)", "F"], ss_model / (ss_resid / 8))


def test_tests_need_two_groups():
    one = table_of({"m": [0.1, 0.2, 0.3]}, "model")
    assert np.isnan(stats.anova_models(one).iloc[0]["F"])
    assert stats.tukey(one).empty
    with pytest.raises(ValueError, match="vary"):
        stats.anova_factorial(one)
