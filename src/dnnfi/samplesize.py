"""How many injections a campaign needs: the fixed statistical-FI sample size of Leveugle et al.
(DATE 2009) and a sequential stopping rule on the Wilson interval of the SDC rate.

Margins are absolute, as shares in [0, 1] (0.05 = ±5 percentage points).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from dnnfi.intervals import wilson


def normal_cutoff(confidence: float) -> float:
    """Two-sided standard-normal cutoff t as printed in z tables (3 decimals: 1.960 for 95%, 2.576 for 99%).

    The published sample sizes (384, 664, ...) are computed with these table values.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return round(float(norm.ppf(0.5 + confidence / 2)), 3)


def leveugle_sample_size(margin: float, confidence: float = 0.95, population: float | None = None,
                         p: float = 0.5) -> int:
    """Injections n = N / (1 + e^2 (N - 1) / (t^2 p (1 - p))), rounded to the nearest integer.

    ``margin`` e: target half-width (share); ``population`` N: size of the fault space (None or
    inf: infinite, n = t^2 p (1 - p) / e^2); ``p``: expected share of failures (0.5 is the worst
    case). Known answers for large N and p = 0.5: 384 (95%, 0.05), 1067 (95%, 0.03), 9604 (95%,
    0.01), 664 (99%, 0.05).
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must be in (0, 1), got {margin}")
    if not 0 < p < 1:
        raise ValueError(f"expected failure share p must be in (0, 1), got {p}")
    if population is not None and population < 1:
        raise ValueError(f"population must be >= 1, got {population}")
    t = normal_cutoff(confidence)
    infinite = t**2 * p * (1 - p) / margin**2
    if population is None or np.isinf(population):
        return int(round(infinite))
    return int(round(population / (1 + (population - 1) / infinite)))


def sequential_stop(sdc, margin: float, round_size: int, confidence: float = 0.95) -> int | None:
    """Injections after which a sequential campaign stops, or None if the target is never reached.

    ``sdc``: boolean SDC flags, shape (injections,), in ``fault_id`` order (the order the campaign
    draws and runs its faults). The margin of the SDC rate (:func:`dnnfi.intervals.wilson`) is checked after
    every ``round_size`` injections (round_size, 2 round_size, ...; a last partial round is not
    checked); the first check at or below ``margin`` stops the campaign. Checking only at round
    boundaries keeps the rule independent of how rounds are split into shards or batches.

    A rate near 0 narrows the interval quickly, so a small first round can stop with few SDCs:
    pick ``round_size`` near ``leveugle_sample_size`` of a plausible rate.
    """
    if round_size < 1:
        raise ValueError(f"round_size must be >= 1, got {round_size}")
    if not 0 < margin < 1:
        raise ValueError(f"margin must be in (0, 1), got {margin}")
    flags = np.asarray(sdc, dtype=bool)
    checks = np.arange(round_size, len(flags) + 1, round_size)
    if len(checks) == 0:
        return None
    failures = np.cumsum(flags)[checks - 1]
    reached = np.flatnonzero(wilson(failures, checks, confidence)["margin"] <= margin)
    return int(checks[reached[0]]) if len(reached) else None
