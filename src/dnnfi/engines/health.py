"""Checks that a model file is readable and that its fault-free outputs are finite, before a
campaign measures the model: a broken model must stop a run, not give a normal-looking report.

Framework-free: the Keras and PyTorch packages pass their tensors as ``(name, array)`` pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from dnnfi.faults.bitflip import FORMATS

NamedArrays = Iterable[tuple[str, np.ndarray]]


def missing_file(key: str | None, path: str | Path, expected: str) -> FileNotFoundError:
    """The one-line error for a model file that is not there."""
    return FileNotFoundError(f"{key_prefix(key)}{path} not found (expected {expected})")


def unreadable(
    key: str | None, path: str | Path, what: str, expected: str, reason: BaseException | str
) -> ValueError:
    """The one-line error for a model file a framework cannot read: the config key (when known),
    the path, what was expected and why not (the framework's error, its text on one line)."""
    if isinstance(
        reason, BaseException
    ):  # its text may span lines and list hundreds of missing keys
        reason = f"{type(reason).__name__}: {' '.join(str(reason).split())[:300]}"
    return ValueError(
        f"{key_prefix(key)}{path} is not a readable {what} (expected {expected}: {reason})"
    )


def key_prefix(key: str | None) -> str:
    """``"<key>: "`` to start an error message with the config key it concerns, when known."""
    return f"{key}: " if key else ""


def first_nonfinite(tensors: NamedArrays | Callable[[], NamedArrays]) -> str | None:
    """``"<name> (<n> NaN, <m> Inf)"`` for the first tensor holding NaN or Inf, None when all
    are finite. ``tensors``: (name, array) pairs in model order, or a callable giving them
    (so that a framework converts its tensors one at a time, and only when needed)."""
    for name, array in tensors() if callable(tensors) else tensors:
        array = np.asarray(array)
        if not (
            np.issubdtype(array.dtype, np.inexact) or array.dtype.name in FORMATS
        ):  # bfloat16 is not np.inexact
            continue  # integer buffers (e.g. BatchNorm's num_batches_tracked) cannot hold NaN
        nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        if nan or inf:
            return f"{name} ({', '.join(f'{n} {kind}' for n, kind in ((nan, 'NaN'), (inf, 'Inf')) if n)})"
    return None


def _nonfinite_rows(array: np.ndarray) -> int:
    """How many rows (images) of ``array`` hold NaN or Inf."""
    return int((~np.isfinite(array).reshape(len(array), -1).all(axis=1)).sum())


def check_finite(
    logits: np.ndarray,
    tensors: NamedArrays | Callable[[], NamedArrays],
    model: str,
    key: str,
    images: np.ndarray | None = None,
) -> None:
    """Raise a one-line ValueError when fault-free ``logits`` (n, classes) or ``tensors`` hold NaN or Inf.

    Non-finite logits would report every injection as DUE, the accuracy as chance and the
    statistics as NaN; a non-finite weight behind finite logits (max pooling can drop a NaN)
    gives a normal-looking report of a broken model. The message names ``model`` (e.g. "model
    resnet20 (results/models/.../resnet20.pt)"), the first non-finite tensor (see
    :func:`first_nonfinite`) or, when all are finite, whether the input ``images`` are, and
    ``key``, the boolean config key that allows such a model.
    """
    bad = _nonfinite_rows(logits)
    culprit = first_nonfinite(tensors)
    if not bad and not culprit:
        return
    if not bad:
        state = "fault-free logits are finite but hide a non-finite parameter (max pooling can drop NaN)"
    else:
        state = f"fault-free logits hold NaN/Inf on {bad} of {len(logits)} images"
    bad_images = None if images is None else _nonfinite_rows(images)
    if culprit:
        cause = f"first non-finite parameter tensor: {culprit}"
    elif bad_images:
        cause = (
            f"no parameter tensor holds NaN/Inf, but {bad_images} of {len(images)} input images do"
        )
    elif bad_images == 0:
        cause = "no parameter tensor or input image holds NaN/Inf, so an operation overflows"
    else:
        cause = "no parameter tensor holds NaN/Inf: the input images may, or an operation overflows"
    raise ValueError(f"{model}: {state}; {cause}. Set {key}: true to study such a model anyway.")


def check_trained(tensors: NamedArrays | Callable[[], NamedArrays], key: str) -> None:
    """Stop a training job whose weights came out NaN/Inf (a diverged fit), so that the user
    lowers the learning rate instead of meeting the baseline's error; ``key``: the config key of
    the training schedule (e.g. "models.cnn.train")."""
    culprit = first_nonfinite(tensors)
    if culprit:
        raise ValueError(
            f"{key}: training diverged (first non-finite parameter tensor: {culprit}); "
            f"lower {key}.learning_rate"
        )
