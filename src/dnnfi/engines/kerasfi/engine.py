"""Activation fault injection in any Keras functional graph, recomputing only downstream work.

How a fault list runs (see docs/semantics.md, "Performance model"):

1. Images are cut into blocks whose golden cache (every tensor of the flattened graph,
   :class:`dnnfi.engines.kerasfi.graph.Graph`) fits in ``cache_mb``; the cache is the prefix of every
   fault on those images.
2. The faults of a block, sorted by the position of their site in topological order, run in
   walks down the graph, one fault per row. A fault's row is admitted at its site while fewer
   than :meth:`KerasInjector.capacity` rows are alive, with the golden tensors alive there (the
   faulty one corrupted), so each row costs only the work downstream of its own site; faults
   that find no room wait for the next walk, which starts at the first of their sites. In the
   first walk of a block the block's golden rows ride along from the input and fill the cache,
   so golden rows and faulty rows share passes.
3. A step runs only on the rows whose inputs differ from the golden ones; the others keep the
   golden output. A row whose alive tensors all equal the golden ones is masked and leaves
   the walk (its logits are the golden logits; its place goes to the next fault admitted),
   which also makes a zero-change fault masked by construction. The rows a step runs are
   packed, so only the last pass of a step is partly padding.

Golden and faulty tensors go through the same compiled per-step functions, always in passes of
:func:`dnnfi.engines.devices.pass_rows` rows (padded), so "equal to the golden tensor" is a bit-exact
test and a fault's logits depend neither on ``batch_size`` nor on the other faults of the list.
With a :class:`dnnfi.engines.protection.Protection`, every output of a protected site (golden passes,
downstream recomputation and the corrupted output itself) passes through its checker.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from dnnfi.engines import devices
from dnnfi.engines.kerasfi.graph import Graph, numpy_dtype
from dnnfi.engines.kerasfi.rows import Rows, Segment
from dnnfi.engines.protection import Protection, merge_ranges, protect
from dnnfi.faults.lists import corrupt_activations, validate_faults
from dnnfi.faults.outcomes import summarize_logits
from dnnfi.workflow.runlog import Progress

RAW = "raw"  #: key prefix of a protected site's golden output before its checker
SUMS = "sums"  #: key prefix of a golden tensor's row fingerprints (:func:`_fingerprints`)


def _row_equal(a, b):
    """Per row, whether two tensors of shape (n, ...) are bit-identical."""
    import tensorflow as tf

    width = (
        {2: tf.int16, 4: tf.int32, 8: tf.int64}.get(a.dtype.size) if a.dtype.is_floating else None
    )
    if width is not None:
        a, b = tf.bitcast(a, width), tf.bitcast(b, width)
    eq = tf.equal(a, b)
    return tf.reduce_all(tf.reshape(eq, (tf.shape(eq)[0], -1)), axis=1).numpy()


def _on_device(method):
    """Run an injector method under its ``tf.device`` (when it was given one)."""

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        if self.device is None:
            return method(self, *args, **kwargs)
        import tensorflow as tf

        with tf.device(self.device):
            return method(self, *args, **kwargs)

    return wrapped


class KerasInjector:
    """Fault sites and fault-list execution for a Keras functional (or Sequential) model.

    ``batch_size``: most rows alive in one walk down the graph (one per fault, and the golden
    rows riding the first walk of an image block), rounded up to whole passes of ``rows`` rows
    (padded): the fixed batch shape that makes results independent of ``batch_size`` and of the
    fault list (docs/semantics.md). ``cache_mb``: budget of the golden cache (every tensor of the
    graph for a block of images), which sets the images per block. Peak memory of a fault list:
    the model, ``capacity() * graph.peak_live_bytes()`` for the alive rows, ``cache_mb``, and a
    step's transient pass inputs and outputs (docs/semantics.md, section 10).
    ``device``: None runs where TensorFlow places the work (its first GPU, else the CPU); a
    ``device`` setting (``auto``, ``cpu``, ``cuda``, ``cuda:N``; see
    :func:`dnnfi.engines.kerasfi.models.use_device`) runs every pass under that ``tf.device``.
    ``pass_rows``: the rows of every pass on a CPU and on a GPU (the config key ``pass_rows.keras``;
    None: :data:`dnnfi.engines.devices.PASS_ROWS`); ``rows`` is the one of the injector's device.
    ``protection``: checkers after protected sites (docs/semantics.md, section 12), golden passes included.
    """

    def __init__(
        self,
        model,
        batch_size: int = 128,
        cache_mb: float = 1024,
        pass_rows: dict | None = None,
        device: str | None = None,
        protection: Protection | None = None,
    ):
        import tensorflow as tf

        from dnnfi.engines.kerasfi.models import use_device

        self.device = use_device(device) if device is not None else None
        on_cpu = self.device == "/CPU:0" or (
            self.device is None and not tf.config.list_physical_devices("GPU")
        )
        self.rows = devices.pass_rows("keras", "cpu" if on_cpu else "cuda", pass_rows)
        if batch_size < 1 or self.rows < 2:
            raise ValueError(
                f"batch_size must be >= 1 and pass rows >= 2, got {batch_size} and {self.rows}"
            )
        self.graph = Graph(model)
        self.model = self.graph.model
        self.batch_size = batch_size
        self.cache_mb = cache_mb
        self._site_step = {self.graph.steps[i].site: i for i in self.graph.site_steps()}
        self._live_after = self._live_sets()
        self.protection = protection
        #: output key of each protected site -> (min, max)
        self._limits = {}
        if protection is not None:
            unknown = sorted(set(protection.limits) - set(self._site_step))
            if unknown:
                raise ValueError(
                    f"protection names site {unknown[0]}, which the model does not have"
                )
            self._limits = {
                self.graph.steps[self._site_step[s]].out_keys[0]: b
                for s, b in protection.limits.items()
            }

    def _checked(self, key: int, value):
        """``value`` of tensor ``key`` through its protection checker, if the key has one."""
        if key not in self._limits:
            return value
        import tensorflow as tf

        lo, hi = (tf.constant(b, value.dtype) for b in self._limits[key])
        return protect(value, lo, hi, tf.constant(0, value.dtype), self.protection.method, tf.where)

    def _live_sets(self) -> list[list[int]]:
        """Keys alive after each step: produced by then and read later (outputs always)."""
        born = {k: -1 for k in self.graph.input_keys}
        for i, s in enumerate(self.graph.steps):
            born.update({k: i for k in s.out_keys})
        last = self.graph.last_use
        return [
            [k for k in born if born[k] <= i < last.get(k, -1)]
            for i in range(len(self.graph.steps))
        ]

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
                    "activation": _is_activation(step.node.operation),
                    "eligible": step.order[0][0] != last
                    and top.__class__.__name__ != "InputLayer"
                    and self.graph.dtypes[key] in ("float32", "float16", "bfloat16"),
                }
            )
        return pd.DataFrame(rows)

    # -- passes ----------------------------------------------------------------------------

    def _in_passes(self, step, inputs: list[Rows]) -> list[list]:
        """``step`` on the n rows of ``inputs`` (one :class:`Rows` per input), computed in passes of
        exactly ``rows`` rows (the last one padded with copies of its first row); per output, its
        passes' tensors cut to their rows (n rows in all)."""
        n = len(inputs[0])
        parts = []
        for start in range(0, n, self.rows):
            end = min(start + self.rows, n)
            outs = step(*(r.pass_input(start, end, self.rows) for r in inputs))
            parts.append([o if end - start == self.rows else o[: end - start] for o in outs])
        return [list(p) for p in zip(*parts)]

    def _golden(self, x: np.ndarray, visit) -> None:
        """Fault-free forward of images ``x`` (n, ...): ``visit(key, value)`` for every tensor as
        its step makes it (a protected site's output before its checker also as ``(RAW, key)``);
        a tensor is dropped after its last use, so at most the live tensors of n rows are held."""
        import tensorflow as tf

        key = self.graph.input_keys[0]
        values = {key: tf.convert_to_tensor(self._input(x))}
        for i, step in enumerate(self.graph.steps):
            outs = self._in_passes(step, [Rows.of(values[k]) for k in step.in_keys])
            for k in set(step.in_keys):
                if self.graph.last_use[k] == i:
                    del values[k]
            for k, passes in zip(step.out_keys, outs):
                out = passes[0] if len(passes) == 1 else tf.concat(passes, 0)
                if k in self._limits:
                    visit((RAW, k), out)
                values[k] = self._checked(k, out)
                visit(k, values[k])

    def _input(self, x: np.ndarray) -> np.ndarray:
        """Images in the model's input format, rounded by numpy (to nearest, ties to even), as torch's .to(dtype)."""
        return np.asarray(x).astype(numpy_dtype(self.graph.dtypes[self.graph.input_keys[0]]))

    def _golden_chunks(self, images: np.ndarray, reduce: dict, progress: bool = True) -> list[dict]:
        """Fault-free forward of ``images`` in chunks of ``rows`` images; per chunk, key ->
        ``reduce[key](numpy value)`` for the keys of ``reduce`` (keys of :meth:`_golden`),
        reduced as each tensor is made."""
        parts = []
        for i in Progress(range(0, len(images), self.rows), desc="passes", disable=not progress):
            part = {}

            def visit(key, value):
                if key in reduce:
                    part[key] = reduce[key](value.numpy())

            self._golden(images[i : i + self.rows], visit)
            parts.append(part)
        return parts

    @_on_device
    def golden_logits(self, images: np.ndarray, progress: bool = True) -> np.ndarray:
        """Fault-free logits of ``images`` through the injector's own path, shape (n, classes)."""
        self._check_images(images)
        out = self.graph.output_keys[0]
        chunks = self._golden_chunks(images, {out: lambda v: v.astype(np.float32)}, progress)
        return np.concatenate([p[out] for p in chunks])

    @_on_device
    def golden_site_values(self, images: np.ndarray, sites) -> dict[str, np.ndarray]:
        """Fault-free output of each of ``sites`` for ``images``: site -> numpy array (images,
        elements per image) in the site's format, from the same passes the engine corrupts
        (before any checker; what data-aware strata count, :mod:`dnnfi.designs.strata`)."""
        self._check_images(images)
        keys = {s: self._raw_key(self.graph.steps[self._site_step[s]].out_keys[0]) for s in sites}
        parts = self._golden_chunks(
            images, {k: lambda v: v.reshape(len(v), -1) for k in keys.values()}
        )
        return {s: np.concatenate([p[k] for p in parts]) for s, k in keys.items()}

    @_on_device
    def ranges(self, images: np.ndarray) -> pd.DataFrame:
        """Bounds table of :mod:`dnnfi.engines.protection` (site, layer, min, max) of the site outputs on
        ``images`` (the layers' own outputs, before any checker)."""
        self._check_images(images)
        keys = {
            site: self._raw_key(self.graph.steps[step].out_keys[0])
            for site, step in self._site_step.items()
        }
        parts = self._golden_chunks(
            images, {k: lambda v: (float(np.min(v)), float(np.max(v))) for k in keys.values()}
        )
        return merge_ranges(
            [
                pd.DataFrame(
                    [
                        {
                            "site": site,
                            "layer": self.graph.steps[self._site_step[site]].node.operation.name,
                            "min": p[k][0],
                            "max": p[k][1],
                        }
                        for site, k in keys.items()
                    ]
                )
                for p in parts
            ]
        )

    def _raw_key(self, key: int):
        """Key of tensor ``key`` before its protection checker."""
        return (RAW, key) if key in self._limits else key

    def _check_images(self, images: np.ndarray) -> None:
        expected = self.graph.shapes[self.graph.input_keys[0]]
        if tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images have shape {images.shape[1:]} per image: model {self.model.name!r} expects {expected}"
            )

    # -- fault list --------------------------------------------------------------------------

    def capacity(self) -> int:
        """Most rows alive in one walk (faulty rows and riding golden rows): ``batch_size``
        rounded up to whole passes."""
        return self.rows * -(-self.batch_size // self.rows)

    def images_per_block(self) -> int:
        """Images whose golden cache (every tensor of the graph, and protected sites' outputs
        before their checkers) fits in ``cache_mb``; at least one."""
        per_image = self.graph.image_bytes() + sum(self.graph.key_bytes(k) for k in self._limits)
        return max(1, int(self.cache_mb * 2**20) // per_image)

    def run(self, faults: pd.DataFrame, images: np.ndarray, progress: bool = True) -> pd.DataFrame:
        """Evaluate a fault list (see :mod:`dnnfi.faults.lists`) on ``images`` (the whole split, indexed
        by ``faults.image``). Returns the fault list with the columns of
        :func:`dnnfi.faults.outcomes.summarize_logits`, in the fault list's row order."""
        golden, faulty = self.logits(faults, images, progress)
        return pd.concat([faults.reset_index(drop=True), summarize_logits(golden, faulty)], axis=1)

    @_on_device
    def logits(
        self, faults: pd.DataFrame, images: np.ndarray, progress: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Golden and faulty logits per fault row, two float32 arrays of shape (len(faults), classes)."""
        import tensorflow as tf

        self._check_images(images)
        faults = faults.reset_index(drop=True)
        validate_faults(faults, self.sites(), len(images))
        step_of = faults["site"].map(self._site_step).to_numpy(np.int64)
        image = faults["image"].to_numpy(np.int64)
        used = np.unique(image)
        per_block = self.images_per_block()
        out_key = self.graph.output_keys[0]
        shape = (len(faults),) + self.graph.shapes[out_key]
        golden_rows, faulty = np.empty(shape, np.float32), np.empty(shape, np.float32)
        with Progress(total=len(faults), desc="injections", disable=not progress) as bar:
            for b in range(0, len(used), per_block):
                block = used[b : b + per_block]
                pos = np.searchsorted(block, image)
                mine = np.flatnonzero(np.isin(image, block))
                pending = mine[np.argsort(step_of[mine], kind="stable")]
                # the golden cache of the block: filled by the first walk, where its rows ride along
                golden = {
                    self.graph.input_keys[0]: tf.convert_to_tensor(self._input(images[block]))
                }
                survivors = []
                ride = len(block)
                while len(pending):
                    left, alive, logits = self._walk(pending, step_of, pos, faults, golden, ride)
                    survivors.append((alive, logits))
                    bar.update(len(pending) - len(left))
                    pending, ride = left, 0
                golden_logits = _float32(golden[out_key])
                golden_rows[mine] = faulty[mine] = golden_logits[pos[mine]]
                for alive, logits in survivors:
                    faulty[alive] = logits
        return golden_rows, faulty

    # -- the walk ----------------------------------------------------------------------------

    def _walk(self, pending, step_of, pos, faults, golden, ride: int):
        """One walk down the graph admitting the faults ``pending`` (sorted by step) at their
        sites while fewer than :meth:`capacity` rows are alive; with ``ride`` > 0, the golden rows
        of the block's ``ride`` images ride along from the input and fill ``golden``.
        Returns the faults not admitted (sorted), and the ids and faulty logits of the rows still
        alive at the output (every other admitted fault is masked: its logits are the golden ones)."""
        steps = self.graph.steps
        capacity = self.capacity()
        # alive rows: fault id, golden row; per alive key: values (Rows; None = all golden) and diff flags
        alive = np.empty(0, np.int64)
        img = np.empty(0, np.int64)
        vals: dict[int, object] = {}
        diff: dict[int, np.ndarray] = {}
        # per alive key, the riding golden rows' values as their passes hold them
        ridden: dict[int, Rows] = {}
        waiting = []
        p = 0
        s = 0 if ride else step_of[pending[0]]
        while s < len(steps):
            if len(alive) or ride:
                self._compute(steps[s], img, vals, diff, golden, ride, ridden)
            live = self._live_after[s]
            for k in [k for k in vals if k not in live]:
                del vals[k], diff[k]
                ridden.pop(k, None)
            if len(alive):
                keep = (
                    np.logical_or.reduce([diff[k] for k in live])
                    if live
                    else np.zeros(len(alive), bool)
                )
                if not keep.all():
                    idx = np.flatnonzero(keep)
                    alive, img = alive[idx], img[idx]
                    for k in live:
                        diff[k] = diff[k][idx]
                        if vals[k] is not None:
                            vals[k] = vals[k].take(idx)
            q = p + int(np.searchsorted(step_of[pending[p:]], s, side="right"))
            group, p = pending[p:q], q
            while len(group) and len(alive) + ride < capacity:
                room = capacity - len(alive) - ride
                alive, img = self._enter(
                    steps[s], group[:room], alive, img, vals, diff, live, pos, faults, golden
                )
                group = group[room:]
            waiting.append(group)
            if not len(alive) and not ride:
                vals.clear()
                diff.clear()
                if p == len(pending):
                    break
                s = step_of[pending[p]]
                continue
            s += 1
        left = np.concatenate(waiting + [pending[p:]])
        final = vals.get(self.graph.output_keys[0]) if len(alive) else None
        if final is None:
            return (
                left,
                alive[:0],
                np.empty((0,) + self.graph.shapes[self.graph.output_keys[0]], np.float32),
            )
        return left, alive, _float32(final.tensor())

    def _compute(self, step, img, vals, diff, golden, ride: int, ridden: dict) -> None:
        """Run ``step`` on the alive rows whose inputs differ from golden (after the ``ride``
        golden rows, whose outputs go to ``golden``, and, still in their passes, to ``ridden``:
        what the next step reads, so that rows that stay together are not copied); store its
        outputs."""
        n = len(img)
        touched = (
            np.logical_or.reduce([diff[k] for k in step.in_keys])
            if n and step.in_keys
            else np.zeros(n, bool)
        )
        rows = np.flatnonzero(touched)
        if not len(rows) and not ride:
            for k in step.out_keys:
                vals[k], diff[k] = None, np.zeros(n, bool)
            return
        everyone = len(rows) == n
        inputs = []
        for k in step.in_keys:
            v = vals[k] if len(rows) else None
            mine = Rows.of(golden[k], img[rows]) if v is None else v if everyone else v.take(rows)
            inputs.append(ridden.get(k, Rows.of(golden[k])) + mine if ride else mine)
        for k, passes in zip(step.out_keys, self._in_passes(step, inputs)):
            out = Rows([Segment(p) for p in passes])
            if ride:
                own = out.take(np.arange(ride)).copy()  # the cache holds no pass buffer
                if k in self._limits:
                    golden[RAW, k] = own
                golden[k] = self._checked(k, own)
                golden[SUMS, k] = _fingerprints(golden[k])
                if k not in self._limits:
                    ridden[k] = out.take(np.arange(ride))
                out = out.take(np.arange(ride, ride + len(rows)))
            d = np.zeros(n, bool)
            if len(rows):
                if k in self._limits:
                    out = Rows([Segment(self._checked(k, p)) for p in out.pieces(0, len(rows))])
                d[rows] = self._differ(k, out, img[rows], golden)
            diff[k] = d
            if not d.any():
                vals[k] = None
            elif everyone:
                vals[k] = out
            else:  # the rows it ran, the golden ones of the others
                where = len(rows) + np.arange(n)
                where[rows] = np.arange(len(rows))
                vals[k] = (out + Rows.of(golden[k], img)).take(where)

    def _differ(self, key: int, out: Rows, img: np.ndarray, golden) -> np.ndarray:
        """Per row of ``out``, whether it differs from the golden value of tensor ``key`` of image
        ``img``: rows whose fingerprint differs do; the others are compared bit for bit."""
        sums = np.concatenate([_fingerprints(p) for p in out.pieces(0, len(out))])
        differ = sums != golden[SUMS, key][img]
        same = np.flatnonzero(~differ)
        if len(same):
            import tensorflow as tf

            differ[same] = ~_row_equal(out.take(same).tensor(), tf.gather(golden[key], img[same]))
        return differ

    def _enter(self, step, new, alive, img, vals, diff, live, pos, faults, golden):
        """Add the faults ``new`` injected at ``step``'s output; zero-change faults never enter."""
        import tensorflow as tf

        key = step.out_keys[0]
        new_img = pos[new]
        flat = tf.reshape(tf.gather(golden[self._raw_key(key)], new_img), (len(new), -1))

        def gather(row, element):
            return tf.gather_nd(flat, np.stack([row, element], axis=1)).numpy()

        def value_range(rows):
            part = tf.gather(flat, rows)
            return tf.reduce_min(part, 1).numpy(), tf.reduce_max(part, 1).numpy()

        hit_rows, hit_elems, new_vals, changed = corrupt_activations(
            faults.iloc[new], gather, value_range
        )
        enter = np.flatnonzero(changed)
        if not len(enter):
            return alive, img
        keep_hits = np.isin(hit_rows, enter)
        remap = np.full(len(new), -1)
        remap[enter] = np.arange(len(enter))
        idx = np.stack([remap[hit_rows[keep_hits]], hit_elems[keep_hits]], axis=1)
        faulty = tf.tensor_scatter_nd_update(tf.gather(flat, enter), idx, new_vals[keep_hits])
        faulty = self._checked(key, tf.reshape(faulty, (len(enter),) + self.graph.shapes[key]))
        n_old, n_new = len(alive), len(enter)
        new_img = new_img[enter]
        for k in live:
            before = vals.get(k)
            if k == key:
                value, d = Rows.of(faulty), np.ones(n_new, bool)
            elif before is not None:
                value, d = Rows.of(golden[k], new_img), np.zeros(n_new, bool)
            else:
                value, d = None, np.zeros(n_new, bool)
            if value is not None and n_old:
                value = (before if before is not None else Rows.of(golden[k], img)) + value
            vals[k] = value
            diff[k] = np.concatenate([diff[k], d]) if n_old else d
        return np.concatenate([alive, new[enter]]), np.concatenate([img, new_img])


def _fingerprints(t) -> np.ndarray:
    """Per row of ``t``, the sum modulo 2 to the width of its elements' bit patterns (each read as
    an unsigned integer of its width): an integer sum, exact in any order and at any shape, so
    equal rows have equal sums, and unequal sums prove rows differ."""
    import tensorflow as tf

    t = tf.cast(t, tf.uint8) if t.dtype == tf.bool else t
    t = tf.bitcast(t, {1: tf.uint8, 2: tf.uint16, 4: tf.uint32, 8: tf.uint64}[t.dtype.size])
    return tf.reduce_sum(tf.reshape(t, (tf.shape(t)[0], -1)), axis=1).numpy()


def _float32(tensor) -> np.ndarray:
    """Logits widened to float32: exact for float16 and bfloat16 values (docs/semantics.md section 14)."""
    return tensor.numpy().astype(np.float32)


def _is_activation(layer) -> bool:
    """Whether a layer's output is an activation function's (protection.layers: activations):
    activation layers and layers with a fused non-linear ``activation``."""
    import keras

    if isinstance(
        layer, (keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU, keras.layers.PReLU)
    ):
        return True
    activation = getattr(layer, "activation", None)
    return callable(activation) and activation is not keras.activations.linear


def injector_factory(
    model,
    batch_size: int = 256,
    device: dict | None = None,
    pass_rows: dict | None = None,
    cache_mb: float = 1024,
):
    """``make_injector(input_shape_nhwc, protection=None)`` of the :mod:`dnnfi.designs` shard jobs for
    a loaded ``model`` (:func:`dnnfi.engines.runner.loaded_model`) that runs on ``device`` (a rule's
    device params; None: TensorFlow's placement), passes of ``pass_rows`` and a golden cache of
    ``cache_mb`` (:class:`KerasInjector`). The shape is the model's own."""
    setting = device["device"] if device else None
    return lambda shape, protection=None: KerasInjector(
        model,
        batch_size=batch_size,
        cache_mb=cache_mb,
        pass_rows=pass_rows,
        device=setting,
        protection=protection,
    )
