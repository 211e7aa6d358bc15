"""Stratified sampling of an activation campaign's fault distribution (docs/semantics.md, section 11).

The distribution itself is the campaign's (image uniform over the population's images, site
layer-uniform or size-proportional, element uniform, bit uniform over the format or ``bits``);
stratification only changes how it is sampled and weighted. An *atom* is (site, bit, value class),
the value class saying what the golden value at the element is: ``zero`` (+-0), or positive /
negative with the flipped bit clear (0 -> 1) or set (1 -> 0). Atom probabilities are exact: the
site and bit probabilities of the campaign times the share of (image, element) pairs of the site
in that class, counted from a golden pass. A stratum is a union of atoms, by ``STRATA``.

A campaign runs a pilot (injections spread evenly, at least ``floor`` per stratum of positive
weight), then rounds of Neyman allocation on the pilot's estimates, each to the need predicted
from the counts so far, and stops after the first round at which the target metric's achieved
margin is at most ``margin`` (:func:`run_stratified`); the plan adds :data:`PRIOR_TRIALS`
pseudo-injections at the campaign's rates to every stratum. Estimates and intervals:
:mod:`dnnfi.analysis.stratified_estimates`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from dnnfi.analysis.stratified_estimates import (
    ratio_spreads,
    shrunk_rates,
    shrunk_ratio,
    stratified_rate,
    stratified_ratio,
)
from dnnfi.faults.bitflip import n_bits
from dnnfi.faults.lists import BIT_MODELS

#: stratifications: the atom columns a stratum keeps
STRATA = {
    "bit": ("bit",),
    "bit_value": ("bit", "value"),
    "field_value": ("field", "value"),
    "site_bit": ("site", "bit"),
    "site_bit_value": ("site", "bit", "value"),
    "site_field_value": ("site", "field", "value"),
}
VALUE_CLASSES = ("zero", "positive_clear", "positive_set", "negative_clear", "negative_set")
METRICS = ("sdc_rate", "scm_probability")
#: mantissa bits per format: a ``field`` stratum pools them (-1), exponent and sign bits stay apart
MANTISSA_BITS = {"float32": 23, "float16": 10, "bfloat16": 7}
#: per-stratum counts a campaign keeps (``scm`` counts SDCs that are SCM)
COUNTS = ("trials", "sdc", "sdc_top5", "due", "scm")
#: pseudo-injections at the campaign's rates that the plan (the allocation and the predicted
#: need of each round) adds to every stratum (``prior_trials`` of
#: :mod:`dnnfi.analysis.stratified_estimates`; estimates, intervals and the stop have none).
#: Without them a stratum whose pilot injections happened to show no event looked nearly certain
#: and was given few injections, so a campaign's margin hung on the luck of a few light strata:
#: on the sampling bench's initially misclassified images, SDC-rate intervals of campaigns stopped
#: at +/-0.1 points held the truth 0.90 of the time (docs/sampling.md)
PRIOR_TRIALS = 5


def _sign_zero(encoding: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(sign bit set, value is +-0) of unsigned integer encodings of ``width`` bits."""
    unit = encoding.dtype.type
    return ((encoding >> unit(width - 1)) & unit(1)).astype(bool), (
        encoding & unit((1 << (width - 1)) - 1)
    ) == 0


def _bit_set(encoding: np.ndarray, bit) -> np.ndarray:
    return ((encoding >> np.asarray(bit).astype(encoding.dtype)) & encoding.dtype.type(1)).astype(
        bool
    )


def value_class(encoding: np.ndarray, bit, width: int) -> np.ndarray:
    """Index into ``VALUE_CLASSES`` of golden values given as unsigned integer encodings of
    ``width`` bits, for the flip of ``bit`` (one bit, or one per value)."""
    encoding = np.asarray(encoding)
    sign, zero = _sign_zero(encoding, width)
    return np.where(
        zero, 0, 1 + 2 * sign.astype(np.int64) + _bit_set(encoding, bit).astype(np.int64)
    )


