"""``make bench-sampling-ceiling``: the most a stratified campaign could gain over uniform sampling,
per model, scenario, stratification and metric (docs/sampling.md, "What limits the gain").

The pools of ``bench/sampling_pool.py`` (ResNet-20 and ResNet-8 over the whole CIFAR-10 test split,
1,000,000 injections each, each built in a process of its own) are the populations, their stratum
rates the truth. For each scenario (initially correct or misclassified images), stratification and
metric (SDC rate to +/-0.1 points, SCM probability to +/-5 points, the targets of
config/cifar10.yaml), the gain = injections uniform sampling needs at the true rates / injections
of a stratified campaign that knew the true stratum rates:

- ``neyman``: Neyman allocation with normal intervals, the textbook optimum. Such an interval
  claims zero variance for a stratum without events, which the design's intervals do not
  (docs/semantics.md section 11), and it needs the rates a campaign does not know;
- ``best``: the fewest injections whose allocation meets the margin with the design's intervals
  at the true rates (:func:`dnnfi.designs.strata.predicted_need`, the true rates as pilot and
  as rates, no plan pseudo-injections); ``best+pilot`` adds the pipeline's pilot of ``PILOT``.

A real campaign plans on a pilot, not on the truth, and stops by its observed margin, so it reaches
less: ``pipeline`` is the gain at the median injections of ``STOP_CAMPAIGNS`` campaigns of the
design (``field_value``, the pilot and the rounds of config/cifar10.yaml) stopped at their margin
on the same pool, with their coverage (:func:`sampling_bench.to_margin`); ``true pilot`` the same
campaigns with a pilot that reports the true stratum rates, which isolates what planning on a
pilot's few injections per stratum costs. Stratifications: the design's ``STRATA`` and, for comparison,
strata by the size of the flip's change ``change``, floor(log2 |v' - v|) in the classes of
``CHANGE_EDGES``, which the design does not count (its counts are per bit, not per exponent).

The last line is ``sampling-ceiling scm_min=<x> sdc_min=<y> goal_met=<yes|no>``: for each model
and scenario the ``best+pilot`` gain of its best stratification, the lowest over models and
scenarios; the goal is issue #23's, 6x for the SCM probability and 8x for the SDC rate in every
scenario.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import sampling_pool
from sampling_bench import DESIGN, PILOT, to_margin

from dnnfi.designs.strata import (
    COUNTS,
    STRATA,
    VALUE_CLASSES,
    field_of,
    predicted_need,
    value_class,
)
from dnnfi.designs.stratified import uniform_injections

STOP_CAMPAIGNS = 100
TARGETS = {"sdc_rate": 0.001, "scm_probability": 0.05}
GOAL = {"sdc_rate": 8.0, "scm_probability": 6.0}
#: class edges of floor(log2 |v' - v|), the size of a flip's change: < -2, [-2, 0), [0, 2), [2, 4),
#: [4, 8), >= 8 (an infinite or NaN result in the last)
CHANGE_EDGES = (-2, 0, 2, 4, 8)
STRATIFICATIONS = {
    **{name: STRATA[name] for name in ("field_value", "bit_value", "site_field_value")},
    "value_change": ("value", "change"),
    "field_value_change": ("field", "value", "change"),
    "site_value_change": ("site", "value", "change"),
}


def fault_table(pool: pd.DataFrame) -> pd.DataFrame:
    """One row per pool injection: its outcome counts (``COUNTS``) and every stratum column."""
    encoding = pool["golden_bits"].to_numpy(np.uint32)
    bit = pool["bit"].to_numpy()
    flipped = encoding ^ (np.uint32(1) << bit.astype(np.uint32))
    with np.errstate(invalid="ignore", over="ignore"):  # inf and NaN go to the top class
        change = np.abs(flipped.view(np.float32).astype(float) - encoding.view(np.float32))
        size = np.floor(np.log2(np.where(change > 0, change, np.finfo(float).tiny)))
    sdc = (pool["outcome"] == "sdc").to_numpy()
    return pd.DataFrame(
        {
            "site": pool["site"],
            "bit": bit,
            "field": field_of(bit, "float32"),
            "value": np.asarray(VALUE_CLASSES)[value_class(encoding, bit, 32)],
            "change": np.searchsorted(CHANGE_EDGES, np.nan_to_num(size, nan=np.inf), "right"),
            "correct": pool["correct"].to_numpy(),
            "trials": 1,
            "sdc": sdc,
            "sdc_top5": pool["sdc_top5"].to_numpy(bool),
            "due": (pool["outcome"] == "due").to_numpy(),
            "scm": pool["scm"].to_numpy(bool) & sdc,
        }
    )


def ceiling(scenario: pd.DataFrame, keys: tuple[str, ...], metric: str) -> dict:
    """Gains of the stratification ``keys`` for ``metric`` on one scenario's injections."""
    groups = scenario.groupby(list(keys), observed=True)
    counts = groups[list(COUNTS)].sum().astype(float)
    weights = (counts["trials"] / counts["trials"].sum()).to_numpy()
    sdc, scm = scenario["sdc"].to_numpy(float), scenario["scm"].to_numpy(float)
    rate, ratio = sdc.mean(), scm.sum() / sdc.sum()
    variable = sdc if metric == "sdc_rate" else scm - ratio * sdc  # the ratio's linearisation
    spread = pd.Series(variable).groupby(groups.ngroup().to_numpy()).std(ddof=0).to_numpy()
    neyman = variable.var() / (weights * spread).sum() ** 2
    margin = TARGETS[metric]
    uniform = uniform_injections(metric, rate, ratio, margin, 0.95)
    table = counts.reset_index(drop=True)
    need = predicted_need(table, table, weights, metric, margin, len(weights), 10**6, 1, 0.95, 0)
    return {
        "strata": len(weights),
        "uniform injections": uniform,
        "best injections": need,
        "neyman": neyman,
        "best": uniform / need,
        "best+pilot": uniform / (need + PILOT),
    }


