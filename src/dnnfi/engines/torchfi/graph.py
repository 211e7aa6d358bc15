"""torch.fx view of a model for prefix reuse: golden values of every node, and per fault site the
plan of nodes to recompute downstream of it.

Node classes: *batched* values (input-dependent tensors with the batch as first dimension) are
cached by the golden pass and gathered row-wise for a fault batch; every other value (parameters,
sizes, constants, batch-mixing tensors) is recomputed from its arguments when a plan needs it, so
that e.g. ``x.size(0)`` follows the fault batch's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx, nn


class LeafTracer(fx.Tracer):
    """Traces through containers and stops at every module without children (the fault sites) and
    at every module none of whose submodules is a site module. Such a module becomes one opaque
    call that runs its own forward, so no site is hidden and the values are those of the eager
    model, and the control flow inside it (e.g. ``nn.MultiheadAttention`` of vision transformers,
    whose ``out_proj`` is never called as a module) need not be traceable."""

    def __init__(self, site_modules):
        super().__init__()
        self.site_ids = {id(m) for m in site_modules}

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return next(m.children(), None) is None or not any(
            id(s) in self.site_ids for s in m.modules()
        )


@dataclass
class Plan:
    """Downstream work for one fault site."""

    nodes: list  #: nodes to execute, topological order (site excluded)
    checkpoints: (
        set  #: nodes that are then the only live non-constant value: rows equal to golden stop
    )
    last_checkpoint: object  #: the checkpoint nearest the output (None if there is none)
    reaches_output: bool  #: False if the site cannot influence the logits


class Graph:
    """The fx graph of ``model`` with node classes found by probing ``example`` (two rows) and its
    first row; ``site_modules``: the modules whose calls are fault sites (see :class:`LeafTracer`).
    ``example_logits``: the graph's logits of ``example`` (to compare with the model's own)."""

    def __init__(self, model: nn.Module, example: torch.Tensor, site_modules):
        #: node -> function applied to its value wherever it is computed (protection checkers)
        self.after: dict = {}
        tracer = LeafTracer(site_modules)
        graph = tracer.trace(model)
        self.module = fx.GraphModule(tracer.root, graph)
        self.nodes = [n for n in graph.nodes if n.op not in ("placeholder", "output")]
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise TypeError(f"fx path supports one input, the model has {len(placeholders)}")
        self.input = placeholders[0]
        out = next(n for n in graph.nodes if n.op == "output").args[0]
        if not isinstance(out, fx.Node):
            raise TypeError("fx path needs a model returning one logits tensor")
        self.logits = out
        self.modules = dict(self.module.named_modules())
        self.users = {n: [u for u in n.users if u.op != "output"] for n in graph.nodes}
        depends = {self.input}
        for n in self.nodes:
            if any(a in depends for a in n.all_input_nodes):
                depends.add(n)
        #: values that do not depend on the input (parameters, constants): valid for any rows
        self.constant = set(self.nodes) - depends
        # probes of one and two rows (the fewest that tell the batch dimension; a ViT-B row costs
        # a quarter of a second on a CPU)
        env1 = self.execute(example[:1])
        env2 = self.execute(example[:2])
        self.example_logits = env2[self.logits]
        self.batched = {
            n
            for n in self.nodes
            if n in depends
            and isinstance(env2[n], torch.Tensor)
            and env2[n].dim()
            and env1[n].shape[0] == 1
            and env2[n].shape[0] == 2
        }
        self.batched.add(self.input)
        if self.logits not in self.batched:
            raise TypeError("fx path needs logits with the batch as first dimension")
        # nodes returning (a view of) an argument: the golden pass clones their arguments
        self.aliasing = {
            n
            for n in self.nodes
            if isinstance(env2[n], torch.Tensor)
            and any(
                isinstance(env2.get(a), torch.Tensor) and _same_storage(env2[n], env2[a])
                for a in n.all_input_nodes
            )
        }
        #: bytes of one row of each batched value
        self.row_bytes = {n: env1[n].numel() * env1[n].element_size() for n in self.batched}
        self.bytes_per_row = sum(self.row_bytes.values())
        self.position = {n: i for i, n in enumerate(self.nodes)}
        # a value that is not batched (e.g. a size) is computed where a batched node needs it
        needed_at = {}
        for n in reversed(self.nodes):
            later = [needed_at[u] for u in self.users[n]]
            needed_at[n] = self.position[n] if n in self.batched else max(later, default=-1)
        #: per batched node, the position of the last batched node that needs its value
        self.last_use = {
            n: max((needed_at[u] for u in self.users[n]), default=-1) for n in self.batched
        }
        #: per node returning (a view of) an argument, the batched arguments read after it: a walk
        #: gives it copies, since it may have written into them (an in-place ReLU)
        self.clobbered = {
            n: [
                a
                for a in n.all_input_nodes
                if a in self.batched and self.last_use[a] > self.position[n]
            ]
            for n in self.aliasing
        }
        #: most bytes per row of batched values alive at once in one walk over the nodes
        self.live_bytes_per_row = max(
            sum(
                b
                for m, b in self.row_bytes.items()
                if m is not self.input and self.position[m] <= i <= self.last_use[m]
            )
            for i in range(len(self.nodes))
        )
        self._plans: dict = {}

    def run_node(self, node: fx.Node, env: dict):
        """Value of ``node`` from its arguments' values in ``env`` (before ``after[node]``, if any)."""
        args = fx.node.map_arg(node.args, env.__getitem__)
        kwargs = fx.node.map_arg(node.kwargs, env.__getitem__)
        if node.op == "call_module":
            return self.modules[node.target](*args, **kwargs)
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        if node.op == "get_attr":
            value = self.module
            for part in node.target.split("."):
                value = getattr(value, part)
            return value
        raise TypeError(f"unsupported fx node {node.op} {node.target}")

    def execute(
        self, x: torch.Tensor, clone_aliased: bool = False, raw: dict | None = None
    ) -> dict:
        """Golden pass: every node's value for batch ``x``; ``raw`` receives the values of the
        nodes of ``after`` before their function (what a fault there corrupts)."""
        env = {self.input: x}
        for n in self.nodes:
            if clone_aliased and n in self.aliasing:
                local = {
                    a: env[a].clone() if isinstance(env[a], torch.Tensor) else env[a]
                    for a in n.all_input_nodes
                }
                value = self.run_node(n, local)
            else:
                value = self.run_node(n, env)
            if n in self.after:
                if raw is not None:
                    raw[n] = value
                value = self.after[n](value)
            env[n] = value
        return env

    def plan(self, site: fx.Node) -> Plan:
        """Nodes to recompute after ``site`` (cached per site)."""
        if site in self._plans:
            return self._plans[site]
        down = {site}
        for n in self.nodes:
            if any(a in down for a in n.all_input_nodes):
                down.add(n)
        needed = set(down) - {site}
        stack = list(needed)
        while stack:  # non-batched arguments of recomputed nodes are recomputed too
            for a in stack.pop().all_input_nodes:
                if a not in needed and a not in self.batched and a is not self.input:
                    needed.add(a)
                    stack.append(a)
        order = [n for n in self.nodes if n in needed]
        position = {n: i for i, n in enumerate(order)}
        # liveness ignores constants: they stay valid when rows are dropped
        last_use = {
            m: max((position[u] for u in self.users[m] if u in position), default=-1)
            for m in [site, *order]
            if m not in self.constant
        }
        checkpoints, live = set(), {site} if last_use[site] >= 0 else set()
        for i, n in enumerate(order):
            live = {m for m in live if last_use[m] > i}
            if last_use.get(n, -1) > i:
                live.add(n)
            if live == {n} and n in self.batched:
                checkpoints.add(n)
        last = next((n for n in reversed(order) if n in checkpoints), None)
        plan = Plan(order, checkpoints, last, self.logits in down)
        self._plans[site] = plan
        return plan


def _same_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
