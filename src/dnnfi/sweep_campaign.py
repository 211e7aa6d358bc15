"""Bit-sweep activation campaigns (config key ``bit_sweep``; docs/semantics.md, section 16): the
config check, the per-bit table and the clustered interval of the bit-uniform rate.

A bit-sweep campaign draws *points* (image, site, element) exactly as an activation campaign
draws its faults (same generator, image sampling and site sampling; the drawn bit is dropped) and
evaluates every point at every bit of its site's format, or at every bit of ``bits``
(:func:`dnnfi.faults.bit_sweep`, called by :func:`dnnfi.campaign.campaign_faults` for both
engines). ``injections`` (and ``per_model``, ``per_category``, ...) count points.

- Per bit b, the points are independent draws, so a rate per (model, scenario, bit) is a binomial
  share of ``points`` trials with the Wilson interval of section 8
  (:func:`dnnfi.aggregate.with_interval`), exact per bit.
- Over all bits, the bits of one point are correlated (same image, site and element): the
  *bit-uniform rate* is the mean over points of the share of the point's bits with the event,
  p = mean_i y_i. Its interval (:func:`clustered_rate`) is Wilson's at the Kish effective sample
  size n_eff = p (1 - p) / v (z / t)^2, v = s_y^2 / n the variance of the mean over the n points
  (s_y^2: sample variance of the y_i), (z / t)^2 the small-sample factor of a variance estimated
  from n - 1 degrees of freedom (t: Student's quantile with n - 1 degrees of freedom), clipped to
  [points, injections]: a point's bits count together for at least one trial and for at most one
  trial each. n_eff >= points always holds for the truth (y_i in [0, 1] has variance at most p (1 - p)),
  so the clip at points never makes an interval narrower than treating each point as one trial.
  With p = 0 or 1 (no spread to estimate), or one point, n_eff = points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from dnnfi.aggregate import FI_POPULATIONS, SCENARIO_LABELS, with_interval
from dnnfi.intervals import percent
from dnnfi.stratified import effective_wilson

#: events counted per bit (columns of collected injections, or outcomes); SCM per injection
EVENTS = ("sdc", "sdc_top5", "due", "scm")
EVENT_LABELS = {"sdc": "SDC rate", "sdc_top5": "SDC top-5", "due": "DUE rate", "scm": "SCM rate"}


def check(name: str, campaign: dict) -> str | None:
    """The one-line reason a campaign's ``bit_sweep`` cannot be honoured (None if it can; the
    single-bit fault keys are checked by :func:`dnnfi.config.check_single_bit`)."""
    key = f"config key campaigns.{name}"
    if campaign.get("protection") is not None:
        return (f"{key}.paired_with: campaigns.{campaign['paired_with']} is a bit-sweep campaign, expected one "
                "without bit_sweep (the paired McNemar tables of protection assume independent injections, "
                "and the bits of a swept point are not)")
    if campaign.get("stratified") is not None:
        return f"{key}.stratified: a bit-sweep campaign draws its points uniformly; remove stratified or bit_sweep"
    if campaign["sequential"]:
        return (f"{key}.sequential: a bit-sweep campaign runs all its points (the sequential stop assumes "
                "independent injections); remove it")
    if campaign["margin"] is not None:
        return (f"{key}.margin: a bit-sweep campaign runs `injections` points (Leveugle's sample size assumes "
                "independent injections); remove it")
    return None


def clustered_rate(events, bits, confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Bit-uniform rate over points and its clustered effective-size Wilson interval (module docstring).

    ``events``, ``bits`` (..., points): per point the injections with the event and the bits swept;
    leading axes are independent campaigns. Returns ``estimate``, ``lo``, ``hi``, ``margin`` and
    ``n_eff`` of shape (...)."""
    k = np.asarray(events, dtype=float)
    m = np.asarray(bits, dtype=float)
    n = k.shape[-1]
    if n == 0:
        nan = np.full(k.shape[:-1], np.nan)
        return {"estimate": nan, "lo": nan, "hi": nan, "margin": nan, "n_eff": nan}
    y = k / m
    p = y.mean(axis=-1)
    injections = m.sum(axis=-1)
    if n < 2:
        n_eff = np.full_like(p, float(n))
    else:
        variance = y.var(axis=-1, ddof=1) / n
        z = stats.norm.ppf(0.5 + confidence / 2)
        factor = (z / stats.t.ppf(0.5 + confidence / 2, n - 1)) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            kish = np.where(variance > 0, p * (1 - p) / variance * factor, injections)
        n_eff = np.where((p == 0) | (p == 1), float(n), np.clip(kish, n, injections))
    return effective_wilson(p, p * n_eff, n_eff, confidence)


