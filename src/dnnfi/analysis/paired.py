"""Paired comparison of two binary outcomes on the same trials (the same faults, or the same
images): rates, difference, exact McNemar test and Newcombe's interval (docs/semantics.md, section 12).

With ``b`` trials that have the event only without protection and ``c`` only with it, out of
``n``: difference = (c - b) / n (protected minus unprotected rate); the exact McNemar test is the
two-sided binomial test of b against b + c at 1/2 (statsmodels); the interval is Newcombe's
(1998) method 10, Wilson score intervals of both rates combined with the paired phi correlation,
which keeps its coverage for small and zero counts where the Wald interval collapses.

Over a stratified campaign (:func:`stratified_paired_rate`, :func:`stratified_paired_ratio`) each
rate is the weighted estimate of :mod:`dnnfi.analysis.stratified_estimates` with its own
interval, and the difference's interval combines them in the same way (MOVER, Zou and Donner
2008, of which Newcombe's method is the unstratified case) with the correlation of the two
weighted estimates; the test is McNemar's within strata (:func:`stratified_mcnemar`).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from dnnfi.faults.seeds import rng_for


def mover_interval(p1, l1, u1, p2, l2, u2, rho) -> tuple:
    """Interval of p2 - p1 from each estimate's interval [l, u] and their correlation ``rho``
    (MOVER; arrays broadcast), clipped to [-1, 1]."""
    lower = np.sqrt(
        np.maximum((p2 - l2) ** 2 - 2 * rho * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2, 0)
    )
    upper = np.sqrt(
        np.maximum((u2 - p2) ** 2 - 2 * rho * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2, 0)
    )
    return np.maximum(p2 - p1 - lower, -1.0), np.minimum(p2 - p1 + upper, 1.0)


def newcombe_interval(
    a: int, b: int, c: int, d: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval of p2 - p1 for p1 = (a + b) / n, p2 = (a + c) / n from the 2x2 table of paired
    trials (a: both events, b: first only, c: second only, d: neither): Wilson intervals of both
    rates and the phi coefficient as their correlation."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = proportion_confint(a + b, n, alpha=1 - confidence, method="wilson")
    l2, u2 = proportion_confint(a + c, n, alpha=1 - confidence, method="wilson")
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / np.sqrt(denominator) if denominator > 0 else 0.0
    lo, hi = mover_interval(p1, l1, u1, p2, l2, u2, phi)
    return float(lo), float(hi)


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


def paired_rows(
    protected: pd.DataFrame, unprotected: pd.DataFrame, keys: list[str]
) -> pd.DataFrame:
    """The injections of both campaigns side by side (columns of both with ``_u`` / ``_p``),
    refused unless their fault rows (``keys``) agree for the protected campaign's models."""
    mine = unprotected.merge(
        protected[["dataset", "model"]].drop_duplicates(), on=["dataset", "model"]
    )
    pair = mine.merge(protected, on=keys, how="outer", suffixes=("_u", "_p"), indicator=True)
    if (pair["_merge"] != "both").any():
        bad = pair[pair["_merge"] != "both"].iloc[0]
        raise ValueError(
            f"protected and unprotected fault lists differ (model {bad['model']}, fault {bad['fault_id']}): "
            "rerun the protected campaign on its paired campaign's current shards"
        )
    return pair


