"""Estimates and confidence intervals of a stratified campaign (docs/semantics.md, section 11).

A stratified campaign splits the fault distribution into strata h of known probability W_h
(sum 1) and samples n_h injections in each; every function here takes per-stratum counts as
arrays whose last axis runs over the strata (leading axes are independent campaigns, which the
tests and the bench use to evaluate thousands of campaigns at once).

- A rate (SDC, SDC top-5, DUE, SCM per injection) is estimated by p = sum W_h k_h / n_h, unbiased.
  Its interval is the Wilson score interval at the *effective sample size* n_eff = p~ (1 - p~) / v~
  with k_eff = p n_eff events, where v~ = sum W_h^2 p~_h (1 - p~_h) / n_h, p~_h = (k_h + W_h / 2)
  / (n_h + W_h) and p~ = sum W_h p~_h: half a pseudo-event and half a pseudo-non-event in all,
  spread over the strata by weight (Jeffreys' prior for the whole population). They keep a stratum
  without events (or with only events) from claiming zero variance, so a lightly sampled heavy
  stratum widens the interval as it should, while many light strata without events cost little;
  with one stratum this is exactly Wilson's interval at n.
- ``prior_trials`` = S > 0 (the plan of :mod:`dnnfi.designs.strata`, never a reported interval)
  also shrinks each stratum's rate towards the stratified rate p by S pseudo-injections:
  p~_h = (k_h + S p + W_h / 2) / (n_h + S + W_h), the SCM shares alike, so that a lightly sampled
  stratum without events looks as uncertain as one failing at the campaign's rate.
- The SCM probability (SCM / SDC) is the ratio estimator R = sum W_h x_h/n_h / sum W_h y_h/n_h
  (consistent; its bias is of order 1/n). Its variance by linearisation, v~ = sum W_h^2 s_h^2 /
  n_h / Y~^2, where s_h^2 is the variance of d = x - R~ y in stratum h computed from shrunk shares
  (SDC rate y~_h as above, SCM share of SDCs (x_h + 1/2) / (y_h + 1)), Y~ = sum W_h y~_h and R~ the
  ratio of the shrunk shares; its interval is Wilson's at the effective number of SDCs m_eff =
  R~ (1 - R~) / v~ with m_eff R events, capped at the SDCs observed (the ratio cannot be more
  certain than the events it is taken over).
"""

from __future__ import annotations

import numpy as np

from dnnfi.analysis.intervals import wilson


def _check(weights, trials) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(weights, dtype=float)
    n = np.asarray(trials, dtype=float)
    if w.ndim != 1 or n.shape[-1] != len(w):
        raise ValueError(
            f"{len(w)} stratum weights for counts of shape {n.shape}: the last axis must be the strata"
        )
    if (w < 0).any() or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-9):
        raise ValueError(f"stratum weights must be >= 0 and sum to 1, got sum {w.sum()}")
    if ((n == 0) & (w > 0)).any():
        raise ValueError(
            "a stratum of positive weight has no injection: its rate cannot be estimated"
        )
    return w, n


def effective_wilson(rate, events, trials, confidence):
    """Wilson bounds at (possibly fractional) effective counts around ``rate``, with ``n_eff``
    (also the clustered intervals of a bit-sweep campaign, :mod:`dnnfi.designs.bit_sweep`)."""
    return wilson(events, trials, confidence, rate) | {"n_eff": trials}


def shrunk_rates(weights, events, trials, prior_trials: float = 0) -> np.ndarray:
    """Stratum rates (k_h + S p + W_h / 2) / (n_h + S + W_h), S = ``prior_trials`` and p the
    stratified rate: half a pseudo-event and half a pseudo-non-event in all, spread by weight, and
    S pseudo-injections at the campaign's rate in each stratum; never 0 or 1 in a stratum of
    positive weight, 0 in one of weight 0."""
    w = np.asarray(weights, dtype=float)
    k, n = np.asarray(events, float), np.asarray(trials, float)
    with np.errstate(invalid="ignore"):  # 0/0 in strata of weight 0, which count for nothing
        pooled = (w * np.where(w > 0, k / np.maximum(n, 1), 0.0)).sum(axis=-1, keepdims=True)
        return np.where(w > 0, (k + prior_trials * pooled + w / 2) / (n + prior_trials + w), 0.0)