#: bits of each byte value (256, 8), least significant first
_BYTE_BITS = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(np.int64)


def image_counts(encoding: np.ndarray) -> np.ndarray:
    """Per-image counts of golden values given as unsigned integer encodings, shape (images,
    elements per image): (images, 3 + 2 x width) of :func:`count_dtype`, the columns ``zero``, ``positive``,
    ``negative`` (non-zero values by sign), then for each bit b = 0 .. width - 1 the positive
    values with bit b set, then the negative values with bit b set. Every value class of every bit
    follows (:func:`class_table`), so these counts replace the values for the strata's weights
    and draws. One histogram per byte of the encoding and sign (``np.bincount``), so the cost
    does not grow with the number of bits."""
    encoding = np.asarray(encoding)
    n, size = encoding.shape
    itemsize = encoding.dtype.itemsize
    width = 8 * itemsize
    sign, zero = _sign_zero(encoding, width)
    out = np.empty((n, 3 + 2 * width), count_dtype(size))
    out[:, 0] = zero.sum(axis=1)
    out[:, 1] = (~zero & ~sign).sum(axis=1)
    out[:, 2] = (~zero & sign).sum(axis=1)
    # byte k of a little-endian encoding holds bits 8k .. 8k + 7; a zero's only set bit is the sign
    key = np.arange(n, dtype=np.int64)[:, None] * 512 + sign.astype(np.int64) * 256
    as_bytes = encoding.astype(encoding.dtype.newbyteorder("<")).view(np.uint8)
    as_bytes = as_bytes.reshape(n, size, itemsize)
    for k in range(itemsize):
        histogram = np.bincount((key + as_bytes[:, :, k]).ravel(), minlength=n * 512)
        set_bits = histogram.reshape(n, 2, 256) @ _BYTE_BITS  # (images, sign, 8 bits)
        out[:, 3 + 8 * k : 3 + 8 * k + 8] = set_bits[:, 0]
        out[:, 3 + width + 8 * k : 3 + width + 8 * k + 8] = set_bits[:, 1]
    out[:, 3 + 2 * width - 1] = out[:, 2]  # the sign bit of the non-zero negatives (not -0.0)
    return out


def count_dtype(size: int) -> type:
    """The smallest unsigned integer type that counts ``size`` values of one image."""
    return np.uint16 if size < 2**16 else np.uint32


def class_table(counts: np.ndarray, bit: int) -> np.ndarray:
    """(rows, 5) counts of each of ``VALUE_CLASSES`` for the flip of ``bit``, from rows of
    :func:`image_counts` (one per image, or their sum)."""
    counts = np.asarray(counts, np.int64)
    width = (counts.shape[-1] - 3) // 2
    positive_set, negative_set = counts[..., 3 + bit], counts[..., 3 + width + bit]
    return np.stack(
        [
            counts[..., 0],
            counts[..., 1] - positive_set,
            positive_set,
            counts[..., 2] - negative_set,
            negative_set,
        ],
        axis=-1,
    )


def field_of(bit, dtype: str) -> np.ndarray:
    """The ``field`` of a bit: -1 for any mantissa bit, the bit itself for exponent and sign bits."""
    bit = np.asarray(bit)
    return np.where(bit < MANTISSA_BITS[dtype], -1, bit)


def _encodings(values: np.ndarray) -> np.ndarray:
    return values.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[values.dtype.itemsize])


