"""Paired comparison of two binary outcomes on the same trials (the same faults, or the same
images): rates, difference, exact McNemar test and Newcombe's interval (docs/semantics.md, section 12).

With ``b`` trials that have the event only without protection and ``c`` only with it, out of
``n``: difference = (c - b) / n (protected minus unprotected rate); the exact McNemar test is the
two-sided binomial test of b against b + c at 1/2 (statsmodels); the interval is Newcombe's
(1998) method 10, Wilson score intervals of both rates combined with the paired phi correlation,
which keeps its coverage for small and zero counts where the Wald interval collapses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint


def newcombe_interval(
    a: int, b: int, c: int, d: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval of p2 - p1 for p1 = (a + b) / n, p2 = (a + c) / n from the 2x2 table of paired
    trials (a: both events, b: first only, c: second only, d: neither)."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = proportion_confint(a + b, n, alpha=1 - confidence, method="wilson")
    l2, u2 = proportion_confint(a + c, n, alpha=1 - confidence, method="wilson")
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / np.sqrt(denominator) if denominator > 0 else 0.0
    diff = p2 - p1
    lower = np.sqrt(max((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2, 0.0))
    upper = np.sqrt(max((u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2, 0.0))
    return max(diff - lower, -1.0), min(diff + upper, 1.0)


def paired_comparison(before: np.ndarray, after: np.ndarray, confidence: float = 0.95) -> dict:
    """Counts, rates, difference (after - before) with Newcombe's interval and the exact McNemar
    p-value of two boolean arrays over the same trials."""
    before, after = np.asarray(before, bool), np.asarray(after, bool)
    if before.shape != after.shape or before.ndim != 1 or not len(before):
        raise ValueError(
            f"paired outcomes need two non-empty 1-d arrays of one length, got {before.shape} and {after.shape}"
        )
    a, b = int((before & after).sum()), int((before & ~after).sum())
    c, d = int((~before & after).sum()), int((~before & ~after).sum())
    n = len(before)
    lo, hi = newcombe_interval(a, b, c, d, confidence)
    return {
        "trials": n,
        "count_unprotected": a + b,
        "count_protected": a + c,
        "rate_unprotected": (a + b) / n,
        "rate_protected": (a + c) / n,
        "only_unprotected": b,
        "only_protected": c,
        "difference": (c - b) / n,
        "difference_lo": lo,
        "difference_hi": hi,
        "mcnemar_p": float(mcnemar([[a, b], [c, d]], exact=True).pvalue),
    }


#: fault-list columns that must agree row by row between a protected campaign and its pair
FAULT_KEYS = ["dataset", "model", "fault_id", "image", "site", "element", "bit", "fault_model"]
#: per injection, the events compared with and without protection
MEASURES = {
    "sdc": lambda t: t["outcome"] == "sdc",
    "due": lambda t: t["outcome"] == "due",
    "scm": lambda t: t["scm"],
}


def protection_table(
    protected: pd.DataFrame,
    unprotected: pd.DataFrame,
    fault_free: pd.DataFrame,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per data set, model, scenario and measure (SDC, DUE, SCM per injection; fault-free top-1
    accuracy per image): :func:`paired_comparison` of the unprotected and protected campaign.

    ``protected`` / ``unprotected``: collected injections (``annotate_scm`` columns) of the same
    fault list, refused unless their fault rows agree; ``fault_free``: per model (``dataset``,
    ``model`` columns) the bounds jobs' ``label``, ``top1_unprotected``, ``top1_protected``.
    Scenarios: ``all`` injections, ``fi_correct`` and ``fi_misclassified`` images, ``fault_free``."""
    mine = unprotected.merge(
        protected[["dataset", "model"]].drop_duplicates(), on=["dataset", "model"]
    )
    pair = mine.merge(protected, on=FAULT_KEYS, how="outer", suffixes=("_u", "_p"), indicator=True)
    if (pair["_merge"] != "both").any():
        bad = pair[pair["_merge"] != "both"].iloc[0]
        raise ValueError(
            f"protected and unprotected fault lists differ (model {bad['model']}, fault {bad['fault_id']}): "
            "rerun the protected campaign on its paired campaign's current shards"
        )
    rows = []
    for (dataset, model), group in pair.groupby(["dataset", "model"], sort=True):
        initially_correct = group["initially_correct_u"].to_numpy(bool)
        for scenario, part in (
            ("all", group),
            ("fi_correct", group[initially_correct]),
            ("fi_misclassified", group[~initially_correct]),
        ):
            for measure, event in MEASURES.items() if len(part) else ():
                before = event(part.rename(columns=lambda c: c.removesuffix("_u"))).to_numpy(bool)
                after = event(part.rename(columns=lambda c: c.removesuffix("_p"))).to_numpy(bool)
                rows.append(
                    dict(
                        dataset=dataset,
                        model=model,
                        scenario=scenario,
                        measure=measure,
                        **paired_comparison(before, after, confidence),
                    )
                )
        images = fault_free[(fault_free["dataset"] == dataset) & (fault_free["model"] == model)]
        rows.append(
            dict(
                dataset=dataset,
                model=model,
                scenario="fault_free",
                measure="top1_accuracy",
                **paired_comparison(
                    images["top1_unprotected"] == images["label"],
                    images["top1_protected"] == images["label"],
                    confidence,
                ),
            )
        )
    table = pd.DataFrame(rows)
    table.insert(4, "confidence", confidence)
    return table
