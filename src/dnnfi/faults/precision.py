"""The number format a model runs in (config key ``models.<m>.precision``, docs/semantics.md
section 14), framework-free: the formats, their bit widths and the check that a model really
runs in the format it is reported in.

Both frameworks convert a model the same way (:func:`dnnfi.engines.kerasfi.models.with_precision`,
:func:`dnnfi.engines.torchfi.models.with_precision`): every floating-point weight, every layer output
(fault site) and the input are stored in the format; the logits come out in it and are widened
exactly to float32 for the outcome comparison. A model that still computes a tensor in another
format is refused by :func:`check_format`, never reported under the requested one.
"""

from __future__ import annotations

import pandas as pd

from dnnfi.faults.bitflip import n_bits

#: formats a model can run in; the first is the default
PRECISIONS = ("float32", "float16", "bfloat16")


def check_precision(precision: str, key: str = "precision") -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a one-line ValueError naming ``key``."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"{key}: unknown precision {precision!r}, expected one of {', '.join(PRECISIONS)}"
        )
    return precision


def width(precision: str) -> int:
    """Bits of the format (32, 16, 16): the range bit faults are drawn over."""
    return n_bits(check_precision(precision))


def check_format(tensors: pd.DataFrame, precision: str, what: str) -> None:
    """Refuse a model whose float tensors are not all in ``precision``.

    ``tensors``: a sites table (activation sites or weight tensors, columns ``site`` and
    ``dtype``); ``what`` names the model in the message (e.g. ``"models.resnet20_bf16"``).
    A float32 model may hold other formats (a Keras mixed-precision model is run as built), so
    only a float16 or bfloat16 precision is checked: there every tensor must be in the format,
    since a silently wider computation would be reported as the narrow one.
    """
    if check_precision(precision, f"{what}.precision") == "float32":
        return
    other = tensors[tensors["dtype"] != precision]
    if len(other):
        first = other.iloc[0]
        raise ValueError(
            f"{what}.precision: {precision} requested, but {len(other)} of {len(tensors)} tensors are in another "
            f"format (first: {first['site']!r} in {first['dtype']}); the model converts them itself, so it cannot "
            f"run in {precision}"
        )
