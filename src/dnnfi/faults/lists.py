"""The fault-list contract shared by both engines and both weight paths: columns, the
multi-element / multi-bit encoding, validation, and value corruption (docs/semantics.md).

An activation fault list is a table with one row per injection and the columns of
:data:`FAULT_COLUMNS`:

- ``fault_id``: position in the campaign's full list (0..n-1), independent of sharding;
- ``image``: index of the image in the evaluated split;
- ``site``: name of the fault site (a layer call in Keras, a module call in PyTorch);
- ``element``: flat index into that site's output for one image (C order, framework layout);
- ``bit``: bit position (IEEE-754, bit 0 = least significant mantissa bit), -1 for models without one;
- ``fault_model``: one of :data:`dnnfi.faults.bitflip.FAULT_MODELS`;
- ``random_u``: uniform draw in [0, 1) for the ``random`` model (NaN for other models), mapped
  onto the [min, max] of the golden site output of that image (:func:`uniform_values`).

A fault is k (element, bit) pairs of one site of one image. Multi-element / multi-bit faults
carry them in two list columns of equal length, ``elements`` and ``bits`` (``element``/``bit``
repeat the first pair); without them, or where a row's ``elements`` is null, the fault is the
single pair (``element``, ``bit``). Pairs on one element combine into one bit mask; zero and
random faults set every listed element to the same value.

Weight fault lists (:func:`draw_weight_faults`) have the columns of :data:`WEIGHT_FAULT_COLUMNS`,
one row per corrupted weight; ``replica`` groups the rows applied together, ``site`` names a
weight tensor and ``element`` is a flat index into it. :func:`corrupt_weights` gives both
frameworks the new values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnnfi.faults.bitflip import FAULT_MODELS, FORMATS, apply_mask, float_format, n_bits

FAULT_COLUMNS = ["fault_id", "image", "site", "element", "bit", "fault_model", "random_u"]
WEIGHT_FAULT_COLUMNS = ["replica", "site", "element", "bit", "fault_model", "random_u"]
BIT_MODELS = ("bitflip", "stuck_at_0", "stuck_at_1")
SAMPLING_MODES = ("layer_uniform", "size_proportional")
#: distributions of the random value of a weight fault (campaign key ``distribution``)
DISTRIBUTIONS = ("layer_uniform", "layer_normal", "uniform")


def draw_activation_faults(
    sites: pd.DataFrame,
    n: int,
    rng: np.random.Generator,
    images: np.ndarray,
    sampling: str = "layer_uniform",
    fault_model: str = "bitflip",
    bits: list[int] | None = None,
    bits_per_element: int = 1,
    elements_per_fault: int = 1,
) -> pd.DataFrame:
    """Draw ``n`` independent faults.

    ``sites`` lists the eligible sites in model order with columns ``site``, ``size`` (elements
    of the output for one image) and ``dtype``. ``layer_uniform`` (the seed-compatible default)
    draws the site uniformly, then the element uniformly within it; ``size_proportional`` draws
    uniformly over all elements of all sites. The bit is uniform over the format's bits, or
    uniform over ``bits`` when given. The draw order is fixed, so a seed gives one list.

    Multi-bit faults: ``elements_per_fault`` distinct elements of the same site (the first is
    ``element``) and, for bit models, ``bits_per_element`` distinct bits in each (the first
    element's first bit is ``bit``); they add the list columns ``elements`` and ``bits``. Their
    extra draws come after all single-fault draws, so the single-fault columns do not change.
    """
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"unknown sampling {sampling!r}: expected one of {SAMPLING_MODES}")
    if fault_model not in FAULT_MODELS:
        raise ValueError(f"unknown fault model {fault_model!r}: expected one of {FAULT_MODELS}")
    if sites.empty:
        raise ValueError("the model has no eligible fault site")
    sizes = sites["size"].to_numpy(dtype=np.int64)
    image = rng.choice(np.asarray(images), size=n)
    if sampling == "layer_uniform":
        site_idx = rng.integers(0, len(sites), size=n)
        element = (rng.random(n) * sizes[site_idx]).astype(np.int64)
    else:
        flat = rng.integers(0, sizes.sum(), size=n)
        site_idx = np.searchsorted(np.cumsum(sizes), flat, side="right")
        element = flat - np.concatenate([[0], np.cumsum(sizes)[:-1]])[site_idx]
    widths = np.array([n_bits(d) for d in sites["dtype"]])[site_idx]
    if bits is None:
        bit = (rng.random(n) * widths).astype(np.int64)
    else:
        bit = np.asarray(bits, dtype=np.int64)[rng.integers(0, len(bits), size=n)]
    random_u = rng.random(n)
    uses_bit = fault_model in BIT_MODELS
    table = pd.DataFrame(
        {
            "fault_id": np.arange(n, dtype=np.int64),
            "image": image.astype(np.int64),
            "site": sites["site"].to_numpy()[site_idx],
            "element": element,
            "bit": bit if uses_bit else np.full(n, -1, dtype=np.int64),
            "fault_model": fault_model,
            "random_u": random_u if fault_model == "random" else np.nan,
        }
    )
    if elements_per_fault > 1 or (uses_bit and bits_per_element > 1):
        choices = [np.arange(w) if bits is None else np.asarray(bits) for w in widths]
        table["elements"], table["bits"] = _multi_bit(
            rng,
            sizes[site_idx],
            element,
            bit,
            choices,
            elements_per_fault,
            bits_per_element if uses_bit else 1,
            uses_bit,
        )
    return table


def bit_sweep(
    points: pd.DataFrame,
    sites: pd.DataFrame,
    fault_model: str = "bitflip",
    bits: list[int] | None = None,
) -> pd.DataFrame:
    """Bit-sweep fault list: each point (``image``, ``site``, ``element``) with every bit of its
    site's format (or every bit of ``bits``, ascending, each of which must lie in the format),
    point by point, bits ascending; ``point`` numbers the points. Run in one list, the engine
    evaluates a point's bits in the same site batch on one golden prefix, giving exact per-bit
    outcomes of the sampled (image, site, element)."""
    if fault_model not in BIT_MODELS:
        raise ValueError(f"a bit sweep needs a bit fault model {BIT_MODELS}, got {fault_model!r}")
    formats = points["site"].map(
        sites.drop_duplicates("site").set_index("site")["dtype"].map(n_bits)
    )
    formats = formats.to_numpy(np.int64)
    if bits is None:
        width = formats
        offsets = np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width)
        bit = offsets
    else:
        chosen = np.unique(np.asarray(bits, dtype=np.int64))
        if len(formats) and chosen.size and chosen.max() >= formats.min():
            raise ValueError(
                f"bits {chosen.tolist()} reach beyond the {formats.min()}-bit format of a swept site"
            )
        width = np.full(len(points), len(chosen), dtype=np.int64)
        bit = np.tile(chosen, len(points))
    point = np.repeat(np.arange(len(points)), width)
    table = points[["image", "site", "element"]].iloc[point].reset_index(drop=True)
    table.insert(0, "fault_id", np.arange(len(table), dtype=np.int64))
    table["bit"] = bit.astype(np.int64)
    table["fault_model"] = fault_model
    table["random_u"] = np.nan
    table["point"] = point
    return table


def _multi_bit(rng, sizes, element, bit, choices, k_elements, k_bits, uses_bit):
    """Per fault, the lists of elements and bits of a multi-bit fault (see draw_activation_faults)."""
    all_elements, all_bits = [], []
    for size, e0, b0, allowed in zip(sizes, element, bit, choices):
        if k_elements > size:
            raise ValueError(f"elements_per_fault={k_elements} exceeds a site of {size} elements")
        if uses_bit and k_bits > len(allowed):
            raise ValueError(
                f"bits_per_element={k_bits} exceeds the {len(allowed)} bits to choose from"
            )
        others = rng.choice(size - 1, k_elements - 1, replace=False)
        elements = np.concatenate([[e0], others + (others >= e0)])  # distinct from e0
        rows_e, rows_b = [], []
        for j, e in enumerate(elements):
            if not uses_bit:
                picked = np.array([-1])
            elif j == 0:
                picked = np.concatenate(
                    [[b0], rng.choice(allowed[allowed != b0], k_bits - 1, replace=False)]
                )
            else:
                picked = rng.choice(allowed, k_bits, replace=False)
            rows_e += [int(e)] * len(picked)
            rows_b += [int(b) for b in picked]
        all_elements.append(rows_e)
        all_bits.append(rows_b)
    return all_elements, all_bits


def draw_weight_faults(
    sites: pd.DataFrame,
    rng: np.random.Generator,
    count: int | None = None,
    rate: float | None = None,
    replicas: int = 1,
    fault_model: str = "bitflip",
    bits: list[int] | None = None,
) -> pd.DataFrame:
    """Weight faults like TensorFI2's layer states: per replica, ``count`` weights (or
    ``round(rate x total weights of sites)``) drawn without replacement over all elements of
    all ``sites`` (columns ``site``, ``size``, ``dtype``), each with a bit uniform over its
    format's bits (or over ``bits``) and, for ``random``, a uniform ``random_u`` in [0, 1)
    mapped by the engine onto the [min, max] of that weight tensor. Columns:
    :data:`WEIGHT_FAULT_COLUMNS`, replica by replica.
    """
    if (count is None) == (rate is None):
        raise ValueError(
            "give exactly one of count (weights per replica) or rate (share of weights)"
        )
    if fault_model not in FAULT_MODELS:
        raise ValueError(f"unknown fault model {fault_model!r}: expected one of {FAULT_MODELS}")
    if sites.empty:
        raise ValueError("no weight tensors to corrupt")
    sizes = sites["size"].to_numpy(dtype=np.int64)
    total = int(sizes.sum())
    if rate is not None:
        if not 0 <= rate <= 1:
            raise ValueError(f"rate {rate} outside [0, 1]")
        count = int(round(rate * total))
    if not 0 <= count <= total:
        raise ValueError(f"count {count} outside 0..{total} (total weights of the chosen sites)")
    widths = np.array([n_bits(d) for d in sites["dtype"]])
    tables = []
    for replica in range(replicas):
        flat = np.sort(rng.choice(total, size=count, replace=False))
        site_idx = np.searchsorted(np.cumsum(sizes), flat, side="right")
        element = flat - np.concatenate([[0], np.cumsum(sizes)[:-1]])[site_idx]
        if bits is None:
            bit = (rng.random(count) * widths[site_idx]).astype(np.int64)
        else:
            bit = np.asarray(bits, dtype=np.int64)[rng.integers(0, len(bits), size=count)]
        random_u = rng.random(count)
        tables.append(
            pd.DataFrame(
                {
                    "replica": replica,
                    "site": sites["site"].to_numpy()[site_idx],
                    "element": element.astype(np.int64),
                    "bit": bit if fault_model in BIT_MODELS else -1,
                    "fault_model": fault_model,
                    "random_u": random_u if fault_model == "random" else np.nan,
                }
            )
        )
    return pd.concat(tables, ignore_index=True)


def fault_pairs(faults: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (element, bit) pair of a fault list as flat arrays ``(row, element, bit)``; ``row``
    is the fault's position in ``faults`` (ascending), pairs of a fault in their listed order."""
    n = len(faults)
    element = faults["element"].to_numpy(np.int64)
    bit = faults["bit"].to_numpy(np.int64)
    if "elements" not in faults:
        return np.arange(n), element, bit
    lists = faults["elements"].to_numpy()
    multi = np.array([v is not None and np.ndim(v) == 1 for v in lists], dtype=bool)
    if not multi.any():
        return np.arange(n), element, bit
    bit_lists = faults["bits"].to_numpy() if "bits" in faults else np.full(n, None)
    elements, bits, counts = [], [], np.ones(n, np.int64)
    for i in range(n):
        if multi[i]:
            e = np.asarray(lists[i], dtype=np.int64)
            b = (
                np.asarray(bit_lists[i], dtype=np.int64)
                if bit_lists[i] is not None
                else np.full(len(e), -1)
            )
            if len(b) != len(e) or not len(e):
                raise ValueError(
                    f"fault row {i}: 'elements' and 'bits' must be non-empty lists of equal length"
                )
            elements.append(e)
            bits.append(b)
            counts[i] = len(e)
        else:
            elements.append(element[i : i + 1])
            bits.append(bit[i : i + 1])
    return np.repeat(np.arange(n), counts), np.concatenate(elements), np.concatenate(bits)


