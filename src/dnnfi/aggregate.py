"""Outcome rates with Wilson intervals and the SCM scenarios of the TensorFI+ study.

All rates are shares in [0, 1]; ``*_lo`` / ``*_hi`` are 95% Wilson score interval bounds
(statsmodels), ``*_margin`` the larger distance from the rate to a bound (the achieved margin).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from dnnfi.outcomes import OUTCOMES
from dnnfi.taxonomy import Taxonomy

CONFIDENCE = 0.95
SCENARIOS = ("fault_free", "fi_correct", "fi_misclassified_scm", "fi_misclassified_nonscm")


def with_interval(table: pd.DataFrame, name: str, count: str, total: str) -> pd.DataFrame:
    """Add ``name``, ``name_lo``, ``name_hi`` and ``name_margin`` = count / total with a Wilson interval."""
    k = table[count].to_numpy(dtype=float)
    n = table[total].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo, hi = proportion_confint(k, np.maximum(n, 1), alpha=1 - CONFIDENCE, method="wilson")
        rate = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    table[name] = rate
    # the closed form can land 1e-17 on the wrong side of 0 or 1; an interval always holds its rate
    table[f"{name}_lo"] = np.where(n > 0, np.minimum(lo, rate), np.nan)
    table[f"{name}_hi"] = np.where(n > 0, np.maximum(hi, rate), np.nan)
    table[f"{name}_margin"] = np.maximum(table[name] - table[f"{name}_lo"], table[f"{name}_hi"] - table[name])
    return table


def outcome_table(injections: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Counts and rates of masked, benign, SDC, SDC (top-5) and DUE per group of ``by``."""
    flags = pd.get_dummies(injections["outcome"].astype(pd.CategoricalDtype(OUTCOMES)))
    flags["sdc_top5"] = injections["sdc_top5"].to_numpy(bool)
    flags["injections"] = 1
    counts = pd.concat([injections[by], flags.astype(int)], axis=1).groupby(by, observed=True, sort=True).sum()
    table = counts.reset_index()
    for outcome in (*OUTCOMES, "sdc_top5"):
        table = with_interval(table, f"{outcome}_rate", outcome, "injections")
    return table


def annotate_scm(injections: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """Add ``scenario`` and ``scm`` (faulty prediction is a safety-critical misclassification).

    The reference is the golden prediction: SCM iff the injection is an SDC and the taxonomy's
    rule holds for (golden top-1, faulty top-1). Images misclassified before the fault are split
    by whether that initial error (ground truth -> golden prediction) was itself SCM.
    """
    out = injections.copy()
    initial_scm = taxonomy.is_scm(out["label"], out["baseline_top1"]) & ~out["initially_correct"]
    out["scenario"] = np.select(
        [out["initially_correct"].to_numpy(bool), initial_scm.to_numpy(bool)],
        ["fi_correct", "fi_misclassified_scm"],
        "fi_misclassified_nonscm",
    )
    out["scm"] = (out["outcome"] == "sdc").to_numpy() & taxonomy.is_scm(out["golden_top1"], out["faulty_top1"])
    return out


def scm_table(injections: pd.DataFrame, baselines: pd.DataFrame, taxonomies: dict[str, Taxonomy]) -> pd.DataFrame:
    """SCM probability (share of mispredictions that are SCM) and absolute SCM rate per injection
    (or per image for fault-free inference), per data set, model and scenario, with intervals."""
    rows = []
    for (dataset, model), base in baselines.groupby(["dataset", "model"], sort=True):
        wrong = base[~base["correct"]]
        scm = taxonomies[dataset].is_scm(wrong["label"], wrong["golden_top1"])
        rows.append(dict(dataset=dataset, model=model, scenario="fault_free", trials=len(base),
                         mispredictions=len(wrong), scm=int(scm.sum())))
    for (dataset, model, scenario), inj in injections.groupby(["dataset", "model", "scenario"], sort=True):
        rows.append(dict(dataset=dataset, model=model, scenario=scenario, trials=len(inj),
                         mispredictions=int((inj["outcome"] == "sdc").sum()), scm=int(inj["scm"].sum())))
    table = pd.DataFrame(rows)
    table = with_interval(table, "scm_probability", "scm", "mispredictions")
    return with_interval(table, "scm_rate", "scm", "trials")


def activation_summary(injections: pd.DataFrame, baselines: pd.DataFrame, scm: pd.DataFrame) -> pd.DataFrame:
    """One row per data set and model: top-1 accuracy, SDC and DUE rates with intervals, and
    SCM probability per scenario (the published tables' columns)."""
    outcomes = outcome_table(injections, ["dataset", "model"])
    accuracy = baselines.groupby(["dataset", "model"])["correct"].mean().rename("top1_accuracy").reset_index()
    scm_wide = scm.pivot(index=["dataset", "model"], columns="scenario", values="scm_probability")
    scm_wide.columns = [f"scm_probability_{c}" for c in scm_wide.columns]
    keep = ["dataset", "model", "injections", "sdc_rate", "sdc_rate_lo", "sdc_rate_hi", "sdc_rate_margin",
            "sdc_top5_rate", "due_rate", "due_rate_lo", "due_rate_hi", "masked_rate", "benign_rate"]
    return accuracy.merge(outcomes[keep], on=["dataset", "model"]).merge(scm_wide.reset_index(), on=["dataset", "model"])


def weight_summary(replicas: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and count of replica errors per model, frate and perturbation."""
    grouped = replicas.groupby(["dataset", "model", "frate", "perturbation"], sort=True)
    return grouped.agg(
        faults=("n_faults", "mean"),
        replicas=("replica", "count"),
        top1_error_mean=("top1_error", "mean"),
        top1_error_std=("top1_error", "std"),
        top5_error_mean=("top5_error", "mean"),
    ).reset_index()
