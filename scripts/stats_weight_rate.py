import numpy as np
import pandas as pd

from dnnfi import runlog, stats
from dnnfi.config import WEIGHT_STATS

log = runlog.start(snakemake.log[0])
params = snakemake.params
replicas = pd.read_csv(snakemake.input.replicas)
faulty = replicas[replicas["frate"] > 0]  # the fault-free rows are one run per model, not replicas
REJECT = {"anova_models": "reject_equal_means", "equal_variance": "reject_equal_variances", "tukey": "reject"}
SETTINGS = ["frate", "perturbation"]


def not_applicable(name, reason):
    """The rows a test would have, with no numbers and the reason it cannot run."""
    if name in ("anova_models", "tukey"):
        rows = faulty[SETTINGS].drop_duplicates().sort_values(SETTINGS)
    elif name == "equal_variance":
        keys = faulty[["model", "perturbation"]].drop_duplicates().sort_values(["model", "perturbation"])
        rows = keys.merge(pd.DataFrame({"test": ["levene", "bartlett"]}), how="cross")
    else:
        rows = pd.DataFrame({"term": [np.nan]})
    return rows.assign(reason=reason).reset_index(drop=True)


def run(name):
    if name in params.not_applicable:
        return not_applicable(name, params.not_applicable[name])
    if name == "std_intervals":
        table = stats.std_intervals(faulty, alpha=1 - params.confidence)
    else:
        table = getattr(stats, name)(faulty)
    table["reason"] = ""
    if "p_value" in table:
        # a test whose statistic is undefined (e.g. identical errors in every replica of a group)
        # neither rejects nor keeps its hypothesis: its decision is left empty, not False
        undefined = table["p_value"].isna()
        if name == "anova_factorial":
            undefined &= table["term"] != "Residual"  # the residual row has no test of its own
        table.loc[undefined, "reason"] = "statistic undefined: no variation within the compared groups"
        if name in REJECT:
            table[REJECT[name]] = table[REJECT[name]].astype("object").where(~undefined, pd.NA)
    return table


for name in WEIGHT_STATS:
    table = run(name)
    table.to_csv(snakemake.output[name], index=False)
    log.info("%s:\n%s", name, table.to_string())
