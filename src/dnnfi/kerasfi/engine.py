"""Activation fault injection in any Keras functional graph, recomputing only downstream work.

How a fault list runs (see docs/semantics.md, "Performance model"):

1. The golden run of a block of images stores every tensor of the flattened graph
   (:class:`dnnfi.kerasfi.graph.Graph`); it is the prefix of every fault on those images.
2. Faults are sorted by the position of their site in topological order and cut into chunks
   of at most ``batch_size`` rows, one fault per row. A chunk walks the graph from its first
   site: a fault's row enters at its site with the golden tensors alive there (the faulty
   one corrupted), so each row costs only the work downstream of its own site.
3. A step runs only on the rows whose inputs differ from the golden ones; the others keep the
   golden output. A row whose alive tensors all equal the golden ones is masked and leaves
   the batch (its logits are the golden logits), which also makes a zero-change fault masked
   by construction.

Golden and faulty tensors go through the same compiled per-step functions, so "equal to the
golden tensor" is a bit-exact test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dnnfi.bitflip import apply_fault
from dnnfi.kerasfi.graph import MIN_ROWS, Graph
from dnnfi.outcomes import summarize_logits

_REQUIRED = ("image", "site", "element", "bit", "fault_model", "random_u")


def fault_locations(faults: pd.DataFrame) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per fault row, the flat elements hit and the bit used on each (equal lengths).

    Multi-bit faults carry list columns ``elements`` and ``bits`` (see
    :func:`dnnfi.faults.draw_activation_faults`); otherwise ``element`` and ``bit`` are used.
    """
    single_e = faults["element"].to_numpy(np.int64)
    single_b = faults["bit"].to_numpy(np.int64)
    multi_e = faults["elements"].to_numpy() if "elements" in faults else [None] * len(faults)
    multi_b = faults["bits"].to_numpy() if "bits" in faults else [None] * len(faults)
    elements, bits = [], []
    for e, b, me, mb in zip(single_e, single_b, multi_e, multi_b):
        if me is None or (np.ndim(me) == 0 and pd.isna(me)):
            elements.append(np.array([e]))
            bits.append(np.array([b]))
        else:
            elements.append(np.asarray(me, dtype=np.int64))
            bits.append(np.asarray(mb, dtype=np.int64) if mb is not None else np.full(len(me), -1))
    return elements, bits


def corrupt_elements(golden: np.ndarray, hit: np.ndarray, fault_model: str, bits: np.ndarray, value_range, u: float) -> np.ndarray:
    """Faulty values of the distinct elements one fault hits.

    ``golden``: golden values of the distinct elements, shape (m,); ``hit``: per hit, the
    position of its element in ``golden`` (k,), hits on one element compose in order; ``bits``:
    the bit of each hit (k,); ``value_range``: (min, max) of the golden site output of the
    image, used by ``random``: the new value is ``min + u * (max - min)`` computed in float64,
    then rounded to the tensor's dtype.
    """
    out = np.array(golden, copy=True)
    random_value = None
    if fault_model == "random":
        lo, hi = (float(v) for v in value_range)
        random_value = np.array([lo + u * (hi - lo)])
    for j, e in enumerate(hit):
        out[e : e + 1] = apply_fault(out[e : e + 1], fault_model, bits[j : j + 1], random_value)
    return out


def _row_equal(a, b):
    """Per row, whether two tensors of shape (n, ...) are bit-identical."""
    import tensorflow as tf

    width = {2: tf.int16, 4: tf.int32, 8: tf.int64}.get(a.dtype.size) if a.dtype.is_floating else None
    if width is not None:
        a, b = tf.bitcast(a, width), tf.bitcast(b, width)
    eq = tf.equal(a, b)
    return tf.reduce_all(tf.reshape(eq, (tf.shape(eq)[0], -1)), axis=1).numpy()


