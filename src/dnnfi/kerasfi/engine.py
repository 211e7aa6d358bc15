"""Activation fault injection in any Keras functional graph.

The injector walks the model's graph node by node (every call of a layer is its own fault
site), applies one fault per batch row at that row's site, and propagates the faulty tensor to
the outputs. Golden logits come from the same walk at the same batch size, so a fault that
changes no value gives bit-identical logits (outcome ``masked``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dnnfi.bitflip import apply_fault
from dnnfi.outcomes import summarize_logits


def _functional(model):
    """The functional graph of ``model`` (a Sequential model is rebuilt on its own layers)."""
    import keras

    if isinstance(model, keras.Sequential):
        return keras.Model(model.inputs, model.outputs, name=model.name)
    return model


class KerasInjector:
    """Fault sites and fault-list execution for a Keras functional (or Sequential) model.

    ``batch_size`` is the number of injections evaluated per forward pass (one fault per row).
    """

    def __init__(self, model, batch_size: int = 256):
        self.model = _functional(model)
        self.batch_size = batch_size
        self._nodes = self._ordered_nodes()
        self._site_of_node = {id(node): name for name, node in self._site_nodes()}
        self._golden_cache: dict[bytes, np.ndarray] = {}

    def _ordered_nodes(self):
        depth = self.model._nodes_by_depth
        return [n for d in sorted(depth, reverse=True) for n in depth[d] if n.operation and not n.is_input]

    def _site_nodes(self):
        """(site name, node) per layer call, in the order of ``model.layers``."""
        own = {id(n) for n in self._nodes}
        for layer in self.model.layers:
            calls = [n for n in layer._inbound_nodes if id(n) in own]
            for k, node in enumerate(calls):
                yield (layer.name if len(calls) == 1 else f"{layer.name}:{k}"), node

    def sites(self) -> pd.DataFrame:
        """One row per layer call: ``site``, ``layer``, ``layer_index``, ``shape`` (one image),
        ``size`` (elements per image), ``dtype`` and ``eligible``.

        ``eligible`` is the seed-compatible rule: every layer of ``model.layers`` except input
        layers and the last layer.
        """
        rows = []
        layers = self.model.layers
        for name, node in self._site_nodes():
            layer = node.operation
            output = node.outputs[0]
            shape = tuple(int(s) for s in output.shape[1:])
            idx = layers.index(layer)
            rows.append(
                {
                    "site": name,
                    "layer": layer.name,
                    "layer_index": idx,
                    "shape": "x".join(map(str, shape)),
                    "size": int(np.prod(shape)),
                    "dtype": str(output.dtype),
                    "eligible": idx != len(layers) - 1 and layer.__class__.__name__ != "InputLayer",
                }
            )
        return pd.DataFrame(rows)

    def _forward(self, x: np.ndarray, faults: dict[str, list[tuple]] | None = None) -> np.ndarray:
        """Walk the graph on batch ``x``; ``faults`` maps site -> [(row, element, fault_model, bit, u)]."""
        import keras

        values = {id(t): keras.ops.convert_to_tensor(v) for t, v in zip(self.model.inputs, [x])}
        for node in self._nodes:
            args, kwargs = node.arguments.fill_in(values)
            outputs = keras.tree.flatten(node.operation(*args, **kwargs))
            site = self._site_of_node.get(id(node))
            if faults and site in faults:
                outputs[0] = self._inject(outputs[0], faults[site])
            for ref, out in zip(node.outputs, outputs):
                values[id(ref)] = out
        return np.asarray(keras.ops.convert_to_numpy(values[id(self.model.outputs[0])]))

    @staticmethod
    def _inject(tensor, faults: list[tuple]):
        import keras

        array = np.array(keras.ops.convert_to_numpy(tensor))
        flat = array.reshape(len(array), -1)
        for row, element, fault_model, bit, u in faults:
            golden = flat[row]
            random_value = golden.min() + u * (golden.max() - golden.min()) if fault_model == "random" else None
            flat[row, element] = apply_fault(flat[row, element : element + 1], fault_model, [bit], random_value)[0]
        return keras.ops.convert_to_tensor(array)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        pad = self.batch_size - len(x)
        return np.concatenate([x, np.repeat(x[:1], pad, axis=0)]) if pad else x

    def golden_logits(self, images: np.ndarray) -> np.ndarray:
        """Fault-free logits of ``images`` through the injector's own path, shape (n, classes)."""
        chunks = [
            self._forward(self._padded(images[i : i + self.batch_size]))[: len(images[i : i + self.batch_size])]
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(chunks)

    def run(self, faults: pd.DataFrame, images: np.ndarray, progress: bool = True) -> pd.DataFrame:
        """Evaluate a fault list (see :mod:`dnnfi.faults`) on ``images`` (the whole split, indexed
        by ``faults.image``). Returns the fault list with the columns of
        :func:`dnnfi.outcomes.summarize_logits`, in the fault list's row order."""
        unknown = set(faults["site"]) - set(self._site_of_node.values())
        if unknown:
            raise ValueError(f"fault list names sites the model does not have: {sorted(unknown)[:5]}")
        used = np.unique(faults["image"].to_numpy())
        golden = dict(zip(used, self.golden_logits(images[used])))
        faulty = []
        for start in tqdm(range(0, len(faults), self.batch_size), desc="injections", unit="batch", disable=not progress):
            batch = faults.iloc[start : start + self.batch_size]
            by_site: dict[str, list[tuple]] = {}
            for row, f in enumerate(batch.itertuples(index=False)):
                by_site.setdefault(f.site, []).append((row, f.element, f.fault_model, f.bit, f.random_u))
            x = self._padded(images[batch["image"].to_numpy()])
            faulty.append(self._forward(x, by_site)[: len(batch)])
        golden_rows = np.stack([golden[i] for i in faults["image"].to_numpy()])
        summary = summarize_logits(golden_rows, np.concatenate(faulty))
        return pd.concat([faults.reset_index(drop=True), summary], axis=1)
