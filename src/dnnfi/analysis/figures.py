"""Figures of the studies (seaborn/matplotlib), drawn from the summary tables.

Every function takes the table(s) it draws and a list of paths; each figure is written to every
path (e.g. one PNG for the report and one PDF for a paper). Rates are plotted in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from dnnfi.analysis.aggregate import FI_POPULATIONS, SCENARIO_LABELS, SCENARIOS  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")
Paths = Sequence[str | Path]


def label_bar(ax, text: str, x: float, y: float, offset: float = 3, **style) -> None:
    """``text`` centred above the bar at ``x`` whose top is ``y``, ``offset`` points higher."""
    ax.annotate(
        text,
        (x, y),
        xytext=(0, offset),
        textcoords="offset points",
        ha="center",
        va="bottom",
        **style,
    )


def _save(fig, paths: Paths) -> None:
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _yerr(table: pd.DataFrame, rate: str) -> np.ndarray:
    """Asymmetric error bars in percent from ``rate_lo`` / ``rate_hi``, shape (2, rows)."""
    return np.vstack([table[rate] - table[f"{rate}_lo"], table[f"{rate}_hi"] - table[rate]]) * 100


def _legend_outside(ax, title: str) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend():
        ax.get_legend().remove()
    ax.legend(
        handles, labels, title=title, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1)
    )


def sdc_rate(summary: pd.DataFrame, paths: Paths) -> None:
    """SDC rate per data set and model with Wilson intervals (``activation_summary`` rows)."""
    conf = f"{100 * summary['confidence'].iloc[0]:g}%"
    fig, ax = plt.subplots(figsize=(2 + 1.2 * len(summary), 4))
    labels = summary["dataset"] + "\n" + summary["model"]
    ax.bar(labels, summary["sdc_rate"] * 100, color=sns.color_palette()[0])
    ax.errorbar(
        labels,
        summary["sdc_rate"] * 100,
        yerr=_yerr(summary, "sdc_rate"),
        fmt="none",
        ecolor="black",
        capsize=4,
    )
    for x, (rate, hi, n) in enumerate(
        zip(summary["sdc_rate"], summary["sdc_rate_hi"], summary["injections"])
    ):
        label_bar(ax, f"{100 * rate:.2f}%\nn={n}", x, 100 * hi, fontsize="small")
    ax.set_ylim(0, 100 * summary["sdc_rate_hi"].max() * 1.3 + 1e-9)
    ax.set_ylabel("SDC rate (% of injections)")
    ax.set_xlabel("data set / model")
    ax.set_title(f"Silent data corruption per model ({conf} Wilson CI)")
    _save(fig, paths)


def scm_probability(scm: pd.DataFrame, paths: Paths) -> None:
    """SCM probability per scenario and model, one panel per data set (``scm_table`` rows).

    Each bar is labelled SCM / mispredictions; "none" marks a scenario with trials but no
    misprediction (no share to take).
    """
    datasets = sorted(scm["dataset"].unique())
    scenarios = [s for s in SCENARIOS if s in set(scm["scenario"])]
    colors = dict(zip(scenarios, sns.color_palette("colorblind", len(scenarios))))
    width = 0.8 / len(scenarios)
    sizes = [scm.loc[scm["dataset"] == d, "model"].nunique() for d in datasets]
    fig, axes = plt.subplots(
        1,
        len(datasets),
        figsize=(1.5 + 2.2 * sum(sizes) + 3, 4.4),
        squeeze=False,
        sharey=True,
        width_ratios=sizes,
        layout="constrained",
    )
    for ax, dataset in zip(axes[0], datasets):
        rows = scm[scm["dataset"] == dataset]
        models = sorted(rows["model"].unique())
        for i, scenario in enumerate(scenarios):
            part = rows[rows["scenario"] == scenario].set_index("model").reindex(models)
            x = np.arange(len(models)) + (i - (len(scenarios) - 1) / 2) * width
            ax.bar(
                x,
                part["scm_probability"] * 100,
                width,
                color=colors[scenario],
                label=SCENARIO_LABELS[scenario],
            )
            ax.errorbar(
                x,
                part["scm_probability"] * 100,
                yerr=_yerr(part, "scm_probability"),
                fmt="none",
                ecolor="black",
                capsize=2,
                lw=1,
            )
            for xi, (k, n, hi) in zip(
                x, part[["scm", "mispredictions", "scm_probability_hi"]].to_numpy(float)
            ):
                if np.isnan(
                    n
                ):  # no trials in this scenario (e.g. no misclassified image was injected)
                    continue
                label, y = (f"{k:.0f}/{n:.0f}", 100 * hi) if n > 0 else ("none", 0)
                label_bar(ax, label, xi, y, offset=2, fontsize=7, rotation=90)
        ax.set_xticks(np.arange(len(models)), models)
        ax.set_title(f"data set: {dataset}")
        ax.set_xlabel("model")
    axes[0][0].set_ylabel("SCM probability (% of mispredictions)")
    axes[0][0].set_ylim(0, 115)
    _legend_outside(axes[0][-1], "scenario (95% Wilson CI)")
    fig.suptitle("Safety-critical share of mispredictions")
    _save(fig, paths)


def rate_by(table: pd.DataFrame, x: str, xlabel: str, paths: Paths, title: str) -> None:
    """SDC rate and absolute SCM rate (per injection) against ``x`` (bit position, layer index)
    per data set and model, each with its Wilson band (``outcome_table`` rows with SCM)."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    palette = sns.color_palette(n_colors=table.groupby(["dataset", "model"]).ngroups)
    for color, ((dataset, model), rows) in zip(
        palette, table.groupby(["dataset", "model"], sort=True)
    ):
        rows = rows.sort_values(x)
        for ax, rate in ((top, "sdc_rate"), (bottom, "scm_rate")):
            ax.plot(
                rows[x],
                rows[rate] * 100,
                marker="o",
                ms=3,
                color=color,
                label=f"{dataset} / {model}",
            )
            ax.fill_between(
                rows[x], rows[f"{rate}_lo"] * 100, rows[f"{rate}_hi"] * 100, color=color, alpha=0.15
            )
    top.set_ylabel("SDC rate\n(% of injections)")
    bottom.set_ylabel("SCM rate\n(% of injections)")
    bottom.set_xlabel(xlabel)
    top.set_title(title)
    if (
        x == "bit" and table["bit"].max() > 22
    ):  # fp32 layout: 0-22 mantissa, 23-30 exponent, 31 sign
        for ax in (top, bottom):
            ax.axvspan(22.5, 30.5, color="grey", alpha=0.1, lw=0)
        top.text(
            26.5,
            1.0,
            "exponent",
            transform=top.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize="small",
        )
    _legend_outside(top, "data set / model (95% Wilson band)")
    _save(fig, paths)


