"""The bit-sweep design (``design: bit_sweep``; docs/semantics.md, section 16): points drawn
as the uniform design draws its faults, each evaluated at every bit; the per-bit table and the
clustered interval of the bit-uniform rate.

A bit-sweep campaign draws *points* (image, site, element) exactly as the uniform design draws its
faults (same generator, image sampling and site sampling; the drawn bit is dropped) and
evaluates every point at every bit of its site's format, or at every bit of ``bits``
(:func:`dnnfi.faults.lists.bit_sweep`, :meth:`BitSweep.fault_list`, for both engines). ``injections``
(and ``per_model``, ``per_category``, ...) count points; ``shards`` cut the points, so that a
point's bits stay in one shard (one golden prefix).

- Per bit b, the points are independent draws, so a rate per (model, scenario, bit) is a binomial
  share of ``points`` trials with the Wilson interval of section 8
  (:func:`dnnfi.analysis.aggregate.with_interval`), exact per bit.
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

from dnnfi.designs.base import check_fault_keys, check_single_bit, figures, tables
from dnnfi.designs.uniform import Uniform, campaign_faults

#: events counted per bit (columns of collected injections, or outcomes); SCM per injection
EVENTS = ("sdc", "sdc_top5", "due", "scm")
EVENT_LABELS = {"sdc": "SDC rate", "sdc_top5": "SDC top-5", "due": "DUE rate", "scm": "SCM rate"}


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
        # imported here: scipy.stats takes about a second, and every job imports the designs
        from scipy import stats

        variance = y.var(axis=-1, ddof=1) / n
        z = stats.norm.ppf(0.5 + confidence / 2)
        factor = (z / stats.t.ppf(0.5 + confidence / 2, n - 1)) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            kish = np.where(variance > 0, p * (1 - p) / variance * factor, injections)
        n_eff = np.where((p == 0) | (p == 1), float(n), np.clip(kish, n, injections))
    from dnnfi.analysis.stratified_estimates import effective_wilson

    return effective_wilson(p, p * n_eff, n_eff, confidence)


def with_scenarios(injections: pd.DataFrame) -> pd.DataFrame:
    """Injections (collected, with ``scenario`` of section 7) once as ``all`` and once in their
    scenario, the two misclassified ones merged into ``fi_misclassified``."""
    own = injections.assign(
        scenario=np.where(injections["scenario"] == "fi_correct", "fi_correct", "fi_misclassified")
    )
    return pd.concat([injections.assign(scenario="all"), own], ignore_index=True)


def sweep_table(injections: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per data set, model, scenario and bit: ``points``, ``injections``, the counts of
    :data:`EVENTS` and their rates with Wilson intervals (exact per bit: independent points);
    then one ``bit`` = ``all`` row per data set, model and scenario with the bit-uniform rates and
    their clustered intervals (:func:`clustered_rate`). Every rate also has ``<rate>_n_eff``."""
    from dnnfi.analysis.aggregate import FI_POPULATIONS, with_interval

    flags = injections.assign(
        sdc=(injections["outcome"] == "sdc").to_numpy(int),
        due=(injections["outcome"] == "due").to_numpy(int),
        sdc_top5=injections["sdc_top5"].to_numpy(int),
        scm=injections["scm"].to_numpy(int),
        injections=1,
    )
    flags = with_scenarios(flags)
    keys = ["dataset", "model", "scenario"]
    per_bit = flags.groupby([*keys, "bit"], sort=True)[["injections", *EVENTS]].sum().reset_index()
    per_bit.insert(4, "points", per_bit["injections"])
    for event in EVENTS:
        per_bit = with_interval(per_bit, f"{event}_rate", event, "points", confidence)
        per_bit[f"{event}_rate_n_eff"] = per_bit["points"].astype(float)
    rows = []
    per_point = (
        flags.groupby([*keys, "point"], sort=True)[["injections", *EVENTS]].sum().reset_index()
    )
    for (dataset, model, scenario), part in per_point.groupby(keys, sort=True):
        row = {
            "dataset": dataset,
            "model": model,
            "scenario": scenario,
            "bit": "all",
            "points": len(part),
            "injections": int(part["injections"].sum()),
        }
        for event in EVENTS:
            row[event] = int(part[event].sum())
        for event in EVENTS:
            result = clustered_rate(
                part[event].to_numpy(), part["injections"].to_numpy(), confidence
            )
            name = f"{event}_rate"
            row |= {
                name: float(result["estimate"]),
                f"{name}_lo": float(result["lo"]),
                f"{name}_hi": float(result["hi"]),
                f"{name}_margin": float(result["margin"]),
                f"{name}_n_eff": float(result["n_eff"]),
            }
        rows.append(row)
    table = pd.concat([per_bit.astype({"bit": object}), pd.DataFrame(rows)], ignore_index=True)
    order = table["scenario"].map({s: i for i, s in enumerate(FI_POPULATIONS)})
    bit_order = pd.to_numeric(table["bit"].where(table["bit"] != "all"), errors="coerce").fillna(
        1e9
    )
    table = (
        table.assign(_s=order, _b=bit_order)
        .sort_values(["dataset", "model", "_s", "_b"])
        .drop(columns=["_s", "_b"])
        .reset_index(drop=True)
    )
    table.insert(4, "confidence", confidence)
    return table


