"""A Keras functional graph flattened into a list of compiled steps, one per operation call.

Nested sub-models (Functional or Sequential used as a layer) are expanded in place, so every
layer call at any depth is one step; a layer called more than once gives one step per call.
Tensors are named by integer keys; each step reads ``in_keys`` and writes ``out_keys``.

Each step runs through its own ``tf.function`` traced once with a free batch dimension; the
engine always calls it on :func:`dnnfi.engines.devices.pass_rows` rows, so the golden run and every
faulty suffix execute the same kernels (bit-identical on identical inputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Step:
    """One operation call: where it reads and writes, and the fault site it defines."""

    node: object  #: the Keras Node
    in_keys: list[int]
    out_keys: list[int]
    site: str  #: site name: layer name, ``name:k`` for the k-th call, ``outer/inner`` when nested
    order: tuple  #: (layer index, call) per nesting level: the sites table's sort key
    is_layer: bool  #: False for bare keras.ops nodes, which are not in ``model.layers``
    fn: object = field(default=None, repr=False)

    def __call__(self, *tensors):
        if self.fn is None:
            self.fn = _compile(self.node, [t.dtype for t in tensors])
        return self.fn(*tensors)


def _compile(node, dtypes):
    """The node's call as a tf.function traced once for any batch size. ``dtypes``: those of
    the tensors it receives (a nested model's input may be declared float32 and receive the
    float16 output of a mixed-precision layer, which Keras casts on call)."""
    import keras
    import tensorflow as tf

    kts = node.arguments.keras_tensors

    def call(*tensors):
        args, kwargs = node.arguments.fill_in({id(kt): t for kt, t in zip(kts, tensors)})
        return keras.tree.flatten(node.operation(*args, **kwargs))

    spec = [tf.TensorSpec(kt.shape, dtype) for kt, dtype in zip(kts, dtypes)]
    return tf.function(call, input_signature=spec, autograph=False)


def _functional(model):
    import keras

    if isinstance(model, keras.Sequential):
        if getattr(model, "_functional", None) is None:
            raise ValueError(
                f"Sequential model {model.name!r} is not built: give it a keras.Input first"
            )
        return model._functional
    return model


def _is_graph_model(op) -> bool:
    import keras

    return isinstance(op, keras.Model) and hasattr(_functional(op), "_nodes_by_depth")


class Graph:
    """Flattened graph of ``model``: ``steps`` in topological order, ``input_keys``,
    ``output_keys``, ``shapes`` and ``dtypes`` per key (one image, no batch axis)."""

    def __init__(self, model):
        self.model = _functional(model)
        if not _is_graph_model(self.model):
            raise ValueError(
                f"model {getattr(model, 'name', model)!r} is not a Keras functional or Sequential model"
            )
        self.steps: list[Step] = []
        self.shapes: dict[int, tuple[int, ...]] = {}
        self.dtypes: dict[int, str] = {}
        self.input_keys = [self._new_key(kt) for kt in self.model.inputs]
        self.output_keys = self._expand(self.model, self.input_keys, "", ())
        if len(self.output_keys) != 1:
            raise ValueError(
                f"model {self.model.name!r} has {len(self.output_keys)} outputs: expected one logits tensor"
            )
        last_use = {k: len(self.steps) for k in self.output_keys}
        for i, step in enumerate(self.steps):
            for k in step.in_keys:
                last_use[k] = max(last_use.get(k, -1), i)
        #: index of the last step that reads each key (outputs: ``len(steps)``)
        self.last_use = last_use

    def _new_key(self, kt) -> int:
        if any(s is None for s in kt.shape[1:]):
            raise ValueError(
                f"tensor {kt.name!r} has shape {kt.shape}: build the model with a fixed input shape"
            )
        key = len(self.shapes)
        self.shapes[key] = tuple(int(s) for s in kt.shape[1:])
        self.dtypes[key] = str(kt.dtype)
        return key

    def _expand(self, model, input_keys, prefix, order) -> list[int]:
        """Append the steps of ``model`` (its inputs bound to ``input_keys``); return its output keys."""
        fm = _functional(model)
        depth = fm._nodes_by_depth
        nodes = [
            n
            for d in sorted(depth, reverse=True)
            for n in depth[d]
            if n.operation and not n.is_input
        ]
        own = {id(n) for n in nodes}
        names = {}
        for idx, layer in enumerate(fm.layers):
            calls = [n for n in layer._inbound_nodes if id(n) in own]
            for k, n in enumerate(calls):
                names[id(n)] = (layer.name if len(calls) == 1 else f"{layer.name}:{k}", (idx, k))
        key = {id(kt): k for kt, k in zip(fm.inputs, input_keys)}
        for n_op, node in enumerate(nodes):
            in_keys = [key[id(kt)] for kt in node.arguments.keras_tensors]
            name, pos = names.get(id(node), (node.operation.name, (len(fm.layers) + n_op, 0)))
            if _is_graph_model(node.operation):
                outs = self._expand(node.operation, in_keys, f"{prefix}{name}/", order + (pos,))
            else:
                outs = [self._new_key(kt) for kt in node.outputs]
                self.steps.append(
                    Step(node, in_keys, outs, prefix + name, order + (pos,), id(node) in names)
                )
            for kt, k in zip(node.outputs, outs):
                key[id(kt)] = k
        return [key[id(kt)] for kt in fm.outputs]

    def site_steps(self) -> list[int]:
        """Indices of the steps that are fault sites, in the order of ``model.layers`` (nested
        layers in place of their sub-model, calls of one layer in call order)."""
        return sorted(
            (i for i, s in enumerate(self.steps) if s.is_layer), key=lambda i: self.steps[i].order
        )

    def key_bytes(self, key: int) -> int:
        """Bytes of tensor ``key`` for one image."""
        return int(np.prod(self.shapes[key])) * np.dtype(numpy_dtype(self.dtypes[key])).itemsize

    def image_bytes(self) -> int:
        """Bytes of all tensors of the graph for one image (the golden cache per image)."""
        return sum(self.key_bytes(k) for k in self.shapes)

    def peak_live_bytes(self) -> int:
        """Largest total size of the tensors alive at once during a forward, for one image."""
        born = {k: -1 for k in self.input_keys}
        for i, s in enumerate(self.steps):
            born.update({k: i for k in s.out_keys})
        return max(
            sum(self.key_bytes(k) for k in born if born[k] <= i < self.last_use.get(k, i))
            + sum(self.key_bytes(k) for k in self.steps[i].out_keys)
            for i in range(len(self.steps))
        )


def numpy_dtype(name: str):
    import ml_dtypes

    return ml_dtypes.bfloat16 if name == "bfloat16" else np.dtype(name)