def error_vs_frate(summary: pd.DataFrame, paths: Paths) -> None:
    """Mean top-1 error against failure rate per model and perturbation with 95% t intervals over
    replicas; the dotted lines are the fault-free errors (the Rojas et al. study's Figure 1)."""
    faulty = summary[summary["frate"] > 0]
    clean = summary[summary["frate"] == 0].set_index("model")["top1_error_mean"]
    models = sorted(faulty["model"].unique())
    colors = dict(zip(models, sns.color_palette(n_colors=len(models))))
    styles = dict(zip(sorted(faulty["perturbation"].unique()), ["-", "--", "-.", ":"]))
    fig, ax = plt.subplots(figsize=(8, 4.4))
    for (model, perturbation), rows in faulty.groupby(["model", "perturbation"], sort=True):
        rows = rows.sort_values("frate")
        ax.errorbar(
            rows["frate"],
            rows["top1_error_mean"] * 100,
            yerr=_yerr(rows, "top1_error_mean"),
            color=colors[model],
            ls=styles[perturbation],
            marker="o",
            capsize=3,
            label=f"{model}, {perturbation}",
        )
    for model in models:
        if model in clean:
            ax.axhline(
                clean[model] * 100,
                color=colors[model],
                ls=":",
                lw=1.2,
                label=f"{model}, fault-free",
            )
    ax.set_xticks(sorted(faulty["frate"].unique()))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
    ax.set_xlabel("failure rate (share of weights corrupted per replica)")
    ax.set_ylabel("mean top-1 error (%)")
    ax.set_title("Error vs failure rate (mean over replicas, 95% CI)")
    _legend_outside(ax, "model, perturbation")
    _save(fig, paths)