def atom_table(
    sites: pd.DataFrame,
    site_counts: Callable[[str], np.ndarray],
    sampling: str = "layer_uniform",
    bits: list[int] | None = None,
) -> pd.DataFrame:
    """Every atom (``site``, ``bit``, ``value``) of positive probability with its probability ``p``
    under the campaign's distribution, its ``count`` of (image, element) pairs and the bit's
    ``field`` (:func:`field_of`).

    ``sites``: the eligible sites (``site``, ``size``, ``dtype``) in model order;
    ``site_counts(site)``: :func:`image_counts` of the site's golden output for the population's
    images.
    """
    sizes = sites["size"].to_numpy(dtype=float)
    p_site = (
        sizes / sizes.sum()
        if sampling == "size_proportional"
        else np.full(len(sites), 1 / len(sites))
    )
    rows = []
    for (site, dtype), p in zip(sites[["site", "dtype"]].itertuples(index=False), p_site):
        width = n_bits(dtype)
        allowed = np.arange(width) if bits is None else np.asarray(bits)
        total = np.asarray(site_counts(site)).sum(axis=0, dtype=np.int64)
        pairs = total[:3].sum()  # images x elements
        for bit in allowed:
            counts = class_table(total, int(bit))
            for value in np.flatnonzero(counts):
                rows.append(
                    (
                        site,
                        int(bit),
                        int(field_of(bit, dtype)),
                        VALUE_CLASSES[value],
                        int(counts[value]),
                        p / len(allowed) * counts[value] / pairs,
                    )
                )
    return pd.DataFrame(rows, columns=["site", "bit", "field", "value", "count", "p"])


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
        raise ValueError(
            f"{total} injections cannot give {floor} to each of {np.count_nonzero(base)} strata"
        )
    share = weights * spread
    share = share / share.sum() if share.sum() > 0 else weights / weights.sum()
    exact = rest * share
    n = np.floor(exact).astype(np.int64)
    n[np.argsort(-(exact - n), kind="stable")[: rest - n.sum()]] += 1
    return base + n


def spreads(
    pilot: pd.DataFrame,
    weights: np.ndarray,
    metric: str,
    trials=None,
    prior_trials: float | None = None,
) -> np.ndarray:
    """Predicted per-stratum standard deviation of the metric's per-injection variable (the SDC
    indicator, or d = SCM - R SDC for the SCM probability R, by linearisation) once stratum h has
    ``trials[h]`` injections (default: the pilot's): the pilot's stratum rates, shrunk as the
    plan shrinks them (``prior_trials`` pseudo-injections, None: :data:`PRIOR_TRIALS`;
    :mod:`dnnfi.analysis.stratified_estimates`), so that a stratum without pilot events looks the
    less uncertain the more it is sampled."""
    prior_trials = PRIOR_TRIALS if prior_trials is None else prior_trials
    n_pilot = pilot["trials"].to_numpy(float)
    n = n_pilot if trials is None else np.asarray(trials, float)
    scale = n / np.maximum(n_pilot, 1)
    y, x = pilot["sdc"].to_numpy(float) * scale, pilot["scm"].to_numpy(float) * scale
    if metric == "sdc_rate":
        rate = shrunk_rates(weights, y, n, prior_trials)
        return np.sqrt(rate * (1 - rate))
    ratio = shrunk_ratio(weights, x, y, n, prior_trials)
    return ratio_spreads(weights, x, y, n, ratio, prior_trials)


def plan(
    pilot: pd.DataFrame,
    weights: np.ndarray,
    metric: str,
    total: int,
    floor: int = 0,
    prior_trials: float | None = None,
) -> np.ndarray:
    """Cumulative allocation of ``total`` injections: Neyman on :func:`spreads` predicted at the
    allocation itself (a fixed point, reached in a few steps)."""
    n = allocate(weights, spreads(pilot, weights, metric, None, prior_trials), total, floor)
    for _ in range(10):
        trials = np.maximum(n, 1)
        n = allocate(weights, spreads(pilot, weights, metric, trials, prior_trials), total, floor)
    return n


def estimate(
    counts: pd.DataFrame, weights: np.ndarray, confidence: float = 0.95, prior_trials: float = 0
) -> dict[str, dict]:
    """Estimates with intervals of every metric from per-stratum counts (columns ``COUNTS``);
    ``prior_trials`` only for the plan (:data:`PRIOR_TRIALS`)."""
    n = counts["trials"].to_numpy()
    out = {
        f"{name}_rate": stratified_rate(
            weights, counts[name].to_numpy(), n, confidence, prior_trials
        )
        for name in ("sdc", "sdc_top5", "due", "scm")
    }
    out["scm_probability"] = stratified_ratio(
        weights, counts["scm"].to_numpy(), counts["sdc"].to_numpy(), n, confidence, prior_trials
    )
    return out