def sides(pair: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the unprotected, the protected injections) of :func:`paired_rows`, by their own column names."""
    return (
        pair.rename(columns=lambda c: c.removesuffix("_u")),
        pair.rename(columns=lambda c: c.removesuffix("_p")),
    )


def fault_free_row(fault_free: pd.DataFrame, dataset: str, model: str, confidence: float) -> dict:
    """The paired fault-free top-1 accuracy of a model's evaluated images (the bounds job's table)."""
    images = fault_free[(fault_free["dataset"] == dataset) & (fault_free["model"] == model)]
    return dict(
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
    pair = paired_rows(protected, unprotected, FAULT_KEYS)
    rows = []
    for (dataset, model), group in pair.groupby(["dataset", "model"], sort=True):
        initially_correct = group["initially_correct_u"].to_numpy(bool)
        for scenario, part in (
            ("all", group),
            ("fi_correct", group[initially_correct]),
            ("fi_misclassified", group[~initially_correct]),
        ):
            before_side, after_side = sides(part)
            for measure, event in MEASURES.items() if len(part) else ():
                rows.append(
                    dict(
                        dataset=dataset,
                        model=model,
                        scenario=scenario,
                        measure=measure,
                        **paired_comparison(
                            event(before_side).to_numpy(bool),
                            event(after_side).to_numpy(bool),
                            confidence,
                        ),
                    )
                )
        rows.append(fault_free_row(fault_free, dataset, model, confidence))
    table = pd.DataFrame(rows)
    table.insert(4, "confidence", confidence)
    return table


# ---------------------------------------------------------------------------------------------
# paired differences over a stratified campaign (docs/semantics.md, section 12)
#
# ``cells`` (..., H, S, S): per stratum the joint counts of the injections' state without
# protection (axis -2) and with it (axis -1); S = 2 for an event (0 no, 1 yes), S = 3 for the
# SCM probability (0 no SDC, 1 SDC not SCM, 2 SCM). Leading axes are independent campaigns.


def _moments(cells) -> tuple[np.ndarray, np.ndarray]:
    """(trials per stratum, joint shares per stratum; 0 where a stratum has no trial)."""
    cells = np.asarray(cells, float)
    n = cells.sum(axis=(-2, -1))
    return n, cells / np.maximum(n, 1)[..., None, None]


def _correlation(weights, n, share_1, share_2, joint) -> np.ndarray:
    """Correlation of two weighted stratum means of per-injection values with per-stratum means
    ``share_1``, ``share_2``, second moments in ``joint`` (E[v1 v2], E[v1^2], E[v2^2]);
    0 where either has no variance."""
    w2n = np.asarray(weights, float) ** 2 / np.maximum(n, 1)
    cov, var_1, var_2 = (
        (w2n * (second - first)).sum(axis=-1)
        for second, first in zip(joint, (share_1 * share_2, share_1**2, share_2**2), strict=True)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cov / np.sqrt(var_1 * var_2)
    return np.clip(np.where(np.isfinite(rho), rho, 0.0), -1.0, 1.0)


def _difference(r1: dict, r2: dict, rho) -> dict:
    """Both estimates (with intervals) and their difference with its MOVER interval."""
    lo, hi = mover_interval(
        r1["estimate"], r1["lo"], r1["hi"], r2["estimate"], r2["lo"], r2["hi"], rho
    )
    return {
        "unprotected": r1,
        "protected": r2,
        "difference": r2["estimate"] - r1["estimate"],
        "lo": lo,
        "hi": hi,
    }


def stratified_paired_rate(weights, cells, confidence: float = 0.95) -> dict:
    """Weighted rates of an event without (``unprotected``) and with protection (``protected``;
    :func:`dnnfi.analysis.stratified_estimates.stratified_rate` each) and their ``difference``
    (protected - unprotected) with its MOVER interval (``lo``, ``hi``). ``cells`` (..., H, 2, 2)."""
    from dnnfi.analysis.stratified_estimates import stratified_rate

    n, share = _moments(cells)
    before, after, both = share[..., 1, :].sum(-1), share[..., :, 1].sum(-1), share[..., 1, 1]
    r1 = stratified_rate(weights, before * n, n, confidence)
    r2 = stratified_rate(weights, after * n, n, confidence)
    rho = _correlation(weights, n, before, after, (both, before, after))
    return _difference(r1, r2, rho)


def stratified_paired_ratio(weights, cells, confidence: float = 0.95) -> dict:
    """The SCM probability (SCM / SDC, the ratio estimator of
    :func:`dnnfi.analysis.stratified_estimates.stratified_ratio`) without and with protection and
    its difference with the MOVER interval, the correlation from the linearised ratios
    d = x - R y (x: SCM, y: SDC) of each injection. ``cells`` (..., H, 3, 3). NaN where either
    side has no SDC."""
    from dnnfi.analysis.stratified_estimates import stratified_ratio

    n, share = _moments(cells)
    y1, x1 = share[..., 1:, :].sum((-2, -1)), share[..., 2, :].sum(-1)
    y2, x2 = share[..., :, 1:].sum((-2, -1)), share[..., :, 2].sum(-1)
    r1 = stratified_ratio(weights, x1 * n, y1 * n, n, confidence)
    r2 = stratified_ratio(weights, x2 * n, y2 * n, n, confidence)
    R1, R2 = r1["estimate"][..., None], r2["estimate"][..., None]
    # per stratum E[d1], E[d2] and the second moments (x <= y, both 0/1: x y = x, x^2 = x)
    d1, d2 = x1 - R1 * y1, x2 - R2 * y2
    e12 = (
        share[..., 2, 2]
        - R2 * share[..., 2, 1:].sum(-1)
        - R1 * share[..., 1:, 2].sum(-1)
        + R1 * R2 * share[..., 1:, 1:].sum((-2, -1))
    )
    rho = _correlation(
        weights,
        n,
        d1,
        d2,
        (e12, x1 * (1 - 2 * R1) + R1**2 * y1, x2 * (1 - 2 * R2) + R2**2 * y2),
    )
    return _difference(r1, r2, rho)


def stratified_mcnemar(weights, cells, rng: np.random.Generator, draws: int = 100_000) -> float:
    """McNemar's test within strata: the two-sided p-value of the weighted difference
    T = sum_h W_h (c_h - b_h) / n_h (b_h, c_h: the stratum's injections with the event only
    without, only with protection; ``cells`` (H, 2, 2)) given each stratum's discordant count
    m_h = b_h + c_h, under the null hypothesis that a discordant injection goes either way with
    probability 1/2 in every stratum. With one stratum of discordant injections it is the exact
    McNemar test; with several, T's null distribution is a weighted sum of binomials, sampled
    ``draws`` times with ``rng`` (p-value (1 + draws at least as extreme) / (1 + draws))."""
    cells = np.asarray(cells, np.int64)
    n = cells.sum(axis=(-2, -1))
    b, c = cells[:, 1, 0], cells[:, 0, 1]
    m = b + c
    scale = np.asarray(weights, float) / np.maximum(n, 1)
    active = (m > 0) & (scale > 0)
    if active.sum() <= 1:
        h = np.flatnonzero(active)
        if not len(h):
            return 1.0
        table = [[0, b[h[0]]], [c[h[0]], 0]]
        return float(mcnemar(table, exact=True).pvalue)
    observed = abs((scale * (c - b))[active].sum())
    null = (
        scale[active] * (2 * rng.binomial(m[active], 0.5, size=(draws, active.sum())) - m[active])
    ).sum(1)
    extreme = (np.abs(null) >= observed * (1 - 1e-12)).sum()
    return float((1 + extreme) / (1 + draws))


def stratified_protection_table(
    protected: pd.DataFrame,
    unprotected: pd.DataFrame,
    fault_free: pd.DataFrame,
    strata: dict[tuple, pd.DataFrame],
    params: dict,
) -> pd.DataFrame:
    """:func:`protection_table` of a protected campaign over a stratified one: per data set,
    model and population (``scenario``) the weighted SDC, DUE and SCM rates per injection
    without and with protection, their difference (:func:`stratified_paired_rate`) and McNemar's
    test within strata (:func:`stratified_mcnemar`), and the SCM probability's
    (:func:`stratified_paired_ratio`; a ratio, not an event per injection, so no McNemar test and
    no discordant counts); then the fault-free top-1 accuracy of :func:`protection_table`.

    ``strata[(dataset, model, population)]``: the pair's strata table (``weight``); the
    allocation rounds' injections (``round`` > 0) enter the estimates, as in the stratified
    table; counts and ``trials`` are theirs, unweighted. ``params``: ``seed``, ``campaign`` (the
    test's random stream), ``confidence`` and ``stratified.strata`` (the strata's name, a column)."""
    confidence = params["confidence"]
    pair = paired_rows(protected, unprotected, FAULT_KEYS + ["population", "round"])
    pair = pair[pair["round"] > 0]
    rows = []
    for (dataset, model), group in itertools.groupby(sorted(strata.items()), lambda s: s[0][:2]):
        for (_, _, population), table in group:
            rows += _population_rows(pair, dataset, model, population, table, params)
        rows.append(fault_free_row(fault_free, dataset, model, confidence))
    out = pd.DataFrame(rows)
    out.insert(4, "confidence", confidence)
    out.insert(5, "strata", params["stratified"]["strata"])
    discordant = ["only_unprotected", "only_protected"]  # none for the SCM probability
    out[discordant] = out[discordant].astype("Int64")
    return out


def _population_rows(
    pair: pd.DataFrame, dataset: str, model: str, population: str, table: pd.DataFrame, params: dict
) -> list[dict]:
    """The rows of :func:`stratified_protection_table` of one population (its strata ``table``)."""
    confidence, rows = params["confidence"], []
    part = pair[
        (pair["dataset"] == dataset) & (pair["model"] == model) & (pair["population"] == population)
    ]
    if not len(part):
        return rows
    weights, stratum = table["weight"].to_numpy(), part["stratum_u"].to_numpy()
    before_side, after_side = sides(part)
    head = dict(dataset=dataset, model=model, scenario=population)
    for measure, event in MEASURES.items():
        before = event(before_side).to_numpy(bool)
        after = event(after_side).to_numpy(bool)
        cells = np.zeros((len(weights), 2, 2), np.int64)
        np.add.at(cells, (stratum, before.astype(int), after.astype(int)), 1)
        result = stratified_paired_rate(weights, cells, confidence)
        rng = rng_for(params["seed"], params["campaign"], dataset, model, population, measure)
        rows.append(
            head
            | _stratified_row(measure, len(part), before.sum(), after.sum(), result)
            | {
                "only_unprotected": int((before & ~after).sum()),
                "only_protected": int((~before & after).sum()),
                "mcnemar_p": stratified_mcnemar(weights, cells, rng),
            }
        )
    state = [
        MEASURES["sdc"](side).to_numpy(int) + (MEASURES["sdc"](side) & side["scm"]).to_numpy(int)
        for side in (before_side, after_side)
    ]  # 0 no SDC, 1 SDC not SCM, 2 SCM
    cells = np.zeros((len(weights), 3, 3), np.int64)
    np.add.at(cells, (stratum, *state), 1)
    result = stratified_paired_ratio(weights, cells, confidence)
    rows.append(
        head
        | _stratified_row(
            "scm_probability",
            len(part),
            (state[0] == 2).sum(),
            (state[1] == 2).sum(),
            result,
        )
    )
    return rows


def _stratified_row(measure: str, trials: int, before: int, after: int, result: dict) -> dict:
    return {
        "measure": measure,
        "trials": trials,
        "count_unprotected": int(before),
        "count_protected": int(after),
        "rate_unprotected": float(result["unprotected"]["estimate"]),
        "rate_protected": float(result["protected"]["estimate"]),
        "only_unprotected": pd.NA,
        "only_protected": pd.NA,
        "difference": float(result["difference"]),
        "difference_lo": float(result["lo"]),
        "difference_hi": float(result["hi"]),
        "mcnemar_p": np.nan,
    }