def validate_faults(faults: pd.DataFrame, sites: pd.DataFrame, n_images: int | None = None) -> None:
    """Refuse a fault list an engine could not run exactly, with one message naming the fault.

    ``sites``: the engine's sites (``site``, ``size``, ``dtype``). Activation lists (``n_images``
    given) need :data:`FAULT_COLUMNS`, weight lists :data:`WEIGHT_FAULT_COLUMNS`. Every pair's
    element must lie in its site, every bit model's bit in its format; models without a bit
    carry -1; ``random`` needs ``random_u`` in [0, 1).
    """
    required = FAULT_COLUMNS if n_images is not None else WEIGHT_FAULT_COLUMNS
    missing = [c for c in required if c not in faults]
    if missing:
        raise ValueError(
            f"fault list lacks columns {missing}: expected {required} (docs/semantics.md)"
        )
    if not len(faults):
        return
    name = faults["fault_id"].to_numpy() if "fault_id" in faults else np.arange(len(faults))
    unknown = sorted(set(faults["site"]) - set(sites["site"]))
    if unknown:
        raise ValueError(f"fault list names sites the model does not have: {unknown[:5]}")
    models = faults["fault_model"].to_numpy()
    bad = ~np.isin(models, FAULT_MODELS)
    if bad.any():
        raise ValueError(
            f"fault {name[np.argmax(bad)]}: unknown fault model {models[np.argmax(bad)]!r}, expected one of {FAULT_MODELS}"
        )
    if n_images is not None:
        image = faults["image"].to_numpy(np.int64)
        bad = (image < 0) | (image >= n_images)
        if bad.any():
            raise ValueError(
                f"fault {name[np.argmax(bad)]}: image {image[np.argmax(bad)]} outside 0..{n_images - 1}"
            )
    table = sites.drop_duplicates("site").set_index("site")
    row, element, bit = fault_pairs(faults)
    size = table["size"].reindex(faults["site"]).to_numpy(np.int64)[row]
    bad = (element < 0) | (element >= size)
    if bad.any():
        i = np.argmax(bad)
        raise ValueError(
            f"fault {name[row[i]]}: element {element[i]} outside site {faults['site'].iat[row[i]]!r} of {size[i]} elements"
        )
    first = np.unique(row, return_index=True)[1]
    bad = (element[first] != faults["element"].to_numpy(np.int64)) | (
        bit[first] != faults["bit"].to_numpy(np.int64)
    )
    if bad.any():
        raise ValueError(
            f"fault {name[np.argmax(bad)]}: 'element' and 'bit' must repeat the first pair of 'elements' and 'bits'"
        )
    width = table["dtype"].map(n_bits).reindex(faults["site"]).to_numpy(np.int64)[row]
    uses_bit = np.isin(models, BIT_MODELS)[row]
    bad = np.where(uses_bit, (bit < 0) | (bit >= width), bit != -1)
    if bad.any():
        i = np.argmax(bad)
        expected = f"0..{width[i] - 1}" if uses_bit[i] else "-1 (the model uses no bit)"
        raise ValueError(
            f"fault {name[row[i]]}: bit {bit[i]} for fault model {models[row[i]]!r}, expected {expected}"
        )
    u = faults["random_u"].to_numpy(np.float64)
    bad = (models == "random") & ~((u >= 0) & (u < 1))
    if bad.any():
        raise ValueError(
            f"fault {name[np.argmax(bad)]}: random_u {u[np.argmax(bad)]} outside [0, 1)"
        )