def pilot_allocation(weights: np.ndarray, pilot: int, floor: int = 1) -> np.ndarray:
    """The pilot: ``pilot`` injections spread evenly over the strata of positive weight, at least
    ``floor`` each."""
    positive = (np.asarray(weights, float) > 0).astype(float)
    return allocate(positive, positive, pilot, floor)


def predicted_margin(
    rates: pd.DataFrame,
    weights: np.ndarray,
    metric: str,
    n: np.ndarray,
    confidence: float = 0.95,
    prior_trials: float | None = None,
) -> float:
    """The achieved margin of ``metric`` if an allocation of ``n[h]`` injections per stratum met
    the stratum rates of the counts ``rates`` (scaled to ``n``; the intervals of :func:`estimate`,
    with ``prior_trials`` pseudo-injections as the plan has them, None: :data:`PRIOR_TRIALS`)."""
    prior_trials = PRIOR_TRIALS if prior_trials is None else prior_trials
    scale = np.asarray(n, float) / np.maximum(rates["trials"].to_numpy(float), 1)
    expected = rates[list(COUNTS)].astype(float).mul(scale, axis=0)
    expected["trials"] = np.asarray(n, float)
    return float(estimate(expected, weights, confidence, prior_trials)[metric]["margin"])


def predicted_need(
    pilot_counts: pd.DataFrame,
    rates: pd.DataFrame,
    weights: np.ndarray,
    metric: str,
    margin: float,
    lo: int,
    hi: int,
    floor: int = 1,
    confidence: float = 0.95,
    prior_trials: float | None = None,
) -> int:
    """The smallest total in [lo, hi] whose :func:`plan` (on the pilot) meets ``margin`` at the
    stratum rates of ``rates`` (:func:`predicted_margin`); ``hi`` when none does. ``prior_trials``
    = 0 with the true rates as pilot and rates gives the best allocation for the intervals
    (``make bench-sampling-ceiling``)."""
    while lo < hi:  # the predicted margin falls as the total grows
        mid = (lo + hi) // 2
        n = plan(pilot_counts, weights, metric, mid, floor, prior_trials)
        if predicted_margin(rates, weights, metric, n, confidence, prior_trials) <= margin:
            hi = mid
        else:
            lo = mid + 1
    return lo


def round_allocation(
    pilot_counts: pd.DataFrame,
    earlier: pd.DataFrame | None,
    weights: np.ndarray,
    metric: str,
    margin: float,
    pilot: int,
    round_size: int,
    max_injections: int,
    floor: int = 1,
    confidence: float = 0.95,
) -> np.ndarray:
    """Injections per stratum of the next allocation round, after the rounds whose summed counts
    are ``earlier`` (None before round 1): it brings the rounds' total to the need predicted from
    the pilot's and the earlier rounds' stratum rates (:func:`predicted_need`), at least
    ``round_size`` more and at most what ``max_injections`` (the pilot included) leaves, so that
    a campaign stops close to its target in few rounds. Its shape follows :func:`plan` on the
    pilot alone: round 1 is the plan of its total (with the floor), a later round adds its
    injections in proportion to what each stratum lacks of the plan of the new total. All zero
    once the budget is spent."""
    weights = np.asarray(weights, float)
    have = np.zeros(len(weights), np.int64) if earlier is None else earlier["trials"].to_numpy()
    done, most = int(have.sum()), max_injections - pilot
    first = floor * int(np.count_nonzero(weights > 0))
    if done >= most or most < first:
        return np.zeros(len(weights), np.int64)
    rates = pilot_counts if earlier is None else pilot_counts + earlier
    need = predicted_need(
        pilot_counts, rates, weights, metric, margin, first, most, floor, confidence
    )
    total = min(max(need, done + round_size, first), most)
    target = plan(pilot_counts, weights, metric, total, floor)
    if earlier is None:
        return target
    return allocate(np.maximum(target - have, 0), np.ones(len(weights)), total - done)


