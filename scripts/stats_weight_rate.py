from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

import numpy as np
import pandas as pd

from dnnfi.analysis import stats
from dnnfi.designs.weight_rate import STATS

params = snakemake.params
replicas = pd.read_csv(snakemake.input.replicas)
faulty = replicas[replicas["frate"] > 0]  # the fault-free rows are one run per model, not replicas
VALUE = "top1_error"
SETTINGS = ["frate", "perturbation"]
#: per test: the rows' keys, the factor whose groups it compares, its statistic and decision columns
TESTS = {
    "anova_models": (SETTINGS, "model", ["F", "p_value"], "reject_equal_means"),
    "tukey": (SETTINGS, "model", ["meandiff", "p_adj", "lower", "upper"], "reject"),
    "equal_variance": (
        ["model", "perturbation"],
        "frate",
        ["statistic", "p_value"],
        "reject_equal_variances",
    ),
}


def not_applicable(name, reason):
    """The rows a test would have, with no numbers and the reason it cannot run."""
    if name in ("anova_models", "tukey"):
        rows = faulty[SETTINGS].drop_duplicates().sort_values(SETTINGS)
    elif name == "equal_variance":
        keys = (
            faulty[["model", "perturbation"]]
            .drop_duplicates()
            .sort_values(["model", "perturbation"])
        )
        rows = keys.merge(pd.DataFrame({"test": ["levene", "bartlett"]}), how="cross")
    else:
        rows = pd.DataFrame({"term": [np.nan]})
    return rows.assign(reason=reason).reset_index(drop=True)


def constant(values) -> bool:
    """All equal up to rounding (errors are shares in [0, 1])."""
    return np.ptp(np.asarray(values, dtype=float)) <= 1e-12


def degenerate(name, key, test=None):
    """Why a test's statistic is undefined for the replicas of one row (None if it is defined).
    scipy returns inf, a tiny p-value or NaN there, which would read as a decision."""
    by, factor = TESTS[name][0], TESTS[name][1]
    rows = faulty[(faulty[by] == pd.Series(key, index=by)).all(axis=1)]
    samples = [g[VALUE].to_numpy() for _, g in rows.groupby(factor, sort=True)]
    if test == "bartlett" and any(constant(s) for s in samples):
        return f"bartlett undefined: the replicas of a {factor} are all equal (zero variance)"
    if test == "levene" and all(constant(np.abs(s - np.median(s))) for s in samples):
        return (
            f"levene undefined: the deviations from the median do not vary within any {factor} "
            "(always so with 2 replicas)"
        )
    if test is None and all(constant(s) for s in samples):
        return (
            f"undefined: the replicas of every {factor} are all equal (no variance within groups)"
        )
    return None


def run(name):
    if name in params.not_applicable:
        return not_applicable(name, params.not_applicable[name])
    if name == "std_intervals":
        table = stats.std_intervals(faulty, alpha=1 - params.confidence)
    else:
        table = getattr(stats, name)(faulty)
    table["reason"] = ""
    if name in TESTS and len(table):
        by, _, numbers, decision = TESTS[name]
        reasons = [degenerate(name, tuple(row[by]), row.get("test")) for _, row in table.iterrows()]
        undefined = pd.Series([r is not None for r in reasons], index=table.index)
        table["reason"] = [r or "" for r in reasons]
        table.loc[undefined, numbers] = np.nan
        # neither rejected nor kept: the decision is left empty, not False
        table[decision] = table[decision].astype("object").where(~undefined, pd.NA)
    if name == "anova_factorial":
        residual = table.loc[table["term"] == "Residual", "sum_sq"]
        if len(residual) and np.isclose(residual.iloc[0], 0, atol=1e-12):
            terms = table["term"] != "Residual"
            table.loc[terms, ["F", "p_value"]] = np.nan
            table.loc[terms, "reason"] = (
                "undefined: no residual variance (replicas equal within every cell)"
            )
    return table


for name in STATS:
    table = run(name)
    table.to_csv(snakemake.output[name], index=False)
    log.info("%s:\n%s", name, table.to_string())
