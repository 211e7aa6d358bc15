"""Activation fault injection in any PyTorch classifier, with the Keras engine's API.

Fault sites are module calls: every call of a module without children whose output is one float
tensor, in call order; a module called k times (torchvision ResNet's ``relu``) gives sites
``name:0`` .. ``name:k-1``. Each batch row carries one fault.

Fast path (models torch.fx can trace, modules without a fault site inside being opaque calls, see
:class:`dnnfi.engines.torchfi.graph.LeafTracer`): the faults of a chunk of images, sorted by site, walk
through the graph once per capacity (see :class:`_Walk`), the chunk's golden rows riding the
first walk: each fault enters at its site with the golden value there corrupted, and only the
nodes downstream of its site are recomputed, faults of different sites sharing passes, golden
values read where the golden rows computed them. A row whose fault changes no bit, or whose only
live tensor becomes bit-identical to the golden one at a checkpoint, stops there with the golden
logits (outcome ``masked``). Peak memory: the model, one node's values for the rows in flight
and ``cache_mb`` (docs/semantics.md, section 10).
Fallback (not traceable, or ``use_fx=False``): forward hooks edit the site's output and the whole
network runs.
Every pass of either path, golden or faulty, has :func:`dnnfi.engines.devices.pass_rows` rows (padded),
so a fault's logits depend neither on ``batch_size`` nor on the other faults of the list.
With a :class:`dnnfi.engines.protection.Protection`, every computed value of a protected site (golden
rows, downstream recomputation and the corrupted site value itself) passes through its checker;
protection needs the fast path.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch import nn

from dnnfi.engines.protection import Protection, merge_ranges, protect
from dnnfi.engines.torchfi.faultops import (
    bitwise_equal_rows,
    cat_rows,
    corrupt_in_layout,
    format_name,
    row_sums,
    to_numpy,
)
from dnnfi.engines.torchfi.graph import Graph
from dnnfi.engines.torchfi.models import place, rows_for, to_tensor
from dnnfi.faults.lists import validate_faults
from dnnfi.faults.outcomes import summarize_logits
from dnnfi.workflow.runlog import Progress

log = logging.getLogger(__name__)

RAW = "raw"  #: cache key prefix of a protected site's value before its checker


class TorchInjector:
    """Fault sites and fault-list execution for a PyTorch classifier returning logits.

    ``batch_size``: most rows in flight together (a fault's or an image's golden row; rounded up
    to a multiple of ``rows``, and fewer where ``cache_mb`` says so), in passes of ``rows`` rows
    (padded): the fixed batch shape that makes results independent of ``batch_size`` and of the
    fault list (docs/semantics.md). ``input_shape``: one input in the model's layout, e.g.
    (3, 224, 224); needed by :meth:`sites` before any images were seen.
    ``use_fx``: try the prefix-reusing fast path (falls back with a log message if tracing
    fails). ``cache_mb``: memory for golden node values (three quarters; images are processed in
    chunks that fit) and the values of the rows in flight (one quarter).
    ``device``: None runs where the model's parameters are; a ``device`` setting (``auto``,
    ``cpu``, ``cuda``, ``cuda:N``; see :func:`dnnfi.engines.torchfi.models.use_device`) or a torch.device
    moves the model there first. The model is put in eval mode; inputs go to its device and the
    dtype of its parameters. ``pass_rows``: the rows of every pass on a CPU and on a GPU (the
    config key ``pass_rows.torch``; None: :data:`dnnfi.engines.devices.PASS_ROWS`); ``rows`` is the one of
    the model's device. ``protection``: checkers after protected sites (docs/semantics.md,
    section 12), golden passes included.
    """

    def __init__(
        self,
        model: nn.Module,
        batch_size: int = 256,
        input_shape=None,
        use_fx: bool = True,
        cache_mb: float = 2048,
        pass_rows: dict | None = None,
        device: str | torch.device | None = None,
        protection: Protection | None = None,
    ):
        self.device = place(model, device)
        self.rows = rows_for(model, pass_rows)
        if batch_size < 1 or self.rows < 2:
            raise ValueError(
                f"batch_size must be >= 1 and pass rows >= 2, got {batch_size} and {self.rows}"
            )
        self.model = model.eval()
        self.batch_size = batch_size
        self.use_fx = use_fx
        self.cache_bytes = cache_mb * 2**20
        param = next(model.parameters(), None)
        self.dtype = (
            param.dtype if param is not None and param.is_floating_point() else torch.float32
        )
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self._sites: pd.DataFrame | None = None
        self.graph: Graph | None = None
        self.protection = protection

    # ----- setup -----------------------------------------------------------------------------
    def _as_input(self, images) -> torch.Tensor:
        """numpy arrays are NHWC images (the pipeline's layout), tensors are in the model's layout."""
        x = (
            images
            if isinstance(images, torch.Tensor)
            else (
                to_tensor(images) if np.ndim(images) == 4 else torch.from_numpy(np.asarray(images))
            )
        )
        return x.to(self.device, self.dtype)

    def _setup(self, shape=None) -> None:
        if self._sites is not None:
            return
        shape = shape or self.input_shape
        if shape is None:
            raise ValueError(
                "TorchInjector needs input_shape=(C, H, W) (one model input) to list its sites"
            )
        self.input_shape = tuple(shape)
        example = torch.randn(
            (2, *self.input_shape), generator=torch.Generator().manual_seed(0)
        ).to(self.device, self.dtype)
        calls, logits = self._module_calls(example)
        if not calls:
            raise ValueError(
                "the model has no module call with a float tensor output (no fault site)"
            )
        leaf_index = {name: i for i, (name, m) in enumerate(self._leaves())}
        counts = pd.Series([c[0] for c in calls]).value_counts()
        seen: dict[str, int] = {}
        rows = []
        modules = dict(self._leaves())
        for name, out_shape, dtype in calls:
            k = seen[name] = seen.get(name, -1) + 1
            rows.append(
                {
                    "site": name if counts[name] == 1 else f"{name}:{k}",
                    "layer": name,
                    "layer_index": leaf_index[name],
                    "shape": "x".join(map(str, out_shape)),
                    "size": int(np.prod(out_shape)),
                    "dtype": format_name(dtype),
                    "activation": isinstance(modules[name], ACTIVATIONS),
                }
            )
        sites = pd.DataFrame(rows)
        # seed-compatible rule (docs/semantics.md): every layer except the input and the last one
        sites["eligible"] = sites["layer"] != sites["layer"].iloc[-1]
        self._sites = sites
        self._call_of_site = {
            s: (layer, k)
            for s, layer, k in zip(sites["site"], sites["layer"], _call_numbers(sites))
        }
        self._site_of_call = {c: s for s, c in self._call_of_site.items()}
        if self.use_fx:
            self._try_fx(example, logits)
        if self.protection is not None:
            if self.graph is None:
                raise ValueError(
                    "protection needs the torch.fx path (use_fx=True and a model torch.fx can trace)"
                )
            unknown = sorted(set(self.protection.limits) - set(self._site_node))
            if unknown:
                raise ValueError(
                    f"protection names site {unknown[0]}, which the model does not have"
                )
            self.graph.after = {
                self._site_node[s]: self._checker(s) for s in self.protection.limits
            }

    def _checker(self, site: str):
        """The protection op of ``site`` as a function of a tensor."""
        lo, hi = self.protection.limits[site]
        constants = {}  # (lo, hi, 0) per dtype and device

        def check(x: torch.Tensor) -> torch.Tensor:
            key = (x.dtype, x.device)
            if key not in constants:
                constants[key] = [
                    torch.tensor(v, dtype=x.dtype, device=x.device) for v in (lo, hi, 0)
                ]
            return protect(x, *constants[key], self.protection.method, torch.where)

        return check

    def _leaves(self):
        return [
            (name or type(m).__name__, m)
            for name, m in self.model.named_modules()
            if next(m.children(), None) is None
        ]

    @torch.no_grad()
    def _module_calls(
        self, x: torch.Tensor
    ) -> tuple[list[tuple[str, tuple, torch.dtype]], torch.Tensor]:
        """(module name, output shape of one row, dtype) of every leaf call with a float tensor
        output, and the model's logits of ``x``."""
        calls = []

        def record(name):
            def hook(module, args, output):
                if (
                    isinstance(output, torch.Tensor)
                    and output.is_floating_point()
                    and output.dim()
                    and len(output) == len(x)
                ):
                    calls.append((name, tuple(output.shape[1:]), output.dtype))

            return hook

        handles = [m.register_forward_hook(record(name)) for name, m in self._leaves()]
        try:
            out = self.model(x)
        finally:
            for h in handles:
                h.remove()
        if not isinstance(out, torch.Tensor) or out.dim() != 2:
            raise TypeError(
                f"the model must return one logits tensor (batch, classes), got {type(out).__name__}"
            )
        self._classes = out.shape[1]
        return calls, out

    def _try_fx(self, example: torch.Tensor, logits: torch.Tensor) -> None:
        """Use the fast path if torch.fx traces the model into a graph that gives the model's
        ``logits`` of ``example`` and calls the site modules as the model does."""
        try:
            with torch.no_grad():
                modules = dict(self._leaves())
                graph = Graph(
                    self.model, example, [modules[layer] for layer in set(self._sites["layer"])]
                )
                same = torch.equal(graph.example_logits, logits)
        except Exception as err:  # noqa: BLE001 - any tracing failure means: use the fallback
            log.info(
                "torch.fx path unavailable (%s: %s); using full forward passes",
                type(err).__name__,
                err,
            )
            return
        by_call, count = {}, {}
        for n in graph.nodes:
            if n.op == "call_module":
                by_call[(n.target, count.get(n.target, 0))] = n
                count[n.target] = count.get(n.target, 0) + 1
        # each site module's calls must be graph nodes one to one with its site calls (none hidden in
        # an opaque module, none that the hooks path does not count as a site)
        if any(
            count.get(layer, 0) != k for layer, k in self._sites["layer"].value_counts().items()
        ):
            log.info(
                "torch.fx graph calls the site modules otherwise than the model; using full forward passes"
            )
            return
        site_nodes = {s: by_call[c] for s, c in self._call_of_site.items()}
        if not same or any(n not in graph.batched for n in site_nodes.values()):
            log.info(
                "torch.fx graph does not reproduce the model row by row; using full forward passes"
            )
            return
        self.graph, self._site_node = graph, site_nodes

    # ----- public API ------------------------------------------------------------------------
    def sites(self) -> pd.DataFrame:
        """One row per module call: ``site``, ``layer`` (module name), ``layer_index`` (among the
        modules without children), ``shape`` (one image), ``size`` (elements per image), ``dtype``
        and ``eligible`` (seed-compatible rule: every call except those of the last module)."""
        self._setup()
        return self._sites.copy()

    @torch.no_grad()
    def ranges(self, images) -> pd.DataFrame:
        """Bounds table of :mod:`dnnfi.engines.protection` (site, layer, min, max) of the model's own
        (unprotected) site values on ``images``."""
        x = self._as_input(images)
        self._setup(tuple(x.shape[1:]))
        parts, calls = [], {}

        def record(name):
            def hook(module, args, output):
                k = calls[name] = calls.get(name, -1) + 1
                site = self._site_of_call.get((name, k))
                if site is not None:  # padding rows copy a real row: they change no bound
                    parts.append(
                        {
                            "site": site,
                            "layer": name,
                            "min": output.amin().item(),
                            "max": output.amax().item(),
                        }
                    )

            return hook

        handles = [m.register_forward_hook(record(name)) for name, m in self._leaves()]
        try:
            for i in range(0, len(x), self.rows):
                calls.clear()
                self._padded_forward(x[i : i + self.rows])
        finally:
            for h in handles:
                h.remove()
        return merge_ranges([pd.DataFrame(parts)])

    @property
    def fast(self) -> bool:
        """True when the prefix-reusing torch.fx path is used."""
        self._setup()
        return self.graph is not None

    @torch.no_grad()
    def golden_logits(self, images) -> np.ndarray:
        """Fault-free logits of ``images`` through the injector's own path, shape (n, classes)."""
        x = self._as_input(images)
        self._setup(tuple(x.shape[1:]))
        if self.graph is not None:
            return (
                torch.cat(
                    [
                        self._golden_pass(x[i : i + self.rows])[self.graph.logits]
                        for i in range(0, len(x), self.rows)
                    ]
                )
                .float()
                .cpu()
                .numpy()
            )
        return (
            torch.cat(
                [self._padded_forward(x[i : i + self.rows]) for i in range(0, len(x), self.rows)]
            )
            .float()
            .cpu()
            .numpy()
        )

    @torch.no_grad()
    def golden_site_values(self, images, sites) -> dict[str, np.ndarray]:
        """Fault-free output of each of ``sites`` for ``images``: site -> numpy array (images,
        elements per image) in the site's format, from the same passes the engine corrupts
        (before any checker; what data-aware strata count, :mod:`dnnfi.designs.strata`)."""
        x = self._as_input(images)
        self._setup(tuple(x.shape[1:]))
        parts: dict[str, list] = {s: [] for s in sites}
        nodes = {s: self._site_node[s] for s in sites} if self.graph is not None else {}
        for i in range(0, len(x), self.rows):
            if self.graph is not None:
                env = self._golden_pass(x[i : i + self.rows])
                values = {s: env.get((RAW, n), env[n]) for s, n in nodes.items()}
            else:
                values = self._hooked_outputs(x[i : i + self.rows], sites)
            for s in sites:
                parts[s].append(to_numpy(values[s].reshape(len(values[s]), -1)))
        return {s: np.concatenate(v) for s, v in parts.items()}

    def _hooked_outputs(self, x: torch.Tensor, sites) -> dict[str, torch.Tensor]:
        """Outputs of ``sites`` in one padded forward pass (the fallback path's golden values)."""
        wanted = {self._call_of_site[s]: s for s in sites}
        out, calls = {}, {}

        def hook(module, args, output, name):
            k = calls[name] = calls.get(name, -1) + 1
            if (name, k) in wanted:
                out[wanted[(name, k)]] = output[: len(x)].clone()

        modules = dict(self._leaves())
        handles = [
            modules[layer].register_forward_hook(lambda m, a, o, name=layer: hook(m, a, o, name))
            for layer in {c[0] for c in wanted}
        ]
        try:
            self._padded_forward(x)
        finally:
            for h in handles:
                h.remove()
        return out

    def run(self, faults: pd.DataFrame, images, progress: bool = True) -> pd.DataFrame:
        """Evaluate a fault list (the contract of :mod:`dnnfi.faults.lists`, multi-element and multi-bit
        faults included) on ``images`` (the whole split, indexed by ``faults.image``). Returns the
        fault list with the columns of :func:`dnnfi.faults.outcomes.summarize_logits`, in its row order."""
        golden, faulty = self.logits(faults, images, progress)
        return pd.concat([faults.reset_index(drop=True), summarize_logits(golden, faulty)], axis=1)

    @torch.no_grad()
    def logits(
        self, faults: pd.DataFrame, images, progress: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Golden and faulty logits per fault row, two float32 arrays of shape (len(faults), classes)."""
        x = self._as_input(images)
        self._setup(tuple(x.shape[1:]))
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"images of shape {tuple(x.shape[1:])}, the injector was set up for {self.input_shape}"
            )
        faults = faults.reset_index(drop=True)
        validate_faults(faults, self._sites, len(x))
        golden = np.zeros((len(faults), self._classes), dtype=np.float32)
        faulty = golden.copy()
        bar = Progress(total=len(faults), desc="injections", disable=not progress)
        runner = self._run_fx if self.graph is not None else self._run_hooks
        for rows, g, f in runner(faults, x) if len(faults) else ():
            golden[rows], faulty[rows] = g, f
            bar.update(len(rows))
        bar.close()
        return golden, faulty

    # ----- fast path -------------------------------------------------------------------------
    def _pad(self, index: torch.Tensor) -> torch.Tensor:
        """``index`` padded to ``rows`` entries with copies of its first (the fixed pass shape)."""
        return (
            torch.cat([index, index[:1].expand(self.rows - len(index))])
            if len(index) < self.rows
            else index
        )

    def _golden_pass(self, x: torch.Tensor) -> dict:
        """Values of the batched nodes for at most ``rows`` images, computed as one full pass;
        protected sites' values before their checker under the key (RAW, node)."""
        n = len(x)
        raw = {}
        env = self.graph.execute(
            x[self._pad(torch.arange(n, device=self.device))], clone_aliased=True, raw=raw
        )
        return {node: env[node][:n] for node in self.graph.batched} | {
            (RAW, node): v[:n] for node, v in raw.items()
        }

    def _chunks(self, images: np.ndarray):
        """Groups of image indices whose golden node values fit in three quarters of ``cache_mb``
        (the last quarter holds the values of the rows in flight, :meth:`_capacity`), at most a
        capacity of images (their golden rows ride the first walk)."""
        per_chunk = max(1, int(0.75 * self.cache_bytes // max(self.graph.bytes_per_row, 1)))
        per_chunk = min(per_chunk, self._capacity())
        return [images[i : i + per_chunk] for i in range(0, len(images), per_chunk)]

    def _capacity(self) -> int:
        """Most rows in flight in one walk (faults and riding golden rows): a multiple of ``rows``,
        at most ``batch_size`` rounded up to one, whose live values fit in a quarter of
        ``cache_mb`` (at least one pass)."""
        passes = int(0.25 * self.cache_bytes // (self.rows * max(self.graph.live_bytes_per_row, 1)))
        return self.rows * min(max(passes, 1), -(-self.batch_size // self.rows))

    def _site_tables(self):
        """Per batched node, boolean arrays over node positions and one more column, the input's
        (where the golden rows enter): which rows it recomputes (``down``) and where it is a
        checkpoint of their plan (``check``); per column whether a fault there reaches the logits
        (``reach``)."""
        graph, n = self.graph, len(self.graph.nodes)
        down, check = ({m: np.zeros(n + 1, bool) for m in graph.batched} for _ in range(2))
        reach = np.zeros(n + 1, bool)
        for node in set(self._site_node.values()):
            plan, i = graph.plan(node), graph.position[node]
            reach[i] = plan.reaches_output
            for m in plan.nodes:
                if m in graph.batched:
                    down[m][i] = True
            for m in plan.checkpoints:
                check[m][i] = True
        for m in graph.batched:  # every batched value depends on the input
            down[m][n] = True
        return down, check, reach

    def _run_fx(self, faults: pd.DataFrame, x: torch.Tensor):
        """Yields (fault rows, golden logits, faulty logits) per walk over the graph."""
        graph = self.graph
        if not hasattr(self, "_tables"):
            self._tables = self._site_tables()
        image = faults["image"].to_numpy()
        site_position = (
            faults["site"]
            .map({s: graph.position[n] for s, n in self._site_node.items()})
            .to_numpy()
        )
        for chunk in self._chunks(np.unique(image)):
            in_chunk = np.flatnonzero(np.isin(image, chunk))
            waiting = in_chunk[np.argsort(site_position[in_chunk], kind="stable")]
            walk = _Walk(
                self,
                faults,
                np.searchsorted(chunk, image),
                site_position,
                x[torch.as_tensor(chunk, device=self.device)],
            )
            ride = True  # the chunk's golden rows ride its first walk
            while len(waiting):
                waiting = yield from walk.run(waiting, ride)
                ride = False

    # ----- fallback --------------------------------------------------------------------------
    def _padded_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x[self._pad(torch.arange(len(x), device=self.device))])[: len(x)]

    def _run_hooks(self, faults: pd.DataFrame, x: torch.Tensor):
        image = faults["image"].to_numpy()
        used = np.unique(image)
        golden = dict(zip(used, self.golden_logits(x[torch.as_tensor(used, device=self.device)])))
        modules = dict(self._leaves())
        for start in range(0, len(faults), self.rows):  # one fault per row of a full pass
            rows = np.arange(start, min(start + self.rows, len(faults)))
            batch_sites = faults["site"].to_numpy()[rows]
            by_call: dict[tuple, np.ndarray] = {}
            for s in np.unique(batch_sites):
                by_call[self._call_of_site[s]] = np.flatnonzero(batch_sites == s)
            changed = np.zeros(len(rows), dtype=bool)
            calls: dict[str, int] = {}

            def hook(module, args, output, name):
                k = calls[name] = calls.get(name, -1) + 1
                local = by_call.get((name, k))
                if local is None:
                    return output
                if (
                    not output.is_contiguous()
                ):  # a view (e.g. a permute): edit a copy in the same layout
                    output = torch.empty_like(output).copy_(output)
                changed[local] = corrupt_in_layout(output, faults.iloc[rows[local]], local)
                return output

            handles = [
                modules[layer].register_forward_hook(
                    lambda m, a, o, name=layer: hook(m, a, o, name)
                )
                for layer in {c[0] for c in by_call}
            ]
            try:
                logits = self._padded_forward(x[torch.as_tensor(image[rows], device=self.device)])
            finally:
                for h in handles:
                    h.remove()
            g = np.stack([golden[i] for i in image[rows]])
            f = _numpy(logits)
            f[~changed] = g[~changed]  # a fault that changed no bit is masked by definition
            yield rows, g, f


class _Held:
    """Values of one node for some faults, in blocks (ids, tensor, padded ids): row i of the tensor
    is fault ``ids[i]``'s value. A block is a computed pass (padding rows after the ids) or the
    faults that entered at this site."""

    def __init__(self):
        self.blocks: list[tuple[np.ndarray, torch.Tensor, np.ndarray]] = []
        self._index = None

    def add(self, ids: np.ndarray, value: torch.Tensor, padded: np.ndarray | None = None) -> None:
        self.blocks.append((ids, value, ids if padded is None else padded))
        self._index = None

    def pass_value(self, p: int, ids: np.ndarray) -> torch.Tensor | None:
        """Block ``p`` if it is the pass of exactly the (padded) faults ``ids``."""
        if (
            p < len(self.blocks)
            and len(self.blocks[p][2]) == len(ids)
            and np.array_equal(self.blocks[p][2], ids)
        ):
            return self.blocks[p][1]
        return None

    def find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Block and row of each of ``ids``, and whether it is held."""
        if self._index is None:
            held = np.concatenate([b[0] for b in self.blocks])
            block = np.concatenate([np.full(len(b[0]), k) for k, b in enumerate(self.blocks)])
            row = np.concatenate([np.arange(len(b[0])) for b in self.blocks])
            sorter = np.argsort(held, kind="stable")
            self._index = held[sorter], block[sorter], row[sorter]
        held, block, row = self._index
        at = np.searchsorted(held, ids).clip(max=len(held) - 1)
        return block[at], row[at], held[at] == ids

    def take(
        self, ids: np.ndarray, golden: torch.Tensor | None = None, slots: np.ndarray | None = None
    ) -> torch.Tensor:
        """The values of ``ids`` in one fresh tensor, in the layout of the blocks (the golden cache
        is filled so: a fault entering there corrupts a value in the model's layout): a held row's
        from its block, any other's from ``golden`` (its row ``slots[i]``). One gather, after one
        concatenation where the rows come from several blocks (a pass's rows or a whole node's)."""
        block, row, hit = self.find(ids)
        device = self.blocks[0][1].device
        if not hit.any():
            return golden[torch.as_tensor(slots, device=device)]
        used = np.unique(block[hit])
        if hit.all() and len(used) == 1:
            return self.blocks[used[0]][1][torch.as_tensor(row, device=device)]
        parts = [self.blocks[k][1] for k in used]
        start = np.zeros(len(self.blocks), np.int64)
        start[used] = np.cumsum([0] + [len(v) for v in parts[:-1]])
        at = start[block] + row
        if not hit.all():
            at = np.where(hit, at, sum(len(v) for v in parts) + slots)
            parts.append(golden)
        return cat_rows(parts)[torch.as_tensor(at, device=device)]


class _Walk:
    """The faults of one chunk of images, walked through the graph's nodes in topological order.

    A fault enters at its site: the site's golden value, corrupted (and passed through the site's
    checker). At each batched node, every row in flight whose site it is downstream of is
    recomputed, rows of different sites sharing passes of ``rows`` rows (the last one padded with
    copies of its first row); an argument is the row's own value where its fault changed it, the
    golden value elsewhere. At a checkpoint of its site's plan, a fault whose value equals the
    golden one leaves with the golden logits (early masking); the others are repacked into full
    passes at the next node. At most :meth:`TorchInjector._capacity` rows are in flight; a fault
    whose site comes while the walk is full waits for the next walk.

    The golden rows of the chunk's images ride the first walk from the input, in the same passes
    (they are rows ``len(faults)`` on, of the input's column of the site tables), and give every
    node's golden value as the walk reaches it: no pass of their own, no padding of their own.
    Values of later walks come from the cache they fill; when the first walk takes every fault of
    the chunk, a golden value is dropped after its last use instead. At one fixed pass shape a
    row's values depend only on that row's inputs, so none of this changes a fault's logits.
    """

    def __init__(
        self,
        injector: TorchInjector,
        faults: pd.DataFrame,
        slot: np.ndarray,
        site_position: np.ndarray,
        images: torch.Tensor,
    ):
        self.faults, self.graph, self.rows, self.device = (
            faults,
            injector.graph,
            injector.rows,
            injector.device,
        )
        self.down, self.check, self.reach = injector._tables
        self.capacity = injector._capacity()
        self.golden_ids = len(faults) + np.arange(len(images))
        self.slot = np.concatenate([slot, np.arange(len(images))])
        self.site_position = np.concatenate(
            [site_position, np.full(len(images), len(self.graph.nodes))]
        )
        self.cache: dict = {self.graph.input: images}
        #: per checkpoint node, the golden rows' :func:`row_sums` (numpy; kept for the chunk: they are small)
        self.sums: dict = {}
        self.constants: dict = {}

    def golden(self, faults: np.ndarray) -> np.ndarray:
        return _numpy(self.cache[self.graph.logits][self._slots(faults)])

    def _slots(self, faults: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.slot[faults], device=self.device)

    def _needed_until(self, key) -> float:
        """Position of the last node that reads the golden value ``key`` (a node, or (RAW, node):
        what its faults corrupt); the logits are read at the end."""
        graph = self.graph
        if isinstance(key, tuple):
            return graph.position[key[1]]
        if key is graph.logits:
            return np.inf
        return max(graph.last_use[key], graph.position.get(key, -1))

    def run(self, waiting: np.ndarray, ride: bool):
        """One walk (with the golden rows riding if ``ride``): yields (fault rows, golden logits,
        faulty logits) of the faults it finishes; returns the faults left waiting (``waiting`` is
        sorted by site position)."""
        graph, cache = self.graph, self.cache
        flight = (
            self.golden_ids if ride else np.empty(0, np.int64)
        )  # rows in flight, in the order they entered
        # a later walk reads the golden values from the cache; a lone walk drops each after its last use
        keep = not ride or len(flight) + len(waiting) > self.capacity
        held: dict = {}
        left, masked, next_waiting = [], [], 0
        survivors, faulty = np.empty(0, np.int64), None
        waiting_position = self.site_position[waiting]
        # a masked row stays in its passes (computed as padding would be: no pass regathered) until
        # dropping the masked rows saves a pass or makes room for faults entering
        dead = np.zeros(len(self.slot), bool)
        for i, node in enumerate(graph.nodes):
            if node not in graph.batched:
                continue  # computed per pass where a batched node needs it
            todo = flight[self.down[node][self.site_position[flight]]]
            if len(todo):
                held[node], raw = self._compute(node, todo, held)
                if ride:
                    cache[node] = held[node].take(self.golden_ids)
                    if raw is not None:
                        cache[RAW, node] = raw.take(self.golden_ids)
                    if self.check[node].any():
                        self.sums[node] = row_sums(cache[node]).cpu().numpy()
                same = self._masked(node, held[node], dead)
                masked.append(same)
                dead[same] = True
            end = int(np.searchsorted(waiting_position, i, side="right"))
            alive = flight[~dead[flight]]
            wanted = (
                len(flight) + end - next_waiting
            )  # rows in flight if all faults waiting here enter
            passes_alive = -(-(wanted - len(flight) + len(alive)) // self.rows)
            if len(alive) < len(flight) and (
                wanted > self.capacity or passes_alive < -(-wanted // self.rows)
            ):
                flight = alive
            room = next_waiting + max(self.capacity - len(flight), 0)
            enter = waiting[
                next_waiting : min(room, end)
            ]  # faults at this site enter while there is room
            left.append(waiting[min(room, end) : end])
            next_waiting = end
            if len(enter):
                value = cache[(RAW, node) if node in graph.after else node][self._slots(enter)]
                changed = corrupt_in_layout(value, self.faults.iloc[enter], np.arange(len(enter)))
                if node in graph.after:
                    value = graph.after[node](
                        value
                    )  # the faulty layer output passes through its checker
                reach = changed & self.reach[i]
                masked.append(
                    enter[~reach]
                )  # a fault that changes no bit (or cannot reach the logits)
                enter, value = enter[reach], value[torch.as_tensor(reach, device=self.device)]
                if len(enter):
                    held.setdefault(node, _Held()).add(enter, value)
                    flight = np.concatenate([flight, enter])
            if node is graph.logits:
                survivors = flight[(flight < len(self.faults)) & ~dead[flight]]
                if len(survivors):
                    faulty = _numpy(held[node].take(survivors))
                flight = flight[:0]
            for m in [m for m in held if graph.last_use[m] <= i]:
                del held[m]
            if not keep:
                for key in [k for k in cache if self._needed_until(k) <= i]:
                    del cache[key]
        masked = np.concatenate(masked) if masked else survivors[:0]
        if len(masked):
            yield masked, self.golden(masked), self.golden(masked)
        if len(survivors):
            yield survivors, self.golden(survivors), faulty
        return np.concatenate([*left, waiting[next_waiting:]])

    def _masked(self, node, held: _Held, dead: np.ndarray) -> np.ndarray:
        """The faults held at ``node`` and not ``dead`` whose value has the golden bits there, among
        those for which ``node`` is a checkpoint: the rows whose :func:`row_sums` are the golden
        rows' (one pass over the values, no golden rows gathered), then compared bit for bit."""
        same = []
        for ids, value, _ in held.blocks:
            check = self.check[node][self.site_position[ids]] & ~dead[ids]
            if check.any():
                sums = row_sums(value[: len(ids)]).cpu().numpy() == self.sums[node][self.slot[ids]]
                rows = np.flatnonzero(check & sums)
                if len(rows):
                    at = torch.as_tensor(rows, device=self.device)
                    equal = (
                        bitwise_equal_rows(value[at], self.cache[node][self._slots(ids[rows])])
                        .cpu()
                        .numpy()
                    )
                    same.append(ids[rows[equal]])
        return np.concatenate(same) if same else np.empty(0, np.int64)

    def _compute(self, node, todo: np.ndarray, held: dict) -> tuple[_Held, _Held | None]:
        """``node``'s values for the rows ``todo``, in passes of ``rows`` rows; for a node with a
        checker, also its values before the checker (else None)."""
        graph = self.graph
        out, raw = _Held(), _Held() if node in graph.after else None
        passes = [todo[p : p + self.rows] for p in range(0, len(todo), self.rows)]
        padded = [np.concatenate([ids, ids[:1].repeat(self.rows - len(ids))]) for ids in passes]
        args: dict = {}  # batched argument -> its value per pass
        for p, ids in enumerate(passes):
            env: dict = {}
            for a in node.all_input_nodes:
                self._resolve(a, padded, p, held, env, args)
            for a in graph.clobbered.get(node, ()):
                env[a] = env[a].clone()
            value = graph.run_node(node, env)
            if raw is not None:
                raw.add(ids, value, padded[p])
                value = graph.after[node](value)
            out.add(ids, value, padded[p])
        return out, raw

    def _resolve(self, a, padded: list, p: int, held: dict, env: dict, args: dict):
        """Value of ``a`` for pass ``p`` of the passes of rows ``padded``, into ``env``."""
        if a in env:
            return env[a]
        graph = self.graph
        if a in graph.constant:
            if a not in self.constants:
                self.constants[a] = graph.run_node(
                    a, {b: self._resolve(b, padded, p, held, env, args) for b in a.all_input_nodes}
                )
            value = self.constants[a]
        elif a in graph.batched:
            if a not in args:
                args[a] = self._passes_of(a, padded, held)
            value = args[a][p]
        else:  # input-dependent but not batched (e.g. a size): recomputed from this pass's values
            value = graph.run_node(
                a, {b: self._resolve(b, padded, p, held, env, args) for b in a.all_input_nodes}
            )
        env[a] = value
        return value

    def _passes_of(self, a, padded: list, held: dict) -> list:
        """Values of the batched node ``a`` for the passes of rows ``padded``: a pass computed for
        the same rows as it is; the other passes' rows gathered together, the held rows' own
        values and the golden ones of the others, and split into passes."""
        h = held.get(a)
        values = [h.pass_value(p, ids) if h is not None else None for p, ids in enumerate(padded)]
        missing = [p for p, v in enumerate(values) if v is None]
        if missing:
            ids = np.concatenate([padded[p] for p in missing])
            if h is None:
                dense = self.cache[a][self._slots(ids)]
            else:
                dense = h.take(ids, self.cache.get(a), self.slot[ids])
            parts = dense.split(self.rows)
            if (self.rows * dense.stride(0) * dense.element_size()) % 64:
                parts = [
                    v.clone() for v in parts
                ]  # each pass where a fresh tensor would be: 64-byte aligned
            for p, v in zip(missing, parts):
                values[p] = v
        return values


#: module types whose output is an activation function's (protection.layers: activations)
ACTIVATIONS = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
)


def _call_numbers(sites: pd.DataFrame) -> list[int]:
    return sites.groupby("layer").cumcount().tolist()


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.float().cpu().numpy()


def injector_factory(
    model: nn.Module,
    batch_size: int = 256,
    device: dict | None = None,
    pass_rows: dict | None = None,
    cache_mb: float = 1024,
):
    """``make_injector(input_shape_nhwc, protection=None)`` of the :mod:`dnnfi.designs` shard jobs for
    a loaded ``model`` (:func:`dnnfi.engines.runner.loaded_model`, which moved it to ``device``:
    the injector runs where its parameters are), passes of ``pass_rows`` and a golden cache of
    ``cache_mb`` (:class:`TorchInjector`)."""

    def make(shape, protection: Protection | None = None) -> TorchInjector:
        height, width, channels = shape
        return TorchInjector(
            model,
            batch_size,
            input_shape=(channels, height, width),
            cache_mb=cache_mb,
            pass_rows=pass_rows,
            protection=protection,
        )

    return make
