"""Weight and bias faults in Keras models (TensorFI2's "layer states"), restored bit-exactly.

A weight fault list (:func:`dnnfi.faults.draw_weight_faults`) holds one row per corrupted
weight; the rows of one ``replica`` are applied together, every image is evaluated, and the
variables are restored to their saved bits before the next replica.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dnnfi.kerasfi.engine import corrupt_elements
from dnnfi.kerasfi.graph import MIN_ROWS
from dnnfi.outcomes import summarize_logits


def weight_sites(model, kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One row per weight tensor: ``site`` (variable path, e.g. ``conv1_conv/kernel``),
    ``layer`` (its path, ``outer/inner`` when nested), ``kind`` (``kernel``, ``bias``, ``gamma``, ...), ``shape``, ``size``, ``dtype``.

    ``kinds`` keeps the variables of those names; None keeps every trainable variable.
    """
    rows = []
    for var in model.weights:
        if (kinds is None and var.trainable) or (kinds is not None and var.name in kinds):
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
    """Runs weight fault lists on a Keras model: one compiled forward, same shapes for golden
    and faulty runs, so a replica that changes no bit gives bit-identical logits."""

    def __init__(self, model, batch_size: int = 64):
        import tensorflow as tf

        self.model = model
        self.batch_size = max(batch_size, MIN_ROWS)
        self._variables = {v.path: v for v in model.weights}
        self._forward = tf.function(lambda x: model(x, training=False))

    def sites(self, kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Weight tensors of the model, see :func:`weight_sites`."""
        return weight_sites(self.model, kinds)

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Logits of ``images`` (n, classes) with the current weights, at fixed batch shape."""
        out = []
        for i in range(0, len(images), self.batch_size):
            x = images[i : i + self.batch_size]
            padded = np.concatenate([x, np.repeat(x[:1], self.batch_size - len(x), 0)]) if len(x) < self.batch_size else x
            out.append(self._forward(padded).numpy()[: len(x)])
        return np.concatenate(out)

    golden_logits = logits

    @contextmanager
    def applied(self, faults: pd.DataFrame):
        """Corrupt the weights of ``faults`` (one replica) for the ``with`` block, then restore
        the saved values bit-exactly."""
        unknown = set(faults["site"]) - set(self._variables)
        if unknown:
            raise ValueError(f"weight fault list names variables the model does not have: {sorted(unknown)[:5]}")
        saved = {}
        try:
            for site, rows in faults.groupby("site", sort=False):
                var = self._variables[site]
                original = np.array(var.numpy(), copy=True)
                saved[site] = original
                var.assign(self._corrupted(original, rows))
            yield
        finally:
            for site, original in saved.items():
                self._variables[site].assign(original)

    @staticmethod
    def _corrupted(original: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
        flat = original.reshape(-1).copy()
        element = rows["element"].to_numpy(np.int64)
        if element.min() < 0 or element.max() >= flat.size:
            raise ValueError(f"weight element {element.max()} outside 0..{flat.size - 1} of {rows['site'].iloc[0]!r}")
        value_range = (flat.min(), flat.max())
        for e, model, bit, u in zip(element, rows["fault_model"], rows["bit"].to_numpy(np.int64), rows["random_u"]):
            flat[e : e + 1] = corrupt_elements(flat[e : e + 1], np.array([0]), model, np.array([bit]), value_range, u)
        return flat.reshape(original.shape)

    def run(self, faults: pd.DataFrame, images: np.ndarray, progress: bool = True) -> pd.DataFrame:
        """Evaluate every replica of ``faults`` on all ``images``: one row per (replica, image)
        with ``replica``, ``image``, ``n_faults`` and the :func:`dnnfi.outcomes.summarize_logits`
        columns. ``random`` values use the [min, max] of the fault-free weight tensor."""
        golden = self.logits(images)
        tables = []
        for replica, rows in tqdm(faults.groupby("replica", sort=True), desc="replicas", disable=not progress):
            with self.applied(rows):
                faulty = self.logits(images)
            summary = summarize_logits(golden, faulty)
            summary.insert(0, "n_faults", len(rows))
            summary.insert(0, "image", np.arange(len(images)))
            summary.insert(0, "replica", replica)
            tables.append(summary)
        return pd.concat(tables, ignore_index=True)
