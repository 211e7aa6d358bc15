"""The Wilson score interval of a share, the interval of every rate the project reports.

Counts may be effective (fractional) counts: a stratified or clustered estimator passes its
estimate and its effective sample size (docs/semantics.md, sections 9 and 11).
"""

from __future__ import annotations

import numpy as np


def wilson(events, trials, confidence: float = 0.95, rate=None) -> dict[str, np.ndarray]:
    """``estimate`` (``rate``, else events / trials), Wilson bounds ``lo`` and ``hi`` at
    ``confidence`` and ``margin``, the larger distance from the estimate to a bound (the achieved
    margin, >= half the interval's width). The bounds are widened to hold the estimate (the
    closed form can land 1e-17 on the wrong side of 0 or 1, and an effective count can centre the
    interval elsewhere). NaN where trials are 0."""
    # imported here: statsmodels (and scipy.stats) take about a second, and every job imports
    # the designs, which use this function
    from statsmodels.stats.proportion import proportion_confint

    k = np.asarray(events, dtype=float)
    n = np.asarray(trials, dtype=float)
    empty = n == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        lo, hi = proportion_confint(k, np.where(empty, 1, n), alpha=1 - confidence, method="wilson")
        estimate = np.where(empty, np.nan, k / np.where(empty, 1, n) if rate is None else rate)
    lo = np.where(empty, np.nan, np.minimum(lo, estimate))
    hi = np.where(empty, np.nan, np.maximum(hi, estimate))
    return {
        "estimate": estimate,
        "lo": lo,
        "hi": hi,
        "margin": np.maximum(estimate - lo, hi - estimate),
    }


def percent(rate, lo=None, hi=None, digits: int = 2) -> list[str]:
    """Percent strings, ``rate [lo, hi]`` when bounds are given; ``n/a`` where the rate is NaN
    (no trials, e.g. no SDC to take an SCM share of)."""
    rate = np.asarray(rate, dtype=float)
    out = []
    for i, r in enumerate(rate):
        if np.isnan(r):
            out.append("n/a")
        elif lo is None:
            out.append(f"{100 * r:.{digits}f}%")
        else:
            bounds = 100 * np.asarray(lo, dtype=float)[i], 100 * np.asarray(hi, dtype=float)[i]
            out.append(f"{100 * r:.{digits}f}% [{bounds[0]:.{digits}f}, {bounds[1]:.{digits}f}]")
    return out
