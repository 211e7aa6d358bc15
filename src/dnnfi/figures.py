"""Figures of the studies (seaborn/matplotlib), drawn from the summary tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


def _save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _errorbars(ax, table: pd.DataFrame, x, rate: str, **kwargs) -> None:
    err = np.vstack([table[rate] - table[f"{rate}_lo"], table[f"{rate}_hi"] - table[rate]]) * 100
    ax.errorbar(x, table[rate] * 100, yerr=err, fmt="none", ecolor="black", capsize=4, **kwargs)


def sdc_rate(summary: pd.DataFrame, path) -> None:
    """SDC rate per model with 95% Wilson intervals."""
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(summary), 4))
    labels = summary["dataset"] + "\n" + summary["model"]
    ax.bar(labels, summary["sdc_rate"] * 100, color=sns.color_palette()[0])
    _errorbars(ax, summary, labels, "sdc_rate")
    ax.set_ylabel("SDC rate (% of injections)")
    ax.set_xlabel("data set / model")
    ax.set_title("Silent data corruption per model (95% Wilson CI)")
    _save(fig, path)


def scm_probability(scm: pd.DataFrame, path) -> None:
    """SCM probability per scenario and model with 95% Wilson intervals."""
    models = list(dict.fromkeys(scm["model"]))
    scenarios = list(dict.fromkeys(scm["scenario"]))
    width = 0.8 / len(scenarios)
    fig, ax = plt.subplots(figsize=(2 + 1.8 * len(models), 4.2))
    for i, scenario in enumerate(scenarios):
        rows = scm[scm["scenario"] == scenario].set_index("model").reindex(models)
        x = np.arange(len(models)) + (i - (len(scenarios) - 1) / 2) * width
        ax.bar(x, rows["scm_probability"] * 100, width, label=scenario.replace("_", " "))
        _errorbars(ax, rows, x, "scm_probability")
    ax.set_xticks(np.arange(len(models)), models)
    ax.set_ylabel("SCM probability (% of mispredictions)")
    ax.set_xlabel("model")
    ax.set_ylim(0, 105)
    ax.set_title("Safety-critical share of mispredictions (95% Wilson CI)")
    ax.legend(title="scenario", fontsize="small")
    _save(fig, path)


def rate_by(table: pd.DataFrame, x: str, xlabel: str, path, title: str) -> None:
    """SDC rate against ``x`` (bit position, layer index) per model, with a 95% interval band."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for model, rows in table.groupby("model", sort=True):
        rows = rows.sort_values(x)
        ax.plot(rows[x], rows["sdc_rate"] * 100, marker="o", ms=3, label=model)
        ax.fill_between(rows[x], rows["sdc_rate_lo"] * 100, rows["sdc_rate_hi"] * 100, alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("SDC rate (% of injections)")
    ax.set_title(title)
    ax.legend(title="model", fontsize="small")
    _save(fig, path)


def error_vs_frate(summary: pd.DataFrame, path) -> None:
    """Mean top-1 error against failure rate per model and perturbation, fault-free level dashed."""
    faulty = summary[summary["frate"] > 0]
    clean = summary[summary["frate"] == 0].set_index("model")["top1_error_mean"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    sns.lineplot(data=faulty.assign(top1=faulty["top1_error_mean"] * 100), x="frate", y="top1", hue="model",
                 style="perturbation", markers=True, ax=ax)
    for color, model in zip(sns.color_palette(), sorted(faulty["model"].unique())):
        if model in clean:
            ax.axhline(clean[model] * 100, color=color, ls=":", lw=1)
    ax.set_xlabel("failure rate (share of weights corrupted)")
    ax.set_ylabel("mean top-1 error (%)")
    ax.set_title("Error vs failure rate (dotted: fault-free)")
    _save(fig, path)


def replica_boxplots(replicas: pd.DataFrame, path) -> None:
    """Boxplots of replica top-1 errors per model and frate, one panel per perturbation."""
    data = replicas[replicas["frate"] > 0].assign(top1=lambda d: d["top1_error"] * 100)
    grid = sns.catplot(data=data, kind="box", x="frate", y="top1", hue="model", col="perturbation",
                       height=4, aspect=1.1)
    grid.set_axis_labels("failure rate", "top-1 error per replica (%)")
    grid.figure.suptitle("Replica errors per model and failure rate", y=1.02)
    grid.savefig(path, dpi=150)
    plt.close(grid.figure)
