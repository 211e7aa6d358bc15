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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnnfi.bitflip import FAULT_MODELS, n_bits

FAULT_COLUMNS = ["fault_id", "image", "site", "element", "bit", "fault_model", "random_u"]
SAMPLING_MODES = ("layer_uniform", "size_proportional")


def draw_activation_faults(
    sites: pd.DataFrame,
    n: int,
    rng: np.random.Generator,
    images: np.ndarray,
    sampling: str = "layer_uniform",
    fault_model: str = "bitflip",
    bits: list[int] | None = None,
) -> pd.DataFrame:
    """Draw ``n`` independent faults.

    ``sites`` lists the eligible sites in model order with columns ``site``, ``size`` (elements
    of the output for one image) and ``dtype``. ``layer_uniform`` (the seed-compatible default)
    draws the site uniformly, then the element uniformly within it; ``size_proportional`` draws
    uniformly over all elements of all sites. The bit is uniform over the format's bits, or
    uniform over ``bits`` when given. The draw order is fixed, so a seed gives one list.
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
    uses_bit = fault_model in ("bitflip", "stuck_at_0", "stuck_at_1")
    return pd.DataFrame(
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


def shard_slice(n: int, shard: int, n_shards: int) -> slice:
    """Rows of shard ``shard`` (0-based) when ``n`` injections are cut into ``n_shards`` parts."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} outside 0..{n_shards - 1}")
    bounds = np.linspace(0, n, n_shards + 1).astype(int)
    return slice(bounds[shard], bounds[shard + 1])