def replica_boxplots(replicas: pd.DataFrame, paths: Paths) -> None:
    """Boxplots (with the replicas as points) of top-1 error per model and frate, one panel per
    perturbation (the Rojas et al. study's Figure 2)."""
    data = replicas[replicas["frate"] > 0].assign(
        top1=lambda d: d["top1_error"] * 100, frate=lambda d: d["frate"].map(lambda f: f"{f:g}")
    )
    perturbations = sorted(data["perturbation"].unique())
    models = sorted(data["model"].unique())
    order = sorted(data["frate"].unique(), key=float)
    fig, axes = plt.subplots(
        1,
        len(perturbations),
        figsize=(4.5 * len(perturbations) + 2, 4.2),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for ax, perturbation in zip(axes[0], perturbations):
        part = data[data["perturbation"] == perturbation]
        layout = dict(
            data=part, x="frate", y="top1", hue="model", order=order, hue_order=models, ax=ax
        )
        sns.boxplot(**layout, showfliers=False, fill=False)
        sns.stripplot(
            **layout,
            dodge=True,
            size=3,
            alpha=0.6,
            legend=False,
        )
        ax.set_title(f"perturbation: {perturbation}")
        ax.set_xlabel("failure rate")
        ax.set_ylabel("top-1 error per replica (%)")
        if ax is not axes[0][-1]:
            ax.get_legend().remove()
    _legend_outside(axes[0][-1], "model")
    fig.suptitle("Replica errors per model and failure rate")
    _save(fig, paths)


def std_intervals(intervals: pd.DataFrame, paths: Paths) -> None:
    """Bonferroni intervals of the replica standard deviation per model and frate, one panel per
    perturbation (``stats.std_intervals`` rows; the Rojas et al. study's Figure 3)."""
    perturbations = sorted(intervals["perturbation"].unique())
    models = sorted(intervals["model"].unique())
    colors = dict(zip(models, sns.color_palette(n_colors=len(models))))
    # one row per (model, frate), shared by the panels; the first model on top
    rows_order = sorted(
        set(zip(intervals["model"], intervals["frate"])), key=lambda r: (r[0], r[1]), reverse=True
    )
    position = {r: i for i, r in enumerate(rows_order)}
    fig, axes = plt.subplots(
        1,
        len(perturbations),
        figsize=(4.5 * len(perturbations) + 3, 1.2 + 0.4 * len(rows_order)),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    for ax, perturbation in zip(axes[0], perturbations):
        part = intervals[intervals["perturbation"] == perturbation]
        for model in models:
            rows = part[part["model"] == model]
            y = [position[r] for r in zip(rows["model"], rows["frate"])]
            ax.errorbar(
                rows["std"] * 100,
                y,
                xerr=_yerr(rows, "std"),
                fmt="o",
                color=colors[model],
                capsize=3,
                label=model,
            )
        ax.set_yticks(range(len(rows_order)), [f"{m}, {f:g}" for m, f in rows_order])
        ax.set_title(f"perturbation: {perturbation}")
        ax.set_xlabel("std of top-1 error over replicas\n(percentage points)")
        ax.set_xlim(left=0)
    axes[0][0].set_ylabel("model, failure rate")
    _legend_outside(axes[0][-1], "model (Bonferroni CI)")
    # each interval holds at 1 - alpha/m for the m frates of its model: the family holds at 1 - alpha
    m = intervals.groupby(["model", "perturbation"])["frate"].transform("size")
    conf = f"{100 * (1 - ((1 - intervals['confidence']) * m).iloc[0]):.3g}%"
    fig.suptitle(f"Standard deviation of replica errors ({conf} simultaneous intervals per model)")
    _save(fig, paths)


def protection(table: pd.DataFrame, paths: Paths) -> None:
    """SDC, SCM and DUE rate per model without and with protection, over all injections (else
    per scenario, a row of panels each), and the paired difference's interval and McNemar
    p-value (``dnnfi.analysis.paired.protection_table`` rows, or
    ``stratified_protection_table``'s, which carry the pair's ``strata``)."""
    rows = table[table["scenario"] != "fault_free"]
    if (rows["scenario"] == "all").any():
        rows = rows[rows["scenario"] == "all"]
    long = pd.concat(
        [
            rows.assign(setting=s, rate=rows[f"rate_{s}"] * 100)
            for s in ("unprotected", "protected")
        ],
        ignore_index=True,
    )
    long["label"] = long["dataset"] + "\n" + long["model"]
    grid = sns.catplot(
        long,
        kind="bar",
        x="label",
        y="rate",
        hue="setting",
        col="measure",
        col_order=[m for m in ("sdc", "scm", "due") if m in set(rows["measure"])],
        row="scenario",
        sharey=False,
        height=3.5,
        aspect=0.9 + 0.25 * rows["model"].nunique(),
    )
    for (scenario, measure), ax in grid.axes_dict.items():
        part = rows[(rows["scenario"] == scenario) & (rows["measure"] == measure)]
        for x, r in enumerate(part.itertuples()):
            label_bar(
                ax,
                f"{100 * r.difference:+.2f} pp\n[{100 * r.difference_lo:+.2f}, {100 * r.difference_hi:+.2f}]\n"
                f"p={r.mcnemar_p:.2g}",
                x,
                max(r.rate_unprotected, r.rate_protected) * 100,
                fontsize="x-small",
            )
        ax.set_title(f"{measure.upper()} rate, {scenario}")
        ax.set_xlabel("data set / model")
        ax.set_ylabel("% of injections")
        ax.margins(y=0.35)
    confidence = f"{100 * rows['confidence'].iloc[0]:g}%"
    method = (
        f"weighted by the pair's {table['strata'].iloc[0]} strata, {confidence} MOVER CI, "
        "McNemar p within strata"
        if "strata" in table
        else f"{confidence} Newcombe CI, exact McNemar p"
    )
    grid.figure.suptitle(
        f"Protection on the same faults: paired difference (protected - unprotected), {method}",
        y=1.04,
        fontsize="small",
    )
    _save(grid.figure, paths)


def bit_sweep(table: pd.DataFrame, paths: Paths) -> None:
    """SDC and DUE rate per bit with Wilson intervals over the points, one panel per data set,
    model and scenario (``dnnfi.designs.bit_sweep.sweep_table`` rows; the bit-uniform ``all`` row
    is given in the panel's title)."""

    per_bit = table[table["bit"].astype(str) != "all"].assign(bit=lambda d: d["bit"].astype(int))
    overall = table[table["bit"].astype(str) == "all"].set_index(["dataset", "model", "scenario"])
    panels = sorted(
        per_bit.groupby(["dataset", "model", "scenario"]).groups,
        key=lambda k: (k[0], k[1], _rank(FI_POPULATIONS, k[2])),
    )
    columns = min(3, len(panels)) or 1
    grid_rows = -(-len(panels) // columns) or 1
    fig, axes = plt.subplots(
        grid_rows,
        columns,
        figsize=(5.5 * columns + 2, 3.4 * grid_rows),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    colors = sns.color_palette(n_colors=2)
    conf = f"{100 * table['confidence'].iloc[0]:g}%" if len(table) else "95%"
    for ax, key in zip(axes.flat, panels):
        rows = per_bit.set_index(["dataset", "model", "scenario"]).loc[[key]].sort_values("bit")
        for color, (rate, label), shift in zip(
            colors, (("sdc_rate", "SDC"), ("due_rate", "DUE")), (-0.15, 0.15)
        ):
            ax.errorbar(
                rows["bit"] + shift,
                rows[rate] * 100,
                yerr=_yerr(rows, rate),
                fmt="o",
                ms=3,
                capsize=2,
                lw=1,
                color=color,
                label=label,
            )
        if rows["bit"].max() > 22:  # fp32 layout: 0-22 mantissa, 23-30 exponent, 31 sign
            ax.axvspan(22.5, 30.5, color="grey", alpha=0.1, lw=0)
        all_bits = overall.loc[key] if key in overall.index else None
        summary = (
            ""
            if all_bits is None
            else (
                f"\nall bits: SDC {100 * all_bits['sdc_rate']:.2f}%, "
                f"DUE {100 * all_bits['due_rate']:.2f}%"
            )
        )
        ax.set_title(
            f"{key[0]} / {key[1]}, {SCENARIO_LABELS.get(key[2], key[2])} ({rows['points'].iloc[0]} points)"
            f"{summary}",
            fontsize="small",
        )
        ax.set_xlabel("bit (IEEE-754, 0 = least significant mantissa bit)")
        ax.set_ylabel("% of points")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    _legend_outside(axes[0][-1], f"outcome ({conf} Wilson CI)")
    fig.suptitle("Bit sweep: SDC and DUE rate per bit")
    _save(fig, paths)


def stratified(table: pd.DataFrame, paths: Paths) -> None:
    """Weighted SDC rate and SCM probability per model, one bar per scenario (population) with its
    interval, from ``dnnfi.designs.stratified.stratified_table`` rows. Each bar is labelled with
    its injections (pilot included) and the achieved half-width of its estimate; the title states
    the design, the target metric and half-width and the confidence. A NaN estimate (e.g. no SDC
    observed, so no SCM share to take) is drawn as missing ("n/a") and noted under the figure."""
    panels = (
        ("sdc_rate", "SDC rate", "% of injected faults"),
        ("scm_probability", "SCM probability", "% of SDCs"),
    )
    labels = sorted(set(zip(table["dataset"], table["model"])))
    scenarios = sorted(set(table["scenario"]), key=lambda s: (_rank(FI_POPULATIONS, s), s))
    colors = dict(zip(scenarios, sns.color_palette("colorblind", len(scenarios))))
    width = 0.8 / max(len(scenarios), 1)
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(3 + 2.4 * len(panels) * max(len(labels), 1), 4.6),
        squeeze=False,
        layout="constrained",
    )
    missing = False
    for ax, (metric, name, unit) in zip(axes[0], panels):
        for i, scenario in enumerate(scenarios):
            part = (
                table[table["scenario"] == scenario]
                .set_index(["dataset", "model"])
                .reindex(pd.MultiIndex.from_tuples(labels, names=["dataset", "model"]))
            )
            x = np.arange(len(labels)) + (i - (len(scenarios) - 1) / 2) * width
            value = part[metric].to_numpy(float)
            ax.bar(
                x,
                np.nan_to_num(value * 100),
                width,
                color=colors[scenario],
                label=SCENARIO_LABELS.get(scenario, scenario),
            )
            ok = ~np.isnan(value)
            ax.errorbar(
                x[ok],
                value[ok] * 100,
                yerr=_yerr(part[ok], metric),
                fmt="none",
                ecolor="black",
                capsize=2,
                lw=1,
            )
            for xi, v, hi, n, margin in zip(
                x,
                value,
                part[f"{metric}_hi"].to_numpy(float),
                part["injections"].to_numpy(float),
                part[f"{metric}_margin"].to_numpy(float),
            ):
                if np.isnan(n):  # this model has no such scenario
                    continue
                if np.isnan(v):
                    missing = True
                    label, y = f"n/a, n={n:,.0f}", 0.0
                else:
                    label, y = f"n={n:,.0f}, ±{100 * margin:.2g}", 100 * (v if np.isnan(hi) else hi)
                label_bar(ax, label, xi, y, offset=2, fontsize=7, rotation=90)
        ax.set_xticks(np.arange(len(labels)), [f"{d}\n{m}" for d, m in labels])
        ax.set_xlabel("data set / model")
        ax.set_ylabel(f"{name} ({unit})")
        top = (
            np.nanmax(
                np.append(table[f"{metric}_hi"].to_numpy(float), table[metric].to_numpy(float))
            )
            if len(table)
            else np.nan
        )
        ax.set_ylim(0, min(1.6 * 100 * top, 125) if np.isfinite(top) and top > 0 else 1)
        targets = set(table["target"]) if len(table) else set()
        ax.set_title(f"{name} (target)" if targets == {metric} else name)
    conf = f"{100 * table['confidence'].iloc[0]:g}%" if len(table) else "95%"
    _legend_outside(axes[0][-1], f"scenario ({conf} CI)")
    if len(table):
        first = table.iloc[0]
        design = (
            f"Stratified campaign: {first['strata']} strata ({table['n_strata'].min()}"
            + ("" if table["n_strata"].nunique() == 1 else f"-{table['n_strata'].max()}")
            + f" of positive weight), target {first['target']} to ±{100 * first['target_margin']:g} pp, "
            f"{conf} intervals"
        )
    else:
        design = "Stratified campaign (no rows)"
    fig.suptitle(
        f"{design}\nlabels: injections (pilot included), achieved half-width in percentage points",
        fontsize="small",
    )
    if missing:
        fig.text(
            0.01,
            -0.02,
            "n/a: no estimate (e.g. no SDC observed, so no SCM share to take); no bar is drawn.",
            fontsize="x-small",
            ha="left",
            va="top",
        )
    _save(fig, paths)


def _rank(order: tuple, item) -> int:
    """Position of ``item`` in ``order``; unknown items after all known ones."""
    return order.index(item) if item in order else len(order)
