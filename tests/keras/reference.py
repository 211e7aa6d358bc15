"""A deliberately simple reference injector: the whole model forward, layer call by layer call,
with the chosen call's output replaced by its faulty copy (numpy, dnnfi.faults.bitflip).

It shares nothing with the engine but the fault models of :mod:`dnnfi.faults.bitflip`: no prefix
reuse, no masking shortcut, no scheduling. It runs on the numerical path that docs/semantics.md
(section 4) defines for Keras: each layer call as its own TensorFlow graph (a ``tf.function``
traced here), one batch row per fault, ``PASS_ROWS`` faults per batch (a last partial batch is
padded with copies of its first row, the padding dropped), as in tests/torch/torch_reference.py.
Eager layer calls would be another path: with oneDNN on, TensorFlow's graph optimizer fuses ops
(e.g. swish's sigmoid and product) that eager mode rounds one by one. The golden forward runs on
the same batch unfaulted, so golden and faulty use the same kernels.
With a protection, protected layer calls' outputs (golden and faulty) go through the numpy checker
of tests/protection_reference.py, written independently of the engines' one.
"""

from __future__ import annotations

import keras
import numpy as np
from protection_reference import reference_checker

from dnnfi.engines.devices import PASS_ROWS
from dnnfi.faults.bitflip import apply_fault
from dnnfi.faults.outcomes import summarize_logits

ROWS = PASS_ROWS["keras"]["cpu"]


def _forward(model, x, replace, compiled, prefix=""):
    """Outputs of ``model`` on ``x``; ``replace(site, tensor)`` may return a new output.
    ``compiled``: a dict caching one ``tf.function`` per node."""
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
            outs = _forward(node.operation, keras.tree.flatten(args), replace, compiled, name + "/")
        else:
            outs = keras.tree.flatten(_call(node, compiled)(*args, **kwargs))
            outs[0] = replace(name, outs[0])
        for t, v in zip(node.outputs, outs):
            values[id(t)] = v
    return [values[id(t)] for t in model.outputs]


def _call(node, compiled):
    """The node's layer call as a TensorFlow graph (traced on first use)."""
    if id(node) not in compiled:
        import tensorflow as tf

        compiled[id(node)] = tf.function(node.operation, autograph=False)
    return compiled[id(node)]


def _faulty(tensor, rows):
    """Copy of ``tensor`` with fault ``rows[i]`` (a fault-list row or None) applied to batch row i."""
    array = np.array(keras.ops.convert_to_numpy(tensor))
    flat = array.reshape(len(array), -1)
    for i, f in enumerate(rows):
        if f is None:
            continue
        multi = isinstance(
            f.get("elements"), (list, tuple, np.ndarray)
        )  # else None or NaN: one pair
        elements = f["elements"] if multi else [f["element"]]
        bits = f["bits"] if multi else [f["bit"]]
        lo, hi = float(flat[i].min()), float(flat[i].max())
        for e, b in zip(elements, bits):
            value = (
                np.array([lo + f["random_u"] * (hi - lo)]) if f["fault_model"] == "random" else None
            )
            flat[i, e] = apply_fault(flat[i, e : e + 1], f["fault_model"], [b], value)[0]
    return keras.ops.convert_to_tensor(array)


def run_reference(model, faults, images, rows=ROWS, protection=None):
    """Per fault row, the :func:`dnnfi.faults.outcomes.summarize_logits` columns, and the faulty logits."""
    golden, faulty = reference_logits(model, faults, images, rows, protection)
    return summarize_logits(golden, faulty), faulty


def _checked(site, tensor, protection):
    if protection is None or site not in protection.limits:
        return tensor
    checked = reference_checker(
        protection.method, *protection.limits[site], keras.ops.convert_to_numpy(tensor)
    )
    return keras.ops.convert_to_tensor(checked)


def reference_logits(model, faults, images, rows=ROWS, protection=None):
    """Golden and faulty logits per fault row, two arrays of shape (len(faults), classes).

    Batch row i is fault i's image; the faulty forward replaces, at each layer call, the output
    rows of the faults placed there, then applies ``protection`` (a :class:`dnnfi.engines.protection.Protection`)
    to protected calls. The golden forward runs on the same batch unfaulted, protected too. Every
    batch has ``rows`` rows: a partial one is padded with unfaulted copies of its first row.
    """
    cache = {}
    records = faults.to_dict("records")
    golden, faulty = [], []
    for start in range(0, len(records), rows):
        part = records[start : start + rows]
        n = len(part)
        part = part + [None] * (rows - n)  # padding rows carry no fault
        x = images[[f["image"] for f in part[:n]] + [part[0]["image"]] * (rows - n)]
        golden.append(
            keras.ops.convert_to_numpy(
                _forward(model, [x], lambda s, t: _checked(s, t, protection), cache)[0]
            )[:n]
        )

        def replace(site, tensor, part=part):
            hits = [f if f is not None and f["site"] == site else None for f in part]
            return _checked(
                site,
                _faulty(tensor, hits) if any(h is not None for h in hits) else tensor,
                protection,
            )

        faulty.append(keras.ops.convert_to_numpy(_forward(model, [x], replace, cache)[0])[:n])
    return np.concatenate(golden), np.concatenate(faulty)