def _shrunk_shares(weights, numerator, denominator, trials, prior_trials):
    """(SCM, SDC) shares of injections per stratum: the SDC rate by :func:`shrunk_rates`, times the
    SCM share of SDCs (x + 1/2 + S r) / (y + 1 + S), r the pooled SCM share of SDCs."""
    x, y = np.asarray(numerator, float), np.asarray(denominator, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.nan_to_num(x.sum(axis=-1, keepdims=True) / y.sum(axis=-1, keepdims=True))
    share = (x + 0.5 + prior_trials * pooled) / (y + 1 + prior_trials)
    sdc = shrunk_rates(weights, y, trials, prior_trials)
    return sdc * share, sdc


def ratio_spreads(weights, numerator, denominator, trials, ratio, prior_trials=0) -> np.ndarray:
    """Per-stratum standard deviation of d = x - ratio y (x: SCM, y: SDC indicators) from the
    shrunk stratum shares of :func:`_shrunk_shares`."""
    x, y = _shrunk_shares(weights, numerator, denominator, trials, prior_trials)
    r = np.asarray(ratio, float)[..., None]
    return np.sqrt(np.maximum(x * (1 - r) ** 2 + (y - x) * r**2 - (x - r * y) ** 2, 0))


def shrunk_ratio(weights, numerator, denominator, trials, prior_trials=0) -> np.ndarray:
    """R~: the ratio of the shrunk SCM and SDC shares of :func:`ratio_spreads`."""
    x, y = _shrunk_shares(weights, numerator, denominator, trials, prior_trials)
    return (weights * x).sum(axis=-1) / (weights * y).sum(axis=-1)


def stratified_rate(
    weights, events, trials, confidence: float = 0.95, prior_trials: float = 0
) -> dict[str, np.ndarray]:
    """Stratified rate with its effective-size Wilson interval (module docstring).

    ``weights`` (H,): stratum probabilities; ``events``, ``trials`` (..., H): counts per stratum.
    Returns arrays of shape (...): ``estimate``, ``lo``, ``hi``, ``margin`` (larger distance from
    the estimate to a bound) and ``n_eff``. Strata of weight 0 are ignored.
    """
    w, n = _check(weights, trials)
    k = np.asarray(events, dtype=float)
    safe = np.maximum(n, 1)
    rate = (w * k / safe).sum(axis=-1)
    shrunk = shrunk_rates(w, k, n, prior_trials)
    variance = (w**2 * shrunk * (1 - shrunk) / safe).sum(axis=-1)
    centre = (w * shrunk).sum(axis=-1)
    n_eff = centre * (1 - centre) / variance
    return effective_wilson(rate, rate * n_eff, n_eff, confidence)


def stratified_ratio(
    weights, numerator, denominator, trials, confidence: float = 0.95, prior_trials: float = 0
) -> dict[str, np.ndarray]:
    """Ratio estimate of sum W_h x_h / sum W_h y_h (SCM / SDC) with its linearised, effective-size
    Wilson interval (module docstring). Every injection counted in ``numerator`` must also be in
    ``denominator`` (an SCM is an SDC). NaN where no stratum has a denominator event."""
    w, n = _check(weights, trials)
    x = np.asarray(numerator, dtype=float)
    y = np.asarray(denominator, dtype=float)
    if (x > y).any():
        raise ValueError(
            "numerator events exceed denominator events in a stratum (every SCM is an SDC)"
        )
    safe = np.maximum(n, 1)
    top, bottom = (w * x / safe).sum(axis=-1), (w * y / safe).sum(axis=-1)
    centre = shrunk_ratio(w, x, y, n, prior_trials)
    spread = ratio_spreads(w, x, y, n, centre, prior_trials)
    variance = (w**2 * spread**2 / safe).sum(axis=-1) / (
        w * shrunk_rates(w, y, n, prior_trials)
    ).sum(axis=-1) ** 2
    observed = y.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = top / bottom
        m_eff = np.where(
            observed > 0, np.minimum(centre * (1 - centre) / variance, observed), np.nan
        )
    return effective_wilson(ratio, ratio * m_eff, m_eff, confidence)