def margin_reached(
    counts: pd.DataFrame, weights: np.ndarray, metric: str, margin: float, confidence: float = 0.95
) -> bool:
    """Whether the allocation rounds' ``counts`` give ``metric`` an achieved margin <= ``margin``."""
    return bool(estimate(counts, weights, confidence)[metric]["margin"] <= margin)


def run_stratified(
    weights: np.ndarray,
    evaluate: Callable[[np.ndarray, int], pd.DataFrame],
    metric: str,
    margin: float,
    pilot: int,
    round_size: int,
    max_injections: int,
    floor: int = 1,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, list[int]]:
    """A pilot, then rounds of Neyman allocation until ``metric``'s achieved margin is <= ``margin``.

    ``evaluate(n, round)`` runs n[h] injections in stratum h (round 0 is the pilot) and returns
    their per-stratum counts (columns ``COUNTS``, one row per stratum). The pilot
    (:func:`pilot_allocation`, so that rare strata show their rates too) only sets the
    allocation: its counts enter no estimate, because an allocation that depends on a stratum's
    own outcomes would bias that stratum's rate. Each round (:func:`round_allocation`) brings the
    rounds to the need predicted from the counts so far, at least ``round_size`` more; the margin
    is checked after each round, and the campaign stops at the first round that meets it or when
    ``max_injections`` is spent.
    Returns (counts of the allocation rounds, injections after each round, pilot included).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: expected one of {METRICS}")
    weights = np.asarray(weights, float)
    pilot_counts = evaluate(pilot_allocation(weights, pilot, floor), 0)
    counts, done = None, [pilot]
    while done[-1] < max_injections:
        n = round_allocation(
            pilot_counts, counts, weights, metric, margin, pilot, round_size, max_injections, floor,
            confidence,
        )  # fmt: skip
        if n.sum() == 0:
            break
        new = evaluate(n, len(done))
        counts = new if counts is None else counts + new
        done.append(done[-1] + int(n.sum()))
        if margin_reached(counts, weights, metric, margin, confidence):
            break
    if counts is None:
        raise ValueError(
            f"max_injections {max_injections} leaves no round after a pilot of {pilot}"
        )
    return counts, done


def draw_strata(
    atoms: pd.DataFrame,
    codes: np.ndarray,
    n: np.ndarray,
    rng: np.random.Generator,
    site_counts: Callable[[str], np.ndarray],
    site_values: Callable[[np.ndarray, list[str]], dict[str, np.ndarray]],
    images: np.ndarray,
    fault_model: str = "bitflip",
    block: int = 64,
) -> pd.DataFrame:
    """A fault list with n[h] faults from stratum h (``codes``: stratum of each atom, see
    :func:`strata_of`): the atom by its probability within the stratum, then (image, element)
    uniformly among the pairs of that atom's class: the image with probability proportional to its
    count of the class (``site_counts``, :func:`image_counts`), then the element uniformly among
    that image's values of the class, recomputed by ``site_values(positions, sites)`` (golden
    outputs of the population's images at ``positions``, ``block`` images at a time) so that only
    counts are kept. ``images``: the population's image indices (rows of the counts). Rows come
    stratum by stratum, with a ``stratum`` column. Only single-bit bit-model faults have (bit,
    value) atoms: other fault models are refused. A recomputed image whose count of the class
    differs from the counted one stops the draw (the engine's golden values must not depend on
    which images share a pass, docs/semantics.md section 4)."""
    if fault_model not in BIT_MODELS:
        raise ValueError(
            f"stratified sampling needs a single-bit fault model {BIT_MODELS}, got {fault_model!r}"
        )
    p = atoms["p"].to_numpy()
    members = [np.flatnonzero(codes == h) for h in range(len(n))]
    atom = np.concatenate(
        [rng.choice(m, size=k, p=p[m] / p[m].sum()) for m, k in zip(members, n) if k > 0]
        or [np.zeros(0, np.int64)]
    )
    chosen = atoms.iloc[atom].reset_index(drop=True)
    cls = chosen["value"].map(VALUE_CLASSES.index).to_numpy(np.int64)
    bit = chosen["bit"].to_numpy(np.int64)
    position, expected = np.zeros(len(atom), np.int64), np.zeros(len(atom), np.int64)
    for (site, b, c), part in chosen.assign(cls=cls).groupby(["site", "bit", "cls"]).groups.items():
        per_image = class_table(site_counts(site), int(b))[:, c]
        position[part] = rng.choice(len(per_image), size=len(part), p=per_image / per_image.sum())
        expected[part] = per_image[position[part]]
    uniform = rng.random(len(atom))  # the element's rank among its image's values of the class
    element = np.zeros(len(atom), np.int64)
    names = chosen["site"].to_numpy()
    distinct = np.unique(position)
    for start in range(0, len(distinct), block):
        wanted = distinct[start : start + block]
        groups: dict[tuple, list[int]] = {}
        for i in np.flatnonzero(np.isin(position, wanted)):
            groups.setdefault((position[i], names[i], bit[i], cls[i]), []).append(i)
        values = site_values(wanted, sorted({key[1] for key in groups}))
        for (pos, site, b, c), faults in groups.items():
            encoding = _encodings(np.asarray(values[site][np.searchsorted(wanted, pos)]))
            where = np.flatnonzero(value_class(encoding, b, 8 * encoding.itemsize) == c)
            if len(where) != expected[faults[0]]:
                raise RuntimeError(
                    f"site {site}, image {images[pos]}: {len(where)} values of class "
                    f"{VALUE_CLASSES[c]} for bit {b} on recomputing, {expected[faults[0]]} "
                    "counted: the engine's golden values depend on the pass"
                )
            element[faults] = where[(uniform[faults] * len(where)).astype(np.int64)]
    return pd.DataFrame(
        {
            "fault_id": np.arange(len(atom), dtype=np.int64),
            "image": images[position],
            "site": chosen["site"],
            "element": element,
            "bit": bit,
            "fault_model": fault_model,
            "random_u": np.nan,
            "stratum": codes[atom],
        }
    )


def golden_counts(
    site_values: Callable[[np.ndarray, list[str]], dict[str, np.ndarray]],
    n_images: int,
    sites: list[str],
    block: int,
) -> dict[str, np.ndarray]:
    """:func:`image_counts` of each site for ``n_images`` images, from their golden values
    (``site_values(positions, sites)``) computed ``block`` images at a time: only the counts and
    one block of values are held."""
    from dnnfi.workflow.runlog import Progress

    counts = {}
    for start in Progress(range(0, n_images, block), desc="golden pass"):
        positions = np.arange(start, min(start + block, n_images))
        values = site_values(positions, sites)
        for site in sites:
            part = image_counts(_encodings(np.asarray(values[site])))
            counts.setdefault(site, np.empty((n_images, part.shape[1]), part.dtype))
            counts[site][positions] = part
    return counts


def stratum_counts(results: pd.DataFrame, n_strata: int) -> pd.DataFrame:
    """Per-stratum ``COUNTS`` of classified injections with ``stratum``, ``outcome``, ``sdc_top5``, ``scm``."""
    h = results["stratum"].to_numpy()
    sdc = (results["outcome"] == "sdc").to_numpy()
    flags = {
        "trials": np.ones(len(h)),
        "sdc": sdc,
        "sdc_top5": results["sdc_top5"].to_numpy(bool),
        "due": (results["outcome"] == "due").to_numpy(),
        "scm": results["scm"].to_numpy(bool) & sdc,
    }
    return pd.DataFrame(
        {
            k: np.bincount(h, weights=v, minlength=n_strata).astype(np.int64)
            for k, v in flags.items()
        }
    )
