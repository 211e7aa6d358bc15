"""Weight faults in Keras models (TensorFI2's "layer states"), with the fault contract of
:mod:`dnnfi.faults.lists` shared with PyTorch: :func:`weight_sites` lists the tensors,
:func:`dnnfi.faults.lists.draw_weight_faults` draws a list, :meth:`WeightInjector.applied` corrupts the
variables through :func:`dnnfi.faults.lists.corrupt_weights` and restores them bit-exactly, and
:func:`dnnfi.engines.runner.evaluate_weight_faults` runs every replica.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd

from dnnfi.engines.kerasfi.engine import KerasInjector
from dnnfi.faults.lists import corrupt_weights, tensor_stats, validate_faults

#: Keras layer classes of each ``layer_types`` name and the variables that are their weights
LAYER_TYPES = {
    "conv": (
        (
            "Conv1D",
            "Conv2D",
            "Conv3D",
            "DepthwiseConv1D",
            "DepthwiseConv2D",
            "SeparableConv1D",
            "SeparableConv2D",
        ),
        ("kernel", "depthwise_kernel", "pointwise_kernel"),
    ),
    "linear": (("Dense",), ("kernel",)),
}
NORMALIZATION = (
    ("BatchNormalization", "LayerNormalization", "GroupNormalization"),
    ("gamma", "beta"),
)


def weight_sites(
    model, layer_types=("conv", "linear"), biases: bool = False, normalization: bool = False
) -> pd.DataFrame:
    """One row per weight tensor, in model order: ``site`` (variable path, e.g.
    ``conv1_conv/kernel``), ``layer`` (its layer path), ``kind`` (``kernel``, ``bias``, ``gamma``,
    ...), ``shape``, ``size``, ``dtype``.

    ``layer_types``: kernels of convolution (incl. depthwise / separable) and dense layers
    (keys of :data:`LAYER_TYPES`); ``biases``: their biases too; ``normalization``: scale and
    shift of batch / layer / group normalization. Layers nested in sub-models count.
    """
    unknown = set(layer_types) - set(LAYER_TYPES)
    if unknown:
        raise ValueError(
            f"unknown layer types {sorted(unknown)}: expected some of {sorted(LAYER_TYPES)}"
        )
    wanted = [LAYER_TYPES[t] for t in layer_types] + ([NORMALIZATION] if normalization else [])
    rows = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        names = {n for classes, kinds in wanted if type(layer).__name__ in classes for n in kinds}
        if biases and any(
            type(layer).__name__ in classes for classes, _ in wanted[: len(layer_types)]
        ):
            names.add("bias")
        for var in layer.weights:
            if var.name in names:
                rows.append(
                    {
                        "site": var.path,
                        "layer": var.path.rsplit("/", 1)[0],
                        "kind": var.name,
                        "shape": "x".join(map(str, var.shape)),
                        "size": int(np.prod(var.shape)),
                        "dtype": str(var.dtype),
                    }
                )
    table = pd.DataFrame(rows, columns=["site", "layer", "kind", "shape", "size", "dtype"])
    return table.drop_duplicates("site").reset_index(drop=True)


class WeightInjector:
    """Weight fault lists on a Keras model: the variables are corrupted in place for a replica
    and the logits come from the activation engine's fault-free path (same compiled steps, same
    pass shape), so a replica that changes no bit gives bit-identical logits. ``device``: where
    the logits are computed and ``pass_rows``: see :class:`dnnfi.engines.kerasfi.engine.KerasInjector`."""

    def __init__(self, model, device: str | None = None, pass_rows: dict | None = None):
        self.model = model
        self._variables = {v.path: v for v in model.weights}
        #: every variable as a fault site, for validating hand-made lists too
        self._all = pd.DataFrame(
            [
                {"site": p, "size": int(np.prod(v.shape)), "dtype": str(v.dtype)}
                for p, v in self._variables.items()
            ]
        )
        self._golden = KerasInjector(model, device=device, pass_rows=pass_rows)
        self.rows = self._golden.rows
        self._stats: dict[str, dict] = {}  # fault-free statistics per tensor, for random values

    def sites(
        self, layer_types=("conv", "linear"), biases: bool = False, normalization: bool = False
    ) -> pd.DataFrame:
        """Weight tensors of the model, see :func:`weight_sites`."""
        return weight_sites(self.model, layer_types, biases, normalization)

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Logits of ``images`` (n, classes) with the current weights."""
        return self._golden.golden_logits(
            images, progress=False
        )  # the replicas' progress is the job's

    @contextmanager
    def applied(self, faults: pd.DataFrame, distribution: str = "layer_uniform", value_range=None):
        """Corrupt the weights of ``faults`` (one replica) for the ``with`` block, then restore
        the saved values bit-exactly. ``distribution`` / ``value_range``: random values, see
        :func:`dnnfi.faults.lists.weight_random_values`."""
        validate_faults(faults, self._all)
        saved = {}
        try:
            for site, rows in faults.groupby("site", sort=False):
                var = self._variables[site]
                original = np.array(var.numpy(), copy=True)
                saved[site] = original
                flat = original.reshape(-1).copy()
                if (
                    distribution != "uniform"
                    and (rows["fault_model"] == "random").any()
                    and site not in self._stats
                ):
                    self._stats[site] = tensor_stats(original)
                element, new = corrupt_weights(
                    original, rows, distribution, value_range, self._stats.get(site)
                )
                flat[element] = new
                var.assign(flat.reshape(original.shape))
            yield
        finally:
            for site, original in saved.items():
                self._variables[site].assign(original)
