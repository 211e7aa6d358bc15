"""Outcome rates with Wilson intervals, the SCM scenarios of the TensorFI+ study and the summary
tables of both studies.

All rates are shares in [0, 1]; ``*_lo`` / ``*_hi`` are Wilson score interval bounds
(statsmodels) at ``confidence`` (default 95%), ``*_margin`` the larger distance from the rate to a
bound (the achieved margin, see :func:`dnnfi.analysis.intervals.wilson`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from dnnfi.analysis.intervals import percent, wilson
from dnnfi.analysis.taxonomy import Taxonomy
from dnnfi.faults.outcomes import OUTCOMES

CONFIDENCE = 0.95
#: fault-free errors (reference = ground truth); SDCs of injections (reference = golden prediction)
#: on initially correct images, on all initially misclassified images, and on those split by
#: whether the initial error was itself SCM
SCENARIOS = (
    "fault_free",
    "fi_correct",
    "fi_misclassified",
    "fi_misclassified_scm",
    "fi_misclassified_nonscm",
)
#: the images injections hit, by the fault-free outcome (bit sweeps and stratified campaigns)
FI_POPULATIONS = ("all", "fi_correct", "fi_misclassified")
SCENARIO_LABELS = {
    "all": "FI, all images",
    "fault_free": "fault-free",
    "fi_correct": "FI, initially correct",
    "fi_misclassified": "FI, initially misclassified",
    "fi_misclassified_scm": "FI, initially misclassified (SCM)",
    "fi_misclassified_nonscm": "FI, initially misclassified (non-SCM)",
}
RATE_COLUMNS = ("masked", "benign", "sdc", "sdc_top5", "due")


def with_interval(
    table: pd.DataFrame, name: str, count: str, total: str, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Add ``name``, ``name_lo``, ``name_hi`` and ``name_margin`` = count / total with a Wilson
    interval (:func:`dnnfi.analysis.intervals.wilson`); NaN where total is 0."""
    interval = wilson(table[count], table[total], confidence)
    table[name] = interval["estimate"]
    for part in ("lo", "hi", "margin"):
        table[f"{name}_{part}"] = interval[part]
    return table


