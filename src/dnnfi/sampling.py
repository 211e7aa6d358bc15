"""Stratified sampling of an activation campaign's fault distribution (docs/semantics.md, section 11).

The distribution itself is the campaign's (image uniform over the population's images, site
layer-uniform or size-proportional, element uniform, bit uniform over the format or ``bits``);
stratification only changes how it is sampled and weighted. An *atom* is (site, bit, value class),
the value class saying what the golden value at the element is: ``zero`` (+-0), or positive /
negative with the flipped bit clear (0 -> 1) or set (1 -> 0). Atom probabilities are exact: the
site and bit probabilities of the campaign times the share of (image, element) pairs of the site
in that class, counted from a golden pass. A stratum is a union of atoms, by ``STRATA``.

A campaign runs a pilot (injections spread by weight, at least ``floor`` per stratum of positive
weight), then rounds of Neyman allocation on the estimates so far, and stops after the first
round at which the target metric's achieved margin is at most ``margin``
(:func:`run_stratified`). Estimates and intervals: :mod:`dnnfi.stratified`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from dnnfi.bitflip import n_bits
from dnnfi.stratified import stratified_rate, stratified_ratio

#: stratifications: the atom columns a stratum keeps
STRATA = {"bit": ("bit",), "bit_value": ("bit", "value"), "site_bit": ("site", "bit"),
          "site_bit_value": ("site", "bit", "value")}
VALUE_CLASSES = ("zero", "positive_clear", "positive_set", "negative_clear", "negative_set")
METRICS = ("sdc_rate", "scm_probability")
#: per-stratum counts a campaign keeps (``scm`` counts SDCs that are SCM)
COUNTS = ("trials", "sdc", "sdc_top5", "due", "scm")


def value_class(encoding: np.ndarray, bit: np.ndarray, width: int) -> np.ndarray:
    """Index into ``VALUE_CLASSES`` of golden values given as unsigned integer encodings."""
    encoding = np.asarray(encoding).astype(np.uint64)
    sign = (encoding >> np.uint64(width - 1)) & np.uint64(1)
    zero = (encoding & np.uint64((1 << (width - 1)) - 1)) == 0
    is_set = (encoding >> np.asarray(bit).astype(np.uint64)) & np.uint64(1)
    return np.where(zero, 0, 1 + 2 * sign.astype(np.int64) + is_set.astype(np.int64))


def _encodings(values: np.ndarray) -> np.ndarray:
    return values.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[values.dtype.itemsize])


def atom_table(sites: pd.DataFrame, site_values: Callable[[str], np.ndarray], sampling: str = "layer_uniform",
               bits: list[int] | None = None) -> pd.DataFrame:
    """Every atom (``site``, ``bit``, ``value``) of positive probability with its probability ``p``
    under the campaign's distribution and its ``count`` of (image, element) pairs.

    ``sites``: the eligible sites (``site``, ``size``, ``dtype``) in model order;
    ``site_values(site)``: golden output of the site for the population's images, shape (images,
    elements per image), in the site's format.
    """
    sizes = sites["size"].to_numpy(dtype=float)
    p_site = sizes / sizes.sum() if sampling == "size_proportional" else np.full(len(sites), 1 / len(sites))
    rows = []
    for (site, dtype), p in zip(sites[["site", "dtype"]].itertuples(index=False), p_site):
        width = n_bits(dtype)
        allowed = np.arange(width) if bits is None else np.asarray(bits)
        encoding = _encodings(np.asarray(site_values(site))).reshape(-1)
        for bit in allowed:
            counts = np.bincount(value_class(encoding, bit, width), minlength=len(VALUE_CLASSES))
            for value in np.flatnonzero(counts):
                rows.append((site, int(bit), VALUE_CLASSES[value], int(counts[value]),
                             p / len(allowed) * counts[value] / len(encoding)))
    return pd.DataFrame(rows, columns=["site", "bit", "value", "count", "p"])


def strata_of(atoms: pd.DataFrame, strata: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(strata table with ``stratum`` and ``weight``, stratum index of each atom)."""
    if strata not in STRATA:
        raise ValueError(f"unknown strata {strata!r}: expected one of {list(STRATA)}")
    keys = list(STRATA[strata])
    codes, uniques = pd.MultiIndex.from_frame(atoms[keys]).factorize()
    table = pd.DataFrame(list(uniques), columns=keys)
    table["weight"] = np.bincount(codes, weights=atoms["p"], minlength=len(table))
    table.insert(0, "stratum", np.arange(len(table)))
    return table, codes


def allocate(weights: np.ndarray, spread: np.ndarray, total: int, floor: int = 0) -> np.ndarray:
    """Injections per stratum summing to ``total``: ``floor`` for every stratum of positive weight,
    the rest in proportion to weight x ``spread`` (Neyman; spread = weight alone gives proportional
    allocation), rounded by largest remainders (ties to the lower stratum)."""
    weights, spread = np.asarray(weights, float), np.asarray(spread, float)
    base = np.where(weights > 0, floor, 0)
    rest = total - base.sum()
    if rest < 0:
        raise ValueError(f"{total} injections cannot give {floor} to each of {np.count_nonzero(base)} strata")
    share = weights * spread
    share = share / share.sum() if share.sum() > 0 else weights / weights.sum()
    exact = rest * share
    n = np.floor(exact).astype(np.int64)
    n[np.argsort(-(exact - n), kind="stable")[: rest - n.sum()]] += 1
    return base + n


def _shrunk(events, trials, weights):
    """Stratum rates with the estimators' half pseudo-event spread by weight (never 0 or 1)."""
    return (events + weights / 2) / (trials + weights)