def main():
    began = time.perf_counter()
    rows, stops = [], {}
    for model in sampling_pool.MODELS:
        folder = sampling_pool.out_dir(model, 10_000)  # the whole CIFAR-10 test split
        try:
            raw = sampling_pool.stored(folder)
        except FileNotFoundError:  # built in a process of its own, with the model's framework
            subprocess.run([sys.executable, "bench/sampling_pool.py", model], check=True)
            raw = sampling_pool.stored(folder)
        pool = fault_table(raw)
        for correct in (True, False):
            scenario = pool[pool["correct"] == correct]
            for metric in TARGETS:
                for true_pilot in (False, True):
                    stop = to_margin(raw, correct, metric, STOP_CAMPAIGNS, true_pilot)
                    stops[(model, stop["images"], metric, true_pilot)] = stop
            for name, keys in STRATIFICATIONS.items():
                for metric in TARGETS:
                    rows.append(
                        {
                            "model": model,
                            "images": "initially correct" if correct else "initially misclassified",
                            "stratification": name,
                            "metric": metric,
                            **ceiling(scenario, keys, metric),
                        }
                    )
                    row = rows[-1]
                    print(
                        f"{model}, {row['images']}, {name}, {metric}: "
                        f"{row['best+pilot']:.1f}x with the pilot",
                        flush=True,
                    )
    table = pd.DataFrame(rows)
    print(
        f"\ngain over uniform sampling at the true stratum rates (best+pilot: with a pilot of {PILOT}):"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    cells = ["model", "images", "metric"]
    design = table[table["stratification"] == DESIGN].set_index(cells)
    best = table.loc[table.groupby(cells, sort=False)["best+pilot"].idxmax()].set_index(cells)
    summary = pd.DataFrame(
        {
            f"{DESIGN}: neyman": design["neyman"],
            f"{DESIGN}: best+pilot": design["best+pilot"],
            "best stratification": best["stratification"],
            "its best+pilot": best["best+pilot"],
            "pipeline, true pilot": [stops[(*c, True)]["efficiency"] for c in design.index],
            "pipeline": [stops[(*c, False)]["efficiency"] for c in design.index],
            "pipeline coverage": [stops[(*c, False)]["coverage"] for c in design.index],
        }
    )
    print(
        f"\nper model, scenario and metric (pipeline: {STOP_CAMPAIGNS} {DESIGN} campaigns stopped at their margin):"
    )
    print(summary.to_string(float_format=lambda v: f"{v:.3g}"))
    lowest = summary.groupby("metric")["its best+pilot"].min()
    met = all(lowest[m] >= GOAL[m] for m in TARGETS)
    print(f"\nbench time {time.perf_counter() - began:.0f} s")
    print(
        f"sampling-ceiling scm_min={lowest['scm_probability']:.1f} "
        f"sdc_min={lowest['sdc_rate']:.1f} goal_met={'yes' if met else 'no'}"
    )


if __name__ == "__main__":
    main()