def published(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown layout of :func:`sweep_table` (percent, intervals in brackets)."""
    from dnnfi.analysis.aggregate import SCENARIO_LABELS
    from dnnfi.analysis.intervals import percent

    conf = f"{100 * table['confidence'].iloc[0]:g}%" if len(table) else "95%"
    out = pd.DataFrame(
        {
            "Data set": table["dataset"],
            "Model": table["model"],
            "Scenario": table["scenario"].map(SCENARIO_LABELS),
            "Bit": table["bit"].astype(str),
            "Points": table["points"],
            "Injections": table["injections"],
        }
    )
    for event in EVENTS:
        name = f"{event}_rate"
        out[f"{EVENT_LABELS[event]} [{conf} CI]"] = percent(
            table[name], table[f"{name}_lo"], table[f"{name}_hi"]
        )
    return out


class BitSweep(Uniform):
    name = "bit_sweep"
    summary = (
        "points (image, site, element) drawn as uniform faults, each at every bit of its format or of bits; "
        "injections count points"
    )
    keys = {k: v for k, v in Uniform.keys.items() if k != "margin"}
    single_bit = "a bit-sweep campaign"
    unit = "points (bit_sweep: shards cut points)"
    hints = {
        "margin": "a bit-sweep campaign runs `injections` points (Leveugle's sample size and the sequential "
        "stop assume independent injections, and the bits of a swept point are not); remove it"
    }

    def planned_injections(self, campaign: dict, model: str) -> int:
        """Points of a model."""
        return campaign["per_model"].get(model, {}).get("injections", campaign["injections"])

    def check(self, name: str, campaign: dict, config: dict) -> None:
        check_fault_keys(name, campaign)
        check_single_bit(name, campaign, self.single_bit)
        self.check_shards(name, campaign)

    def shard_params(self, name: str, campaign: dict, model: str, seed: int) -> dict:
        return super().shard_params(name, campaign, model, seed) | {"bit_sweep": True}

    def outputs(self, name: str, campaign: dict) -> list[str]:
        """Per-bit tables only: the tables that assume independent injections are not made."""
        return (
            tables(name, ["bit_sweep"])
            + tables(name, ["bit_sweep"], "md")
            + figures(name, ["bit_sweep"])
        )

    def table_job(
        self, campaign: str, injections: list[str], confidence: float, bits
    ) -> tuple[pd.DataFrame, str]:
        """The body of the table job: (the per-bit table, its Markdown with the caption) from the
        collected ``injections`` files of the campaign's models."""
        collected = pd.concat([pd.read_parquet(p) for p in injections], ignore_index=True)
        table = sweep_table(collected, confidence)
        caption = (
            f"Bit-sweep campaign {campaign}: every sampled point (image, site, element) "
            f"evaluated at {'bits ' + str(sorted(set(bits))) if bits else 'every bit of its format'}. Per bit, "
            f"the points are independent (Wilson intervals at {100 * confidence:g}%, n = points); the `all` "
            "rows are the bit-uniform rates (mean over points of the share of the point's bits with the event) "
            "with clustered intervals (Wilson at the Kish effective sample size; docs/semantics.md, section 16)."
        )
        return table, f"{caption}\n\n{published(table).to_markdown(index=False)}\n"

    # -- the shard job ------------------------------------------------------------------------

    def fault_list(
        self, sites: pd.DataFrame, params: dict, dataset: str, model: str, correct: np.ndarray
    ) -> pd.DataFrame:
        """The points, drawn as the uniform design draws its faults, listed at every bit
        (:func:`dnnfi.faults.lists.bit_sweep`; column ``point``)."""
        from dnnfi.faults.lists import bit_sweep

        points = campaign_faults(sites, params, dataset, model, correct)
        return bit_sweep(points, sites[sites["eligible"]], params["fault_model"], params["bits"])

    def shard_rows(self, faults: pd.DataFrame, shard: int, params: dict) -> slice:
        """An even cut of the points (``point`` ascending), so that a point's bits stay in one shard."""
        from dnnfi.faults.lists import shard_slice

        points = faults["point"].to_numpy()
        cut = shard_slice(int(points[-1]) + 1 if len(points) else 0, shard, params["shards"])
        return slice(*np.searchsorted(points, [cut.start, cut.stop]))


DESIGN = BitSweep()
