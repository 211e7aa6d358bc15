"""Statistics of the weight failure-rate study (Rojas et al.) on per-replica errors.

Input: one row per replica with ``model``, ``frate``, ``perturbation`` and ``top1_error``
(a share in [0, 1]); every test runs at ``ALPHA`` = 0.05.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.multicomp import pairwise_tukeyhsd

SETTING = ["frate", "perturbation"]
ALPHA = 0.05


def descriptive(replicas: pd.DataFrame, value: str = "top1_error") -> pd.DataFrame:
    """Mean, std, median, quartiles, IQR, skewness and Tukey-fence outliers per model and setting."""

    def describe(x: pd.Series) -> pd.Series:
        q1, q3 = np.percentile(x, [25, 75])
        iqr = q3 - q1
        outliers = ((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)).sum()
        return pd.Series(
            {
                "n": len(x),
                "mean": x.mean(),
                "std": x.std(ddof=1),
                "median": x.median(),
                "q1": q1,
                "q3": q3,
                "iqr": iqr,
                "min": x.min(),
                "max": x.max(),
                "skewness": stats.skew(x, bias=False) if x.nunique() > 1 and len(x) > 2 else np.nan,
                "outliers": int(outliers),
            }
        )

    return (
        replicas.groupby(["model", *SETTING], sort=True)[value]
        .apply(describe)
        .unstack()
        .reset_index()
    )


def anova_models(replicas: pd.DataFrame, value: str = "top1_error") -> pd.DataFrame:
    """One-way ANOVA of the error across models, per (frate, perturbation)."""
    rows = []
    for setting, group in replicas.groupby(SETTING, sort=True):
        samples = [g[value].to_numpy() for _, g in group.groupby("model", sort=True)]
        f, p = stats.f_oneway(*samples) if len(samples) > 1 else (np.nan, np.nan)
        rows.append(
            {
                **dict(zip(SETTING, setting)),
                "models": len(samples),
                "F": f,
                "p_value": p,
                "reject_equal_means": bool(p < ALPHA),
            }
        )
    return pd.DataFrame(rows)


def anova_factorial(replicas: pd.DataFrame, value: str = "top1_error") -> pd.DataFrame:
    """Type-II ANOVA of ``value ~ model x frate x perturbation`` (factors that vary only)."""
    factors = [f for f in ("model", "frate", "perturbation") if replicas[f].nunique() > 1]
    if not factors:
        raise ValueError("factorial ANOVA: none of model, frate, perturbation vary in the replicas")
    formula = f"{value} ~ " + " * ".join(f"C({f})" for f in factors)
    table = anova_lm(ols(formula, data=replicas).fit(), typ=2)
    return table.rename_axis("term").reset_index().rename(columns={"PR(>F)": "p_value"})


def equal_variance(replicas: pd.DataFrame, value: str = "top1_error") -> pd.DataFrame:
    """Levene (median-centred) and Bartlett tests of equal variances across frates, per model and perturbation."""
    rows = []
    for (model, perturbation), group in replicas.groupby(["model", "perturbation"], sort=True):
        samples = [g[value].to_numpy() for _, g in group.groupby("frate", sort=True)]
        for test, fn in (("levene", stats.levene), ("bartlett", stats.bartlett)):
            stat, p = fn(*samples) if len(samples) > 1 else (np.nan, np.nan)
            rows.append(
                {
                    "model": model,
                    "perturbation": perturbation,
                    "test": test,
                    "frates": len(samples),
                    "statistic": stat,
                    "p_value": p,
                    "reject_equal_variances": bool(p < ALPHA),
                }
            )
    return pd.DataFrame(rows)


def std_intervals(
    replicas: pd.DataFrame, value: str = "top1_error", alpha: float = ALPHA
) -> pd.DataFrame:
    """Bonferroni simultaneous intervals for the standard deviation of ``value`` per frate, per
    model and perturbation (the intervals of a Minitab-style equal-variances test).

    For n replicas with sample std s the chi-square interval is
    [s sqrt((n-1) / chi2(1 - a/2, n-1)), s sqrt((n-1) / chi2(a/2, n-1))] with a = alpha / m,
    m the number of frates of that model and perturbation, so that the m intervals hold together
    with confidence 1 - alpha.
    """
    rows = []
    for (model, perturbation), group in replicas.groupby(["model", "perturbation"], sort=True):
        per_frate = group.groupby("frate", sort=True)[value]
        level = alpha / per_frate.ngroups
        for frate, x in per_frate:
            n, sd = len(x), x.std(ddof=1)
            lo, hi = (
                np.sqrt((n - 1) / stats.chi2.ppf(q, n - 1)) * sd for q in (1 - level / 2, level / 2)
            )
            rows.append(
                {
                    "model": model,
                    "perturbation": perturbation,
                    "frate": frate,
                    "n": n,
                    "std": sd,
                    "std_lo": lo,
                    "std_hi": hi,
                    "confidence": 1 - level,
                }
            )
    return pd.DataFrame(rows)


def tukey(replicas: pd.DataFrame, value: str = "top1_error") -> pd.DataFrame:
    """Tukey HSD between models per (frate, perturbation): ``meandiff`` = mean(group2) - mean(group1)
    with its simultaneous interval ``lower``..``upper`` and adjusted ``p_adj``."""
    frames = []
    for setting, group in replicas.groupby(SETTING, sort=True):
        if group["model"].nunique() < 2:
            continue
        result = pairwise_tukeyhsd(group[value].to_numpy(), group["model"].to_numpy(), alpha=ALPHA)
        pairs = list(combinations(result.groupsunique, 2))  # the order of statsmodels' results
        frames.append(
            pd.DataFrame(
                {
                    **dict(zip(SETTING, setting)),
                    "group1": [a for a, _ in pairs],
                    "group2": [b for _, b in pairs],
                    "meandiff": result.meandiffs,
                    "p_adj": result.pvalues,
                    "lower": result.confint[:, 0],
                    "upper": result.confint[:, 1],
                    "reject": result.reject,
                }
            )
        )
    columns = [*SETTING, "group1", "group2", "meandiff", "p_adj", "lower", "upper", "reject"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
