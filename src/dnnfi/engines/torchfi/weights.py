"""Weight faults in PyTorch models (the Rojas et al. failure-rate study and TensorFI2-style
counts), with the fault contract of :mod:`dnnfi.faults.lists` shared with Keras:
:func:`weight_sites` lists the tensors, :func:`dnnfi.faults.lists.draw_weight_faults` draws
round(frate x N) locations without replacement, :meth:`WeightInjector.applied` corrupts the
parameters through :func:`dnnfi.faults.lists.corrupt_weights` and restores them bit-exactly, and
:func:`dnnfi.engines.runner.evaluate_weight_faults` runs every replica.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch
from torch import nn

from dnnfi.engines.torchfi.faultops import format_name, from_numpy, to_numpy
from dnnfi.engines.torchfi.models import place, predict_logits, rows_for
from dnnfi.faults.lists import corrupt_weights, tensor_stats, validate_faults

LAYER_TYPES = {"conv": (nn.Conv1d, nn.Conv2d, nn.Conv3d), "linear": (nn.Linear,)}
NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def weight_tensors(
    model: nn.Module,
    layer_types=("conv", "linear"),
    biases: bool = False,
    normalization: bool = False,
) -> dict[str, torch.Tensor]:
    """Parameter tensors that can be faulted, by parameter name, in module order.

    ``layer_types``: weights of these layer kinds (keys of :data:`LAYER_TYPES`); ``biases``: their
    biases too; ``normalization``: scale and shift of batch/layer/group/instance norm layers.
    """
    unknown = set(layer_types) - set(LAYER_TYPES)
    if unknown:
        raise ValueError(
            f"unknown layer types {sorted(unknown)}: expected some of {sorted(LAYER_TYPES)}"
        )
    classes = tuple(c for t in layer_types for c in LAYER_TYPES[t])
    out = {}
    for name, m in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(m, classes):
            out[prefix + "weight"] = m.weight
            if biases and m.bias is not None:
                out[prefix + "bias"] = m.bias
        elif normalization and isinstance(m, NORM_TYPES):
            out.update(
                {
                    prefix + p: getattr(m, p)
                    for p in ("weight", "bias")
                    if getattr(m, p, None) is not None
                }
            )
    return out


def _table(tensors: dict[str, torch.Tensor]) -> pd.DataFrame:
    rows = [
        {
            "site": name,
            "layer": name.rsplit(".", 1)[0] if "." in name else "",
            "kind": name.rsplit(".", 1)[-1],
            "shape": "x".join(map(str, t.shape)),
            "size": t.numel(),
            "dtype": format_name(t.dtype),
        }
        for name, t in tensors.items()
    ]
    return pd.DataFrame(rows, columns=["site", "layer", "kind", "shape", "size", "dtype"])


def weight_sites(
    model: nn.Module,
    layer_types=("conv", "linear"),
    biases: bool = False,
    normalization: bool = False,
) -> pd.DataFrame:
    """One row per weight tensor (see :func:`weight_tensors`), with the columns of
    :func:`dnnfi.engines.kerasfi.weights.weight_sites`: ``site`` (parameter name), ``layer``, ``kind``
    (``weight``, ``bias``), ``shape``, ``size``, ``dtype``."""
    return _table(weight_tensors(model, layer_types, biases, normalization))


class WeightInjector:
    """Weight fault lists on a PyTorch model: parameters corrupted in place for a replica, logits
    from full forwards at the fixed pass shape (:func:`dnnfi.engines.torchfi.models.predict_logits`), so a
    replica that changes no bit gives bit-identical logits. ``device`` and ``pass_rows``: see
    :class:`dnnfi.engines.torchfi.activations.TorchInjector` (None: where the model is)."""

    def __init__(
        self,
        model: nn.Module,
        device: str | torch.device | None = None,
        pass_rows: dict | None = None,
    ):
        place(model, device)
        self.model = model.eval()
        self.pass_rows = pass_rows
        self.rows = rows_for(model, pass_rows)
        self._params = dict(model.named_parameters())
        self._all = _table(self._params)
        self._stats: dict[str, dict] = {}  # fault-free statistics per tensor, for random values

    def sites(
        self, layer_types=("conv", "linear"), biases: bool = False, normalization: bool = False
    ) -> pd.DataFrame:
        """Weight tensors of the model, see :func:`weight_sites`."""
        return weight_sites(self.model, layer_types, biases, normalization)

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Logits of NHWC ``images`` (n, classes) with the current weights."""
        return predict_logits(
            self.model, images, self.pass_rows, progress=False
        )  # the replicas' progress is the job's

    @torch.no_grad()
    def prepare(
        self, faults: pd.DataFrame, distribution: str = "layer_uniform", value_range=None
    ) -> list:
        """The edits of one replica, from the fault-free parameters: per tensor (parameter, where,
        new values), ``where`` flat indices of a contiguous tensor or unravelled C-order indices.
        Validating the list and computing the values (pandas, numpy) is most of a replica's cost;
        :meth:`edited` then only copies values. ``distribution`` / ``value_range``: random
        values, see :func:`dnnfi.faults.lists.weight_random_values`."""
        validate_faults(faults, self._all)
        inverse, names = pd.factorize(faults["site"])  # grouping by code: 4x faster than by string
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
        edits = []
        for k, name in enumerate(names):
            t = self._params[name]
            rows = faults.iloc[order[bounds[k] : bounds[k + 1]]]
            if (
                distribution != "uniform"
                and (rows["fault_model"] == "random").any()
                and name not in self._stats
            ):
                self._stats[name] = tensor_stats(to_numpy(t))
            element, new = corrupt_weights(
                to_numpy(t), rows, distribution, value_range, self._stats.get(name)
            )
            if t.is_contiguous():  # index_select/index_copy_ on the flat view: fast on huge tensors
                where = torch.tensor(element, device=t.device)
            else:  # any strides (e.g. channels_last): unravelled C-order indices
                where = tuple(
                    torch.tensor(a, device=t.device) for a in np.unravel_index(element, t.shape)
                )
            edits.append((t, where, from_numpy(new, t)))
        return edits

    @contextmanager
    @torch.no_grad()
    def edited(self, edits: list):
        """Apply the edits of :meth:`prepare` for the ``with`` block, then restore the saved values
        bit-exactly."""
        saved = []
        try:
            for t, where, values in edits:
                if isinstance(where, tuple):
                    saved.append((t.index_put_, (where, t[where].clone())))
                    t.index_put_(where, values)
                else:
                    flat = t.view(-1)
                    saved.append((flat.index_copy_, (0, where, flat.index_select(0, where))))
                    flat.index_copy_(0, where, values)
            yield
        finally:
            for restore, args in reversed(saved):
                restore(*args)

    @contextmanager
    def applied(self, faults: pd.DataFrame, distribution: str = "layer_uniform", value_range=None):
        """Corrupt the parameters of ``faults`` (one replica) for the ``with`` block, then restore
        the saved values bit-exactly: :meth:`prepare` and :meth:`edited`."""
        with self.edited(self.prepare(faults, distribution, value_range)):
            yield