def fault_hits(faults: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct elements a fault list corrupts: ``(row, element, mask)`` with one entry per
    (fault, element), rows ascending; ``mask`` (uint64) is the pairs on that element applied in
    turn: flips XOR together (a bit flipped twice is back), stuck-at bits are all forced (OR);
    0 for models without a bit."""
    row, element, bit = fault_pairs(faults)
    mask = np.where(
        bit >= 0, np.left_shift(np.uint64(1), np.maximum(bit, 0).astype(np.uint64)), np.uint64(0)
    )
    if len(row) == len(faults):  # one pair per fault: nothing to combine
        return row, element, mask
    codes, unique = pd.factorize(pd.MultiIndex.from_arrays([row, element]))  # first-seen order
    ored, xored = np.zeros(len(unique), np.uint64), np.zeros(len(unique), np.uint64)
    np.bitwise_or.at(ored, codes, mask)
    np.bitwise_xor.at(xored, codes, mask)
    hit_row = unique.get_level_values(0).to_numpy(np.int64)
    flips = faults["fault_model"].to_numpy()[hit_row] == "bitflip"
    return hit_row, unique.get_level_values(1).to_numpy(np.int64), np.where(flips, xored, ored)


def uniform_values(u, low, high) -> np.ndarray:
    """``low + u (high - low)`` in float64 (the ``random`` model's value before rounding)."""
    low = np.asarray(low, dtype=np.float64)
    return low + np.asarray(u, dtype=np.float64) * (np.asarray(high, dtype=np.float64) - low)


def corrupt(
    old: np.ndarray, fault_model: np.ndarray, mask: np.ndarray, random_value: np.ndarray
) -> np.ndarray:
    """Faulty copies of ``old`` (one golden value per hit element, in the site's format):
    ``fault_model``, ``mask`` (see :func:`fault_hits`) and ``random_value`` (float64, rounded
    to the format here) per hit. The one corruption function of both engines and weight paths."""
    old = np.asarray(old)
    new = old.copy()
    for model in np.unique(fault_model):
        sel = fault_model == model
        if model in BIT_MODELS:
            new[sel] = apply_mask(old[sel], model, mask[sel])
        elif model == "zero":
            new[sel] = 0
        elif model == "random":
            new[sel] = np.asarray(random_value, dtype=np.float64)[sel].astype(old.dtype)
        else:
            raise ValueError(f"unknown fault model {model!r}: expected one of {FAULT_MODELS}")
    return new


def changed(old: np.ndarray, new: np.ndarray, row: np.ndarray, n_faults: int) -> np.ndarray:
    """Per fault, whether any of its hits changed a bit (a fault that changes nothing is masked)."""
    uint = FORMATS[float_format(old.dtype)][1]
    differs = old.view(uint) != new.view(uint)
    return np.bincount(row, weights=differs, minlength=n_faults) > 0


def corrupt_activations(faults: pd.DataFrame, gather, value_range):
    """Activation semantics in one place for both engines: ``(row, element, new, changed)``.

    ``gather(row, element)``: golden values (numpy, the site's format) of the hit elements of
    faults ``row`` (positions in ``faults``); ``value_range(rows)``: (min, max) arrays of the
    golden site output of those faults' images, used by ``random``. ``new``: the faulty values
    to write at (row, element); ``changed``: per fault, whether it changed any bit.
    """
    row, element, mask = fault_hits(faults)
    old = gather(row, element)
    models = faults["fault_model"].to_numpy()[row]
    random_value = np.zeros(len(row))
    is_random = models == "random"
    if is_random.any():
        low, high = value_range(row[is_random])
        random_value[is_random] = uniform_values(
            faults["random_u"].to_numpy(np.float64)[row[is_random]], low, high
        )
    new = corrupt(old, models, mask, random_value)
    return row, element, new, changed(old, new, row, len(faults))


def tensor_stats(values: np.ndarray) -> dict:
    """min, max, mean and sample standard deviation (n-1) of a fault-free weight tensor, in
    float64: what the random value distributions read (computed once per tensor by the injectors)."""
    flat = np.asarray(values).reshape(-1)
    return {
        "min": float(flat.min()),
        "max": float(flat.max()),
        "mean": float(np.mean(flat, dtype=np.float64)),
        "std": float(np.std(flat, dtype=np.float64, ddof=1)) if flat.size > 1 else 0.0,
    }


def weight_random_values(
    u: np.ndarray, stats: dict, distribution: str, value_range=None
) -> np.ndarray:
    """Random values (float64) for weight faults in a tensor with :func:`tensor_stats` ``stats``:
    ``layer_uniform`` in its own [min, max], ``layer_normal`` with its mean and sample standard
    deviation (inverse normal CDF of ``u``), ``uniform`` in ``value_range``."""
    from scipy.special import ndtri

    if distribution == "layer_uniform":
        return uniform_values(u, stats["min"], stats["max"])
    if distribution == "layer_normal":
        return stats["mean"] + stats["std"] * ndtri(np.asarray(u, dtype=np.float64))
    if distribution == "uniform":
        if value_range is None or len(value_range) != 2 or value_range[0] > value_range[1]:
            raise ValueError(
                f"distribution 'uniform' needs value_range [low, high] with low <= high, got {value_range}"
            )
        return uniform_values(u, *value_range)
    raise ValueError(
        f"unknown random distribution {distribution!r}: expected one of {DISTRIBUTIONS}"
    )


def corrupt_weights(
    values: np.ndarray,
    faults: pd.DataFrame,
    distribution: str = "layer_uniform",
    value_range=None,
    stats: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(elements, new values)`` of the weight faults ``faults`` (rows of one replica and one
    tensor) on the fault-free tensor ``values`` (numpy, the tensor's format): the apply
    semantics of both frameworks. ``stats``: the tensor's :func:`tensor_stats` if already known."""
    flat = values.reshape(-1)
    row, element, mask = fault_hits(faults)
    models = faults["fault_model"].to_numpy()[row]
    random_value = np.zeros(len(row))
    if (models == "random").any():
        stats = stats if stats is not None or distribution == "uniform" else tensor_stats(flat)
        random_value = weight_random_values(
            faults["random_u"].to_numpy(np.float64)[row], stats, distribution, value_range
        )
    return element, corrupt(flat[element], models, mask, random_value)


def shard_slice(n: int, shard: int, n_shards: int) -> slice:
    """Rows of shard ``shard`` (0-based) when ``n`` injections are cut into ``n_shards`` parts."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} outside 0..{n_shards - 1}")
    bounds = np.linspace(0, n, n_shards + 1).astype(int)
    return slice(bounds[shard], bounds[shard + 1])