def with_scenarios(injections: pd.DataFrame) -> pd.DataFrame:
    """Injections (collected, with ``scenario`` of section 7) once as ``all`` and once in their
    scenario, the two misclassified ones merged into ``fi_misclassified``."""
    own = injections.assign(scenario=np.where(injections["scenario"] == "fi_correct", "fi_correct",
                                              "fi_misclassified"))
    return pd.concat([injections.assign(scenario="all"), own], ignore_index=True)


def sweep_table(injections: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per data set, model, scenario and bit: ``points``, ``injections``, the counts of
    :data:`EVENTS` and their rates with Wilson intervals (exact per bit: independent points);
    then one ``bit`` = ``all`` row per data set, model and scenario with the bit-uniform rates and
    their clustered intervals (:func:`clustered_rate`). Every rate also has ``<rate>_n_eff``."""
    flags = injections.assign(sdc=(injections["outcome"] == "sdc").to_numpy(int), due=(injections["outcome"] == "due")
                              .to_numpy(int), sdc_top5=injections["sdc_top5"].to_numpy(int),
                              scm=injections["scm"].to_numpy(int), injections=1)
    flags = with_scenarios(flags)
    keys = ["dataset", "model", "scenario"]
    per_bit = flags.groupby([*keys, "bit"], sort=True)[["injections", *EVENTS]].sum().reset_index()
    per_bit.insert(4, "points", per_bit["injections"])
    for event in EVENTS:
        per_bit = with_interval(per_bit, f"{event}_rate", event, "points", confidence)
        per_bit[f"{event}_rate_n_eff"] = per_bit["points"].astype(float)
    rows = []
    per_point = flags.groupby([*keys, "point"], sort=True)[["injections", *EVENTS]].sum().reset_index()
    for (dataset, model, scenario), part in per_point.groupby(keys, sort=True):
        row = {"dataset": dataset, "model": model, "scenario": scenario, "bit": "all", "points": len(part),
               "injections": int(part["injections"].sum())}
        for event in EVENTS:
            row[event] = int(part[event].sum())
        for event in EVENTS:
            result = clustered_rate(part[event].to_numpy(), part["injections"].to_numpy(), confidence)
            name = f"{event}_rate"
            row |= {name: float(result["estimate"]), f"{name}_lo": float(result["lo"]),
                    f"{name}_hi": float(result["hi"]), f"{name}_margin": float(result["margin"]),
                    f"{name}_n_eff": float(result["n_eff"])}
        rows.append(row)
    table = pd.concat([per_bit.astype({"bit": object}), pd.DataFrame(rows)], ignore_index=True)
    order = table["scenario"].map({s: i for i, s in enumerate(FI_POPULATIONS)})
    bit_order = pd.to_numeric(table["bit"].where(table["bit"] != "all"), errors="coerce").fillna(1e9)
    table = (table.assign(_s=order, _b=bit_order).sort_values(["dataset", "model", "_s", "_b"])
             .drop(columns=["_s", "_b"]).reset_index(drop=True))
    table.insert(4, "confidence", confidence)
    return table


def published(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown layout of :func:`sweep_table` (percent, intervals in brackets)."""
    conf = f"{100 * table['confidence'].iloc[0]:g}%" if len(table) else "95%"
    out = pd.DataFrame({"Data set": table["dataset"], "Model": table["model"],
                        "Scenario": table["scenario"].map(SCENARIO_LABELS), "Bit": table["bit"].astype(str),
                        "Points": table["points"], "Injections": table["injections"]})
    for event in EVENTS:
        name = f"{event}_rate"
        out[f"{EVENT_LABELS[event]} [{conf} CI]"] = percent(table[name], table[f"{name}_lo"], table[f"{name}_hi"])
    return out
