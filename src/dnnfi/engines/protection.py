"""Range-based protection of layer outputs (docs/semantics.md, section 12), framework-free.

A protected site's output passes through a checker placed after the layer, with bounds
[min, max] profiled on fault-free images (:func:`merge_ranges` of the engines' per-batch ranges):

- ``range_restriction`` (Ranger): a value above max becomes max, one below min becomes min;
  NaN, which lies in no range and has no side, becomes min;
- ``clip_to_zero`` (Clipper / FT-ClipAct): a value outside [min, max], NaN included, becomes 0.

:func:`protect` is the one formula of both engines (and of the numpy tests): written with the
framework's ``where`` and comparisons only, so no framework's min/max NaN rule can leak in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

METHODS = ("range_restriction", "clip_to_zero")
#: layer selections with a name; any other value is a regular expression searched in layer names
LAYER_SELECTIONS = ("activations", "all")
BOUNDS_COLUMNS = ["site", "layer", "min", "max"]


class ProtectionError(ValueError):
    """A protection the job cannot apply as configured; one line naming the config key."""


def protect(x, lo, hi, zero, method: str, where):
    """``x`` through the checker of ``method`` with bounds ``lo`` <= ``hi`` (scalars or tensors of
    ``x``'s type and dtype); ``zero`` is 0 in that type, ``where`` the framework's ``where``."""
    inside = (x >= lo) & (x <= hi)  # False for NaN
    if method == "clip_to_zero":
        return where(inside, x, zero)
    if method == "range_restriction":
        return where(inside, x, where(x > hi, hi, lo))  # below min and NaN -> min
    raise ValueError(f"unknown protection method {method!r}, expected one of {METHODS}")


def merge_ranges(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Bounds table (``BOUNDS_COLUMNS``) from per-batch tables of the same columns: per site the
    smallest min and the largest max. A NaN bound (a non-finite fault-free value) is refused."""
    table = pd.concat(parts, ignore_index=True)
    order = list(dict.fromkeys(table["site"]))
    bounds = (
        table.groupby(["site", "layer"], sort=False).agg({"min": "min", "max": "max"}).reset_index()
    )
    bad = bounds[bounds[["min", "max"]].isna().any(axis=1)]
    if len(bad):
        raise ProtectionError(
            f"site {bad['site'].iat[0]}: NaN in its fault-free outputs, no bounds to profile"
        )
    return bounds.set_index("site").loc[order].reset_index()[BOUNDS_COLUMNS]


def read_bounds(path) -> pd.DataFrame:
    """A bounds table written by the bounds rule (site names stay strings: torch's ``0``, ``1``)."""
    return pd.read_csv(path, dtype={"site": str, "layer": str})


def select_sites(sites: pd.DataFrame, layers: str, key: str = "protection.layers") -> pd.Series:
    """Boolean mask of the protected rows of an engine's sites table. ``layers``: ``activations``
    (sites whose ``activation`` flag is set: an activation function's output, the last layer
    excepted), ``all`` or a regular expression searched in layer names. Selecting nothing is refused."""
    if (
        layers == "activations"
    ):  # the last layer's output is the prediction: never an activation to check
        mask = sites["activation"].astype(bool) & sites["eligible"].astype(bool)
    elif layers == "all":
        mask = pd.Series(True, index=sites.index)
    else:
        pattern = re.compile(layers)
        mask = sites["layer"].map(lambda name: pattern.search(name) is not None)
    if not mask.any():
        raise ProtectionError(
            f"config key {key}: {layers!r} selects no layer of the model "
            f"(layers: {', '.join(sites['layer'].unique()[:8])}, ...)"
        )
    return mask


@dataclass(frozen=True)
class Protection:
    """What an engine applies: ``method`` and the bounds of the protected sites (site -> (min, max))."""

    method: str
    limits: dict

    @classmethod
    def from_bounds(
        cls,
        method: str,
        layers: str,
        bounds: pd.DataFrame,
        sites: pd.DataFrame,
        key: str = "protection",
    ) -> Protection:
        """The protection of the sites ``layers`` selects, with their profiled ``bounds``."""
        if method not in METHODS:
            raise ProtectionError(
                f"config key {key}.method: expected one of {METHODS}, got {method!r}"
            )
        chosen = sites.loc[select_sites(sites, layers, f"{key}.layers"), "site"]
        table = bounds.set_index("site")
        missing = sorted(set(chosen) - set(table.index))
        if missing:
            raise ProtectionError(
                f"{key}: the bounds table has no row for site {missing[0]} (profiled on another model?)"
            )
        return cls(
            method, {s: (float(table.at[s, "min"]), float(table.at[s, "max"])) for s in chosen}
        )