def spreads(counts: pd.DataFrame, weights: np.ndarray, metric: str) -> np.ndarray:
    """Per-stratum standard deviation of the metric's per-injection variable, from the counts so
    far: the SDC indicator, or d = SCM - R SDC for the SCM probability R (linearisation)."""
    n = counts["trials"].to_numpy(float)
    y = _shrunk(counts["sdc"].to_numpy(float), n, weights)
    if metric == "sdc_rate":
        return np.sqrt(y * (1 - y))
    x = np.minimum(_shrunk(counts["scm"].to_numpy(float), n, weights), y)
    ratio = (weights * x).sum() / (weights * y).sum()
    variance = x * (1 - ratio) ** 2 + (y - x) * ratio**2 - (x - ratio * y) ** 2
    return np.sqrt(np.maximum(variance, 0))


def estimate(counts: pd.DataFrame, weights: np.ndarray, confidence: float = 0.95) -> dict[str, dict]:
    """Estimates with intervals of every metric from per-stratum counts (columns ``COUNTS``)."""
    n = counts["trials"].to_numpy()
    out = {f"{name}_rate": stratified_rate(weights, counts[name].to_numpy(), n, confidence)
           for name in ("sdc", "sdc_top5", "due", "scm")}
    out["scm_probability"] = stratified_ratio(weights, counts["scm"].to_numpy(), counts["sdc"].to_numpy(), n,
                                              confidence)
    return out


def run_stratified(weights: np.ndarray, evaluate: Callable[[np.ndarray, int], pd.DataFrame], metric: str,
                   margin: float, pilot: int, round_size: int, max_injections: int, floor: int = 2,
                   confidence: float = 0.95) -> tuple[pd.DataFrame, int, list[int]]:
    """Pilot, then Neyman rounds until ``metric``'s achieved margin is <= ``margin``.

    ``evaluate(n, round)`` runs n[h] injections in stratum h (round 0 is the pilot) and returns
    their per-stratum counts (columns ``COUNTS``, one row per stratum). Returns (counts of all
    rounds, rounds run, injections after each round). Stops at ``max_injections`` if the target
    is not reached; the returned counts are then those of every round run.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: expected one of {METRICS}")
    weights = np.asarray(weights, float)
    counts = evaluate(allocate(weights, weights, pilot, floor), 0)
    done = [int(counts["trials"].sum())]
    while done[-1] + round_size <= max_injections:
        if estimate(counts, weights, confidence)[metric]["margin"] <= margin:
            break
        cumulative = allocate(weights, spreads(counts, weights, metric), done[-1] + round_size)
        want = np.maximum(cumulative - counts["trials"].to_numpy(), 0)
        new = allocate(want, np.ones(len(want)), round_size) if want.sum() else allocate(weights, weights, round_size)
        counts = counts + evaluate(new, len(done))
        done.append(int(counts["trials"].sum()))
    return counts, len(done), done


def draw_strata(atoms: pd.DataFrame, codes: np.ndarray, n: np.ndarray, rng: np.random.Generator,
                site_values: Callable[[str], np.ndarray], images: np.ndarray,
                fault_model: str = "bitflip") -> pd.DataFrame:
    """A fault list with n[h] faults from stratum h (``codes``: stratum of each atom, see
    :func:`strata_of`): the atom by its probability within the stratum, then (image, element)
    uniformly among the pairs of that atom's class. ``images``: the population's image indices
    (rows of ``site_values``). Rows come stratum by stratum, with a ``stratum`` column."""
    atom = np.concatenate([
        rng.choice(np.flatnonzero(codes == h), size=k, p=atoms["p"].to_numpy()[codes == h] / atoms["p"].to_numpy()[codes == h].sum())
        for h, k in enumerate(n) if k > 0
    ] or [np.zeros(0, np.int64)])
    stratum = codes[atom]
    image, element = np.zeros(len(atom), np.int64), np.zeros(len(atom), np.int64)
    chosen = atoms.iloc[atom].reset_index(drop=True)
    for site, rows in chosen.groupby("site", sort=False).groups.items():
        values = np.asarray(site_values(site))
        encoding, size = _encodings(values).reshape(-1), values.shape[1]
        width = values.dtype.itemsize * 8
        for (bit, value), part in chosen.loc[rows].groupby(["bit", "value"], sort=True).groups.items():
            where = np.flatnonzero(value_class(encoding, bit, width) == VALUE_CLASSES.index(value))
            pick = where[rng.integers(0, len(where), size=len(part))]
            image[part], element[part] = images[pick // size], pick % size
    return pd.DataFrame({"fault_id": np.arange(len(atom), dtype=np.int64), "image": image, "site": chosen["site"],
                         "element": element, "bit": chosen["bit"].to_numpy(np.int64), "fault_model": fault_model,
                         "random_u": np.nan, "stratum": stratum})


def stratum_counts(results: pd.DataFrame, n_strata: int) -> pd.DataFrame:
    """Per-stratum ``COUNTS`` of classified injections with ``stratum``, ``outcome``, ``sdc_top5``, ``scm``."""
    h = results["stratum"].to_numpy()
    sdc = (results["outcome"] == "sdc").to_numpy()
    flags = {"trials": np.ones(len(h)), "sdc": sdc, "sdc_top5": results["sdc_top5"].to_numpy(bool),
             "due": (results["outcome"] == "due").to_numpy(), "scm": results["scm"].to_numpy(bool) & sdc}
    return pd.DataFrame({k: np.bincount(h, weights=v, minlength=n_strata).astype(np.int64) for k, v in flags.items()})