def outcome_table(
    injections: pd.DataFrame, by: list[str], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Counts and rates (with intervals) of masked, benign, SDC, SDC (top-5) and DUE per group of ``by``.

    With an ``scm`` column (see ``annotate_scm``) also the SCM count, the absolute SCM rate per
    injection (``scm_rate``) and the SCM probability (``scm_probability`` = SCM / SDC).
    """
    flags = pd.get_dummies(injections["outcome"].astype(pd.CategoricalDtype(OUTCOMES)))
    flags["sdc_top5"] = injections["sdc_top5"].to_numpy(bool)
    if "scm" in injections:
        flags["scm"] = injections["scm"].to_numpy(bool)
    flags["injections"] = 1
    counts = (
        pd.concat([injections[by], flags.astype(int)], axis=1)
        .groupby(by, observed=True, sort=True)
        .sum()
    )
    table = counts.reset_index()
    for outcome in RATE_COLUMNS:
        table = with_interval(table, f"{outcome}_rate", outcome, "injections", confidence)
    if "scm" in injections:
        table = with_interval(table, "scm_rate", "scm", "injections", confidence)
        table = with_interval(table, "scm_probability", "scm", "sdc", confidence)
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
    out["scm"] = (out["outcome"] == "sdc").to_numpy() & taxonomy.is_scm(
        out["golden_top1"], out["faulty_top1"]
    )
    return out


def scm_table(
    injections: pd.DataFrame,
    baselines: pd.DataFrame,
    taxonomies: dict[str, Taxonomy],
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """SCM probability (share of mispredictions that are SCM) and absolute SCM rate per trial, per
    data set, model and scenario (``SCENARIOS``), with Wilson intervals.

    Trials are images for ``fault_free`` (mispredictions: wrong top-1 against the ground truth) and
    injections otherwise (mispredictions: SDCs). Scenarios with no trials are left out.
    """
    rows = []
    for (dataset, model), base in baselines.groupby(["dataset", "model"], sort=True):
        wrong = base[~base["correct"]]
        scm = taxonomies[dataset].is_scm(wrong["label"], wrong["golden_top1"])
        rows.append(
            dict(
                dataset=dataset,
                model=model,
                scenario="fault_free",
                trials=len(base),
                mispredictions=len(wrong),
                scm=int(scm.sum()),
            )
        )
    misclassified = injections[injections["scenario"] != "fi_correct"].assign(
        scenario="fi_misclassified"
    )
    for (dataset, model, scenario), inj in pd.concat([injections, misclassified]).groupby(
        ["dataset", "model", "scenario"], sort=True
    ):
        rows.append(
            dict(
                dataset=dataset,
                model=model,
                scenario=scenario,
                trials=len(inj),
                mispredictions=int((inj["outcome"] == "sdc").sum()),
                scm=int(inj["scm"].sum()),
            )
        )
    table = pd.DataFrame(rows)
    table["scenario"] = pd.Categorical(table["scenario"], SCENARIOS, ordered=True)
    table = table.sort_values(["dataset", "model", "scenario"], ignore_index=True)
    table["scenario"] = table["scenario"].astype(str)
    table = with_interval(table, "scm_probability", "scm", "mispredictions", confidence)
    return with_interval(table, "scm_rate", "scm", "trials", confidence)


def activation_summary(
    injections: pd.DataFrame,
    baselines: pd.DataFrame,
    scm: pd.DataFrame,
    confidence: float = CONFIDENCE,
    target_margin: float | None = None,
) -> pd.DataFrame:
    """One row per data set and model: top-1 accuracy, outcome rates with intervals and achieved
    margins, and SCM probability (with interval) per scenario; the published tables' columns."""
    outcomes = outcome_table(injections, ["dataset", "model"], confidence)
    accuracy = baselines.groupby(["dataset", "model"])["correct"].agg(
        images="size", top1_accuracy="mean"
    )
    columns = ["scm_probability", "scm_probability_lo", "scm_probability_hi"]
    per_scenario = []
    for scenario in (
        s for s in SCENARIOS if s in set(scm["scenario"])
    ):  # scm_probability_<scenario>, _lo, _hi
        rows = scm.loc[scm["scenario"] == scenario].set_index(["dataset", "model"])[columns]
        per_scenario.append(
            rows.rename(columns=lambda c: c.replace("probability", f"probability_{scenario}"))
        )
    scm_wide = pd.concat(per_scenario, axis=1)
    keep = ["dataset", "model", "injections"]
    for rate in ("sdc", "sdc_top5", "due", "masked", "benign"):
        keep += [f"{rate}_rate", f"{rate}_rate_lo", f"{rate}_rate_hi"] + (
            ["sdc_rate_margin"] if rate == "sdc" else []
        )
    table = accuracy.reset_index().merge(outcomes[keep], on=["dataset", "model"])
    table = table.merge(scm_wide.reset_index(), on=["dataset", "model"], how="left")
    table.insert(table.columns.get_loc("sdc_rate_margin") + 1, "target_margin", target_margin)
    table.insert(table.columns.get_loc("injections") + 1, "confidence", confidence)
    return table


def weight_summary(replicas: pd.DataFrame) -> pd.DataFrame:
    """Per data set, model, frate and perturbation: faulty weights, replicas, mean top-1 error with
    a 95% Student-t interval over replicas (NaN with one replica), its standard deviation, and the
    mean top-5 error (errors are shares in [0, 1])."""
    grouped = replicas.groupby(["dataset", "model", "frate", "perturbation"], sort=True)
    table = grouped.agg(
        faults=("n_faults", "mean"),
        replicas=("replica", "count"),
        top1_error_mean=("top1_error", "mean"),
        top1_error_std=("top1_error", "std"),
        top5_error_mean=("top5_error", "mean"),
    ).reset_index()
    n = table["replicas"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * table["top1_error_std"] / np.sqrt(n)
    table.insert(
        table.columns.get_loc("top1_error_mean") + 1,
        "top1_error_mean_lo",
        table["top1_error_mean"] - half,
    )
    table.insert(
        table.columns.get_loc("top1_error_mean") + 2,
        "top1_error_mean_hi",
        table["top1_error_mean"] + half,
    )
    return table


def published_activation(summary: pd.DataFrame) -> pd.DataFrame:
    """The TensorFI+ study's table layout from ``activation_summary``: data set, model, top-1
    accuracy, SDC rate with interval and achieved margin, SCM probability per scenario."""
    conf = f"{100 * summary['confidence'].iloc[0]:g}%" if len(summary) else "95%"
    table = pd.DataFrame(
        {
            "Data set": summary["dataset"],
            "Model": summary["model"],
            "Top-1 accuracy": percent(summary["top1_accuracy"]),
            "Injections": summary["injections"],
            f"SDC rate [{conf} CI]": percent(
                summary["sdc_rate"], summary["sdc_rate_lo"], summary["sdc_rate_hi"]
            ),
            "Achieved margin": ["±" + s for s in percent(summary["sdc_rate_margin"])],
            "Target margin": [
                "" if pd.isna(t) else f"±{100 * t:g}%" for t in summary["target_margin"]
            ],
            f"DUE rate [{conf} CI]": percent(
                summary["due_rate"], summary["due_rate_lo"], summary["due_rate_hi"]
            ),
        }
    )
    for scenario in SCENARIOS:
        col = f"scm_probability_{scenario}"
        if col in summary:
            table[f"SCM prob., {SCENARIO_LABELS[scenario]}"] = percent(
                summary[col], summary[f"{col}_lo"], summary[f"{col}_hi"], digits=1
            )
    return table


def published_weight(summary: pd.DataFrame) -> pd.DataFrame:
    """The Rojas et al. study's layout from ``weight_summary``: mean top-1 error per model, frate
    and perturbation (with interval and std over replicas); frate 0 is the fault-free run."""
    return pd.DataFrame(
        {
            "Data set": summary["dataset"],
            "Model": summary["model"],
            "frate": summary["frate"].map(lambda f: f"{f:g}"),
            "Perturbation": summary["perturbation"],
            "Faulty weights": summary["faults"].round().astype(int),
            "Replicas": summary["replicas"],
            "Mean top-1 error [95% CI]": [
                s if np.isfinite(lo) else s.split(" [")[0] + " (one run)"
                for s, lo in zip(
                    percent(
                        summary["top1_error_mean"],
                        summary["top1_error_mean_lo"],
                        summary["top1_error_mean_hi"],
                    ),
                    summary["top1_error_mean_lo"],
                )
            ],
            "Std top-1 error": [
                s if s != "n/a" else "" for s in percent(summary["top1_error_std"])
            ],
            "Mean top-5 error": percent(summary["top5_error_mean"]),
        }
    )