class KerasInjector:
    """Fault sites and fault-list execution for a Keras functional (or Sequential) model.

    ``batch_size``: most faults evaluated together (one per row); ``memory_mb``: budget for
    the golden tensors of a block of images plus the faulty rows' tensors (half each), which
    caps the image block and the batch. Works on whatever device TensorFlow places the model.
    """

    def __init__(self, model, batch_size: int = 256, memory_mb: int = 4096):
        self.graph = Graph(model)
        self.model = self.graph.model
        self.batch_size = batch_size
        self.memory_mb = memory_mb
        self._site_step = {self.graph.steps[i].site: i for i in self.graph.site_steps()}
        self._live_after = self._live_sets()

    def _live_sets(self) -> list[list[int]]:
        """Keys alive after each step: produced by then and read later (outputs always)."""
        born = {k: -1 for k in self.graph.input_keys}
        for i, s in enumerate(self.graph.steps):
            born.update({k: i for k in s.out_keys})
        last = self.graph.last_use
        return [[k for k in born if born[k] <= i < last.get(k, -1)] for i in range(len(self.graph.steps))]

    def sites(self) -> pd.DataFrame:
        """One row per layer call: ``site``, ``layer``, ``layer_index``, ``shape`` (one image),
        ``size`` (elements per image), ``dtype`` and ``eligible``.

        ``eligible`` is the seed-compatible rule: every layer of ``model.layers`` except input
        layers and the last layer (layers nested in a sub-model count as calls of the
        sub-model's position); non-float outputs are never eligible.
        """
        rows = []
        last = len(self.model.layers) - 1
        for name, i in self._site_step.items():
            step = self.graph.steps[i]
            key = step.out_keys[0]
            shape = self.graph.shapes[key]
            top = self.model.layers[step.order[0][0]]
            rows.append(
                {
                    "site": name,
                    "layer": step.node.operation.name,
                    "layer_index": step.order[0][0],
                    "shape": "x".join(map(str, shape)),
                    "size": int(np.prod(shape)),
                    "dtype": self.graph.dtypes[key],
                    "eligible": step.order[0][0] != last
                    and top.__class__.__name__ != "InputLayer"
                    and self.graph.dtypes[key] in ("float32", "float16", "bfloat16"),
                }
            )
        return pd.DataFrame(rows)

    # -- golden run --------------------------------------------------------------------------

    def _golden(self, x: np.ndarray) -> dict:
        """Every tensor of the graph for images ``x`` (n, ...), as device tensors by key."""
        import tensorflow as tf

        n = len(x)
        if n < MIN_ROWS:
            x = np.concatenate([x] + [x[:1]] * (MIN_ROWS - n))
        values = {self.graph.input_keys[0]: tf.convert_to_tensor(x, dtype=self.graph.dtypes[self.graph.input_keys[0]])}
        for step in self.graph.steps:
            for k, out in zip(step.out_keys, step(*[values[k] for k in step.in_keys])):
                values[k] = out
        return {k: v[:n] for k, v in values.items()} if n < MIN_ROWS else values

    def golden_logits(self, images: np.ndarray) -> np.ndarray:
        """Fault-free logits of ``images`` through the injector's own path, shape (n, classes)."""
        self._check_images(images)
        out = self.graph.output_keys[0]
        return np.concatenate(
            [self._golden(images[i : i + self.batch_size])[out].numpy() for i in range(0, len(images), self.batch_size)]
        )

    def _check_images(self, images: np.ndarray) -> None:
        expected = self.graph.shapes[self.graph.input_keys[0]]
        if tuple(images.shape[1:]) != expected:
            raise ValueError(f"images have shape {images.shape[1:]} per image: model {self.model.name!r} expects {expected}")

    # -- fault list --------------------------------------------------------------------------

    def _check_faults(self, faults: pd.DataFrame, n_images: int) -> None:
        missing = [c for c in _REQUIRED if c not in faults]
        if missing:
            raise ValueError(f"fault list lacks columns {missing}: expected {list(_REQUIRED)}")
        unknown = set(faults["site"]) - set(self._site_step)
        if unknown:
            raise ValueError(f"fault list names sites the model does not have: {sorted(unknown)[:5]}")
        image = faults["image"].to_numpy()
        if len(image) and (image.min() < 0 or image.max() >= n_images):
            raise ValueError(f"fault list names images outside 0..{n_images - 1}")
        sizes = self.sites().set_index("site")["size"]
        elements, _ = fault_locations(faults)
        for site, e in zip(faults["site"], elements):
            if e.min() < 0 or e.max() >= sizes[site]:
                raise ValueError(f"element {e.max()} outside site {site!r} of {sizes[site]} elements")

    def _blocks(self, n_images: int) -> tuple[int, int]:
        """(images per golden block, rows per batch) under ``memory_mb``."""
        half = self.memory_mb * 2**20 // 2
        per_image = max(1, half // self.graph.image_bytes())
        rows = max(MIN_ROWS, min(self.batch_size, half // (3 * self.graph.peak_live_bytes())))
        return min(per_image, max(1, n_images)), rows

    def run(self, faults: pd.DataFrame, images: np.ndarray, progress: bool = True) -> pd.DataFrame:
        """Evaluate a fault list (see :mod:`dnnfi.faults`) on ``images`` (the whole split, indexed
        by ``faults.image``). Returns the fault list with the columns of
        :func:`dnnfi.outcomes.summarize_logits`, in the fault list's row order."""
        golden, faulty = self.logits(faults, images, progress)
        return pd.concat([faults.reset_index(drop=True), summarize_logits(golden, faulty)], axis=1)

    def logits(self, faults: pd.DataFrame, images: np.ndarray, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Golden and faulty logits per fault row, two arrays of shape (len(faults), classes)."""
        self._check_images(images)
        self._check_faults(faults, len(images))
        faults = faults.reset_index(drop=True)
        elements, bits = fault_locations(faults)
        step_of = faults["site"].map(self._site_step).to_numpy(np.int64)
        image = faults["image"].to_numpy(np.int64)
        used = np.unique(image)
        per_block, rows = self._blocks(len(used))
        out_key = self.graph.output_keys[0]
        shape = (len(faults),) + self.graph.shapes[out_key]
        golden_rows = faulty = np.empty(shape, np.float32)
        with tqdm(total=len(faults), desc="injections", unit="fault", disable=not progress) as bar:
            for b in range(0, len(used), per_block):
                block = used[b : b + per_block]
                golden = self._golden(images[block])
                logits = golden[out_key].numpy()
                if b == 0:
                    golden_rows, faulty = np.empty(shape, logits.dtype), np.empty(shape, logits.dtype)
                pos = np.searchsorted(block, image)
                mine = np.flatnonzero(np.isin(image, block))
                mine = mine[np.argsort(step_of[mine], kind="stable")]
                golden_rows[mine] = logits[pos[mine]]
                for c in range(0, len(mine), rows):
                    ids = mine[c : c + rows]
                    faulty[ids] = self._sweep(ids, step_of, pos, faults, elements, bits, golden, logits)
                    bar.update(len(ids))
        return golden_rows, faulty

    # -- the sweep ---------------------------------------------------------------------------

    def _sweep(self, ids, step_of, pos, faults, elements, bits, golden, golden_logits) -> np.ndarray:
        """Faulty logits of the faults ``ids`` (sorted by step), shape (len(ids), classes)."""
        import tensorflow as tf

        steps = self.graph.steps
        out_key = self.graph.output_keys[0]
        result = golden_logits[pos[ids]].copy()
        entering = {s: ids[step_of[ids] == s] for s in np.unique(step_of[ids])}
        # alive rows: fault id, golden row; per alive key: values (None = all golden) and diff flags
        alive = np.empty(0, np.int64)
        img = np.empty(0, np.int64)
        vals: dict[int, object] = {}
        diff: dict[int, np.ndarray] = {}
        s = min(entering)
        while s < len(steps):
            if len(alive):
                self._compute(steps[s], img, vals, diff, golden)
            live = self._live_after[s]
            for k in [k for k in vals if k not in live]:
                del vals[k], diff[k]
            if len(alive):
                keep = np.logical_or.reduce([diff[k] for k in live]) if live else np.zeros(len(alive), bool)
                if not keep.all():
                    idx = np.flatnonzero(keep)
                    alive, img = alive[idx], img[idx]
                    for k in live:
                        diff[k] = diff[k][idx]
                        if vals[k] is not None:
                            vals[k] = tf.gather(vals[k], idx)
            if s in entering:
                alive, img = self._enter(steps[s], entering[s], alive, img, vals, diff, live, pos, faults, elements, bits, golden)
            if not len(alive):
                later = [t for t in entering if t > s]
                if not later:
                    return result
                s = min(later)
                continue
            s += 1
        final = vals[out_key]
        if final is not None:
            result[_where(ids, alive)] = final.numpy()
        return result

    def _compute(self, step, img, vals, diff, golden) -> None:
        """Run ``step`` on the alive rows whose inputs differ from golden; store its outputs."""
        import tensorflow as tf

        n = len(img)
        touched = np.logical_or.reduce([diff[k] for k in step.in_keys]) if step.in_keys else np.zeros(n, bool)
        rows = np.flatnonzero(touched)
        if not len(rows):
            for k in step.out_keys:
                vals[k], diff[k] = None, np.zeros(n, bool)
            return
        everyone = len(rows) == n
        pad = max(0, MIN_ROWS - len(rows))
        sel = np.concatenate([rows, np.repeat(rows[:1], pad)])
        inputs = []
        for k in step.in_keys:
            v = vals[k]
            if v is None:
                inputs.append(tf.gather(golden[k], img[sel]))
            else:
                inputs.append(v if everyone and not pad else tf.gather(v, sel))
        outs = step(*inputs)
        for k, out in zip(step.out_keys, outs):
            out = out[: len(rows)] if pad else out
            same = _row_equal(out, tf.gather(golden[k], img[rows]))
            d = np.zeros(n, bool)
            d[rows] = ~same
            diff[k] = d
            if not d.any():
                vals[k] = None
            elif everyone:
                vals[k] = out
            else:
                full = tf.gather(golden[k], img)
                vals[k] = tf.tensor_scatter_nd_update(full, rows[:, None], out)

    def _enter(self, step, new, alive, img, vals, diff, live, pos, faults, elements, bits, golden):
        """Add the faults ``new`` injected at ``step``'s output; zero-change faults never enter."""
        import tensorflow as tf

        key = step.out_keys[0]
        new_img = pos[new]
        flat = tf.reshape(tf.gather(golden[key], new_img), (len(new), -1))
        distinct = [np.unique(elements[f], return_inverse=True) for f in new]
        hit_rows = np.concatenate([np.full(len(d[0]), r) for r, d in enumerate(distinct)])
        hit_elems = np.concatenate([d[0] for d in distinct])
        old = tf.gather_nd(flat, np.stack([hit_rows, hit_elems], axis=1)).numpy()
        models = faults["fault_model"].to_numpy()[new]
        u = faults["random_u"].to_numpy()[new]
        ranges = None
        if (models == "random").any():
            ranges = np.stack([tf.reduce_min(flat, 1).numpy(), tf.reduce_max(flat, 1).numpy()], 1)
        new_vals = np.empty_like(old)
        changed = np.zeros(len(new), bool)
        start = 0
        for r, (f, (elems, hit)) in enumerate(zip(new, distinct)):
            part = slice(start, start + len(elems))
            new_vals[part] = corrupt_elements(old[part], hit, models[r], bits[f], None if ranges is None else ranges[r], u[r])
            changed[r] = old[part].tobytes() != new_vals[part].tobytes()
            start += len(elems)
        enter = np.flatnonzero(changed)
        if not len(enter):
            return alive, img
        keep_hits = np.isin(hit_rows, enter)
        remap = np.full(len(new), -1)
        remap[enter] = np.arange(len(enter))
        idx = np.stack([remap[hit_rows[keep_hits]], hit_elems[keep_hits]], axis=1)
        faulty = tf.tensor_scatter_nd_update(tf.gather(flat, enter), idx, new_vals[keep_hits])
        faulty = tf.reshape(faulty, (len(enter),) + self.graph.shapes[key])
        n_old, n_new = len(alive), len(enter)
        new_img = new_img[enter]
        for k in live:
            if k == key:
                value, d = faulty, np.ones(n_new, bool)
            else:
                value, d = None, np.zeros(n_new, bool)
            before = vals.get(k)
            if before is None and value is None:
                vals[k] = None
            else:
                parts = [before if before is not None else tf.gather(golden[k], img)] if n_old else []
                parts.append(value if value is not None else tf.gather(golden[k], new_img))
                vals[k] = tf.concat(parts, 0) if len(parts) > 1 else parts[0]
            diff[k] = np.concatenate([diff[k], d]) if n_old else d
        return np.concatenate([alive, new[enter]]), np.concatenate([img, new_img])


def _where(ids: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Positions of the fault ids ``alive`` within ``ids``."""
    order = {f: i for i, f in enumerate(ids)}
    return np.array([order[f] for f in alive], dtype=np.int64)
