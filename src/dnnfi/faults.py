"""Seeded activation fault lists: which image, site, element and bit each injection hits.

A fault list is a table with one row per injection and the columns of :data:`FAULT_COLUMNS`:

- ``fault_id``: position in the campaign's full list (0..n-1), independent of sharding;
- ``image``: index of the image in the evaluated split;
- ``site``: name of the fault site (a layer call in Keras, a module call in PyTorch);
- ``element``: flat index into that site's output for one image (C order);
- ``bit``: bit position (IEEE-754, bit 0 = least significant mantissa bit), -1 if unused;
- ``fault_model``: one of :data:`dnnfi.bitflip.FAULT_MODELS`;
- ``random_u``: uniform draw in [0, 1) for the ``random`` model, mapped by the engine onto the
  [min, max] of the golden site output of that image (NaN for other models).

Multi-bit faults add two list columns of equal length k: ``elements`` and ``bits``; the fault
applies the fault model to bit ``bits[j]`` of element ``elements[j]`` for each j in order
(``element``/``bit`` repeat the first pair). Without these columns a fault is the single
pair (``element``, ``bit``).

Weight fault lists (:func:`draw_weight_faults`) have the columns of
:data:`WEIGHT_FAULT_COLUMNS`, one row per corrupted weight; ``replica`` groups the rows
applied together, ``site`` names a weight tensor and ``element`` is a flat index into it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnnfi.bitflip import FAULT_MODELS, n_bits

FAULT_COLUMNS = ["fault_id", "image", "site", "element", "bit", "fault_model", "random_u"]
WEIGHT_FAULT_COLUMNS = ["replica", "site", "element", "bit", "fault_model", "random_u"]
BIT_MODELS = ("bitflip", "stuck_at_0", "stuck_at_1")
SAMPLING_MODES = ("layer_uniform", "size_proportional")


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
            rng, sizes[site_idx], element, bit, choices, elements_per_fault, bits_per_element if uses_bit else 1, uses_bit
        )
    return table


def _multi_bit(rng, sizes, element, bit, choices, k_elements, k_bits, uses_bit):
    """Per fault, the lists of elements and bits of a multi-bit fault (see draw_activation_faults)."""
    all_elements, all_bits = [], []
    for size, e0, b0, allowed in zip(sizes, element, bit, choices):
        if k_elements > size:
            raise ValueError(f"elements_per_fault={k_elements} exceeds a site of {size} elements")
        if uses_bit and k_bits > len(allowed):
            raise ValueError(f"bits_per_element={k_bits} exceeds the {len(allowed)} bits to choose from")
        others = rng.choice(size - 1, k_elements - 1, replace=False)
        elements = np.concatenate([[e0], others + (others >= e0)])  # distinct from e0
        rows_e, rows_b = [], []
        for j, e in enumerate(elements):
            if not uses_bit:
                picked = np.array([-1])
            elif j == 0:
                picked = np.concatenate([[b0], rng.choice(allowed[allowed != b0], k_bits - 1, replace=False)])
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
        raise ValueError("give exactly one of count (weights per replica) or rate (share of weights)")
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


def shard_slice(n: int, shard: int, n_shards: int) -> slice:
    """Rows of shard ``shard`` (0-based) when ``n`` injections are cut into ``n_shards`` parts."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} outside 0..{n_shards - 1}")
    bounds = np.linspace(0, n, n_shards + 1).astype(int)
    return slice(bounds[shard], bounds[shard + 1])
