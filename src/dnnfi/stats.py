"""Statistics of the weight failure-rate study (Rojas et al.) on per-replica errors.

Input: one row per replica with ``model``, ``frate``, ``perturbation`` and ``top1_error``.
"""

from __future__ import annotations

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
        return pd.Series({
            "n": len(x), "mean": x.mean(), "std": x.std(ddof=1), "median": x.median(), "q1": q1, "q3": q3,
            "iqr": iqr, "min": x.min(), "max": x.max(),
            "skewness": stats.skew(x, bias=False) if x.nunique() > 1 and len(x) > 2 else np.nan,
            "outliers": int(outliers),
        })

    return replicas.groupby(["model", *SETTING], sort=True)[value].apply(describe).unstack().reset_index()


def anova_models(replicas: pd.DataFrame, value: str = "top1_error") -> pd.DataFrame:
    """One-way ANOVA of the error across models, per (frate, perturbation)."""
    rows = []
    for setting, group in replicas.groupby(SETTING, sort=True):
        samples = [g[value].to_numpy() for _, g in group.groupby("model", sort=True)]
        f, p = stats.f_oneway(*samples) if len(samples) > 1 else (np.nan, np.nan)
        rows.append({**dict(zip(SETTING, setting)), "models": len(samples), "F": f, "p_value": p,
                     "reject_equal_means": bool(p < ALPHA)})
    return pd.DataFrame(rows)


def anova_factorial(replicas: pd.DataFrame, value: str = "top1_error") -> pd.DataFrame:
    """Type-II ANOVA of ``value ~ model x frate x perturbation`` (factors that vary only)."""
    factors = [f for f in ("model", "frate", "perturbation") if replicas[f].nunique() > 1]
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
            rows.append({"model": model, "perturbation": perturbation, "test": test, "frates": len(samples),
                         "statistic": stat, "p_value": p, "reject_equal_variances": bool(p < ALPHA)})
    return pd.DataFrame(rows)


def tukey(replicas: pd.DataFrame, value: str = "top1_error") -> pd.DataFrame:
    """Tukey HSD between models per (frate, perturbation)."""
    frames = []
    for setting, group in replicas.groupby(SETTING, sort=True):
        if group["model"].nunique() < 2:
            continue
        result = pairwise_tukeyhsd(group[value].to_numpy(), group["model"].to_numpy(), alpha=ALPHA)
        data = result.summary().data
        frame = pd.DataFrame(data[1:], columns=data[0])
        frames.append(frame.assign(**dict(zip(SETTING, setting))))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*SETTING, "group1", "group2"])
