"""A deliberately simple reference injector: the whole model forward, eagerly, layer call by
layer call, with the chosen call's output replaced by its faulty copy (numpy, dnnfi.bitflip).

It shares nothing with the engine but the fault models of :mod:`dnnfi.bitflip`: no prefix
reuse, no masking shortcut, no compiled steps. One batch row per fault; golden and faulty
forwards of a batch have the same shape, so they use the same kernels.
"""

from __future__ import annotations

import keras
import numpy as np

from dnnfi.bitflip import apply_fault
from dnnfi.outcomes import summarize_logits

ROWS = 128


def _forward(model, x, replace, prefix=""):
    """Outputs of ``model`` on ``x``; ``replace(site, tensor)`` may return a new output."""
    if isinstance(model, keras.Sequential):
        model = model._functional
    depth = model._nodes_by_depth
    nodes = [n for d in sorted(depth, reverse=True) for n in depth[d] if not n.is_input]
    own = {id(n) for n in nodes}
    names = {}
    for layer in model.layers:
        calls = [n for n in layer._inbound_nodes if id(n) in own]
        for k, n in enumerate(calls):
            names[id(n)] = layer.name if len(calls) == 1 else f"{layer.name}:{k}"
    values = {id(t): v for t, v in zip(model.inputs, x)}
    for node in nodes:
        args, kwargs = node.arguments.fill_in(values)
        name = prefix + names.get(id(node), "")
        if isinstance(node.operation, keras.Model):
            outs = _forward(node.operation, keras.tree.flatten(args), replace, name + "/")
        else:
            outs = keras.tree.flatten(node.operation(*args, **kwargs))
            outs[0] = replace(name, outs[0])
        for t, v in zip(node.outputs, outs):
            values[id(t)] = v
    return [values[id(t)] for t in model.outputs]


def _faulty(tensor, rows):
    """Copy of ``tensor`` with fault ``rows[i]`` (a fault-list row or None) applied to batch row i."""
    array = np.array(keras.ops.convert_to_numpy(tensor))
    flat = array.reshape(len(array), -1)
    for i, f in enumerate(rows):
        if f is None:
            continue
        elements = f["elements"] if f.get("elements") is not None else [f["element"]]
        bits = f["bits"] if f.get("bits") is not None else [f["bit"]]
        lo, hi = float(flat[i].min()), float(flat[i].max())
        for e, b in zip(elements, bits):
            value = np.array([lo + f["random_u"] * (hi - lo)]) if f["fault_model"] == "random" else None
            flat[i, e] = apply_fault(flat[i, e : e + 1], f["fault_model"], [b], value)[0]
    return keras.ops.convert_to_tensor(array)


def run_reference(model, faults, images, rows=ROWS):
    """Per fault row: golden and faulty logits, as :func:`dnnfi.outcomes.summarize_logits` columns.

    Batch row i is fault i's image; the faulty forward replaces, at each layer call, the output
    rows of the faults placed there. The golden forward runs on the same batch unfaulted.
    """
    records = faults.to_dict("records")
    golden, faulty = [], []
    for start in range(0, len(records), rows):
        part = records[start : start + rows]
        x = images[[f["image"] for f in part]]
        golden.append(keras.ops.convert_to_numpy(_forward(model, [x], lambda s, t: t)[0]))

        def replace(site, tensor, part=part):
            hits = [f if f["site"] == site else None for f in part]
            return _faulty(tensor, hits) if any(h is not None for h in hits) else tensor

        faulty.append(keras.ops.convert_to_numpy(_forward(model, [x], replace)[0]))
    faulty = np.concatenate(faulty)
    return summarize_logits(np.concatenate(golden), faulty), faulty
