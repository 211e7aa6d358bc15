"""How many injections a campaign needs: the fixed statistical-FI sample size of Leveugle et al.
(DATE 2009). The sequential design's stopping rule is :func:`dnnfi.designs.sequential.sequential_stop`.

Margins are absolute, as shares in [0, 1] (0.05 = ±5 percentage points).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def normal_cutoff(confidence: float) -> float:
    """Two-sided standard-normal cutoff t as printed in z tables (3 decimals: 1.960 for 95%, 2.576 for 99%).

    The published sample sizes (384, 664, ...) are computed with these table values.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return round(float(norm.ppf(0.5 + confidence / 2)), 3)


def leveugle_sample_size(
    margin: float, confidence: float = 0.95, population: float | None = None, p: float = 0.5
) -> int:
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
