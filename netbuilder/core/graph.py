"""The graph model: nodes, edges and groups, with validation and events.

A :class:`Graph` is the single source of truth of the editor. Node ids are unique across
the whole document (a root graph and every group body nested in it), so views, analysis
and commands address any node by id alone. Node names are unique within one graph level:
they become ``torch.nn`` module names.

The ``_insert_*``/``_delete_*`` primitives change the model without validation and report
where things were, so that :mod:`netbuilder.core.commands` can undo exactly. Everything
else validates first and raises a typed :class:`~netbuilder.core.errors.GraphError`
without changing anything.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from netbuilder.core import builder
from netbuilder.core.errors import (
    CycleError,
    DuplicateEdgeError,
    DuplicateNameError,
    GraphError,
    InvalidNameError,
    PortOccupiedError,
    UnknownNodeError,
    UnknownPortError,
)
from netbuilder.core.events import Event, EventHub
from netbuilder.core.names import NameIndex
from netbuilder.core.registry import BlockRegistry, default_registry
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT, BlockSpec, PortSpec

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
#: Largest distance of a node from the canvas origin along each axis (files refuse more).
MAX_COORDINATE = 1e9


def check_position(pos: tuple[float, float], node_id: str | None = None) -> tuple[float, float]:
    """``pos`` as two floats.

    Raises:
        GraphError: when a coordinate is not a number within ±:data:`MAX_COORDINATE`.
    """
    x, y = float(pos[0]), float(pos[1])
    if not (-MAX_COORDINATE <= x <= MAX_COORDINATE and -MAX_COORDINATE <= y <= MAX_COORDINATE):
        raise GraphError(f"position ({x:g}, {y:g}) is off the canvas (at most "
                         f"{MAX_COORDINATE:.0e} from the origin)", (node_id,) if node_id else ())
    return x, y

#: Attribute names of ``torch.nn.Module`` (and of the compiled module) a node cannot take,
#: because node names become submodule attributes. Names starting with "_" are refused
#: too. The compiler re-checks against the installed torch.
RESERVED_NAMES = frozenset("""
    T_destination add_module apply bfloat16 buffers call_super_init children compile cpu
    cuda double dump_patches eval extra_repr float forward frozen_modules get_buffer
    get_extra_state get_parameter get_submodule half input_shapes ipu load_state_dict
    modules mtia named_buffers named_children named_modules named_parameters node_module
    node_modules output_shapes parameters qualified_name register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
    register_parameter register_state_dict_post_hook register_state_dict_pre_hook
    requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train
    training type xpu zero_grad
""".split())


@dataclass(frozen=True)
class Edge:
    """A wire from an output port of ``source`` to an input port of ``target``."""

    source: str
    target: str
    source_port: str = "out"
    target_port: str = "in"


@dataclass(eq=False)
class Node:
    """A block instance.

    Attributes:
        id: Stable identifier, unique in the document.
        type: Block registry key.
        name: Display and module name, unique within its graph.
        params: Parameters set explicitly (validated); the rest take their defaults.
        pos: Top-left position on the canvas.
        frozen: Excluded from training (transfer learning).
        init: Weight initialisation override, e.g. ``{"scheme": "normal", "std": 0.01}``.
        body: The subgraph of a group node, else ``None``.
        collapsed: Whether a group is drawn as one box.
        resolved: Every parameter, defaults included (kept up to date by the graph).
    """

    id: str
    type: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)
    frozen: bool = False
    init: dict[str, Any] | None = None
    body: Graph | None = None
    collapsed: bool = True
    resolved: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_group(self) -> bool:
        """Whether the node has a body."""
        return self.body is not None


def _as_step(step: tuple[Any, ...] | str) -> builder.Step:
    """``"relu"`` or ``("relu",)`` or ``("relu", "act")`` → ``("relu", name or None, params)``."""
    if isinstance(step, str):
        return step, None, {}
    block_type, name, params = (*step, None, None)[:3]
    return block_type, name, params or {}


def _copy_node(node: Node) -> Node:
    """A copy of ``node`` sharing nothing mutable (its body copied too, same ids)."""
    return dataclasses.replace(
        node, params=dict(node.params), init=copy.deepcopy(node.init),
        body=None if node.body is None else node.body.copy(), resolved=dict(node.resolved))


class Graph:
    """A directed acyclic graph of blocks; a group's body is a nested ``Graph``."""

    def __init__(self, registry: BlockRegistry | None = None) -> None:
        self.registry = registry if registry is not None else default_registry()
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self.owner: Node | None = None
        self.parent: Graph | None = None
        self.events = EventHub()
        self._index: dict[str, tuple[Graph, Node]] = {}
        self._counter = 0
        self._structure_version = 0
        self._adjacency: tuple[int, dict[str, list[Edge]], dict[str, list[Edge]]] | None = None
        self._order: tuple[int, list[str]] | None = None
        self._names: NameIndex | None = None

    # -- navigation ---------------------------------------------------------------
    @property
    def root(self) -> Graph:
        """The outermost graph of the document."""
        graph = self
        while graph.parent is not None:
            graph = graph.parent
        return graph

    def spec(self, node: Node | str) -> BlockSpec:
        """The block spec of ``node``."""
        node = self.node(node) if isinstance(node, str) else node
        return self.registry.get(node.type)

    def node(self, node_id: str) -> Node:
        """The node ``node_id`` of this graph level.

        Raises:
            UnknownNodeError: when this graph has no such node.
        """
        try:
            return self.nodes[node_id]
        except KeyError:
            raise UnknownNodeError(f"no node {node_id!r} in this graph", (node_id,)) from None

    def find(self, node_id: str) -> tuple[Graph, Node]:
        """The graph (at any depth) holding ``node_id``, and the node.

        Raises:
            UnknownNodeError: when the document has no such node.
        """
        try:
            return self.root._index[node_id]
        except KeyError:
            raise UnknownNodeError(f"no node {node_id!r}", (node_id,)) from None

    def by_name(self, name: str) -> Node:
        """The node of this graph level called ``name``."""
        for node in self.nodes.values():
            if node.name == name:
                return node
        raise UnknownNodeError(f"no node named {name!r}", ())

    def walk(self) -> Iterator[tuple[Graph, Node]]:
        """Every node of the document below this graph, depth first, parents first."""
        for node in self.nodes.values():
            yield self, node
            if node.body is not None:
                yield from node.body.walk()

    def path(self) -> tuple[str, ...]:
        """Names of the groups from the root down to this graph."""
        names: list[str] = []
        graph: Graph | None = self
        while graph is not None and graph.owner is not None:
            names.append(graph.owner.name)
            graph = graph.parent
        return tuple(reversed(names))

    # -- ports and adjacency ---------------------------------------------------------
    def input_ports(self, node: Node) -> tuple[PortSpec, ...]:
        """Input ports: a group's are its body's ``group_input`` nodes, by name."""
        if node.body is not None:
            return tuple(PortSpec(n.name) for n in node.body.nodes.values()
                         if n.type == GROUP_INPUT)
        return self.spec(node).inputs

    def output_ports(self, node: Node) -> tuple[str, ...]:
        """Output port names: a group's are its body's ``group_output`` node names, a
        block's follow from its parameters (:meth:`BlockSpec.output_ports`)."""
        if node.body is not None:
            return tuple(n.name for n in node.body.nodes.values() if n.type == GROUP_OUTPUT)
        return self.spec(node).output_ports(node.resolved)

    def _adj(self) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
        cached = self._adjacency
        if cached is not None and cached[0] == self._structure_version:
            return cached[1], cached[2]
        incoming: dict[str, list[Edge]] = {nid: [] for nid in self.nodes}
        outgoing: dict[str, list[Edge]] = {nid: [] for nid in self.nodes}
        for edge in self.edges:
            incoming[edge.target].append(edge)
            outgoing[edge.source].append(edge)
        self._adjacency = (self._structure_version, incoming, outgoing)
        return incoming, outgoing

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into ``node_id``, in order (the order of a multi-input block's inputs)."""
        return self._adj()[0].get(node_id, [])

    def out_edges(self, node_id: str) -> list[Edge]:
        """Edges out of ``node_id``, in order."""
        return self._adj()[1].get(node_id, [])

    def topological_order(self) -> list[str]:
        """Node ids so that every edge goes forward; stable (ties keep node order).

        Nodes on a cycle (only possible in hand-written files) are left out; see
        :meth:`cycle_nodes`. The order is cached until the structure changes.
        """
        cached = self._order
        if cached is not None and cached[0] == self._structure_version:
            return cached[1]
        order = self._compute_order()
        self._order = (self._structure_version, order)
        return order

    def _compute_order(self) -> list[str]:
        incoming, outgoing = self._adj()
        remaining = {nid: len({e.source for e in edges}) for nid, edges in incoming.items()}
        ready = [nid for nid in self.nodes if remaining[nid] == 0]
        order: list[str] = []
        position = {nid: i for i, nid in enumerate(self.nodes)}
        while ready:
            nid = ready.pop(0)
            order.append(nid)
            released = []
            for target in dict.fromkeys(e.target for e in outgoing[nid]):
                remaining[target] -= 1
                if remaining[target] == 0:
                    released.append(target)
            if released:
                ready.extend(released)
                ready.sort(key=position.__getitem__)
        return order

    def cycle_nodes(self) -> list[str]:
        """Nodes that cannot be ordered because they lie on or behind a cycle."""
        ordered = set(self.topological_order())
        return [nid for nid in self.nodes if nid not in ordered]

    def reaches(self, start: str, goal: str, *, ignore: Edge | None = None) -> bool:
        """Whether a path of edges (other than ``ignore``) leads from ``start`` to ``goal``."""
        _, outgoing = self._adj()
        stack, seen = [start], {start}
        while stack:
            nid = stack.pop()
            if nid == goal:
                return True
            for edge in outgoing.get(nid, ()):
                if edge.target not in seen and edge != ignore:
                    seen.add(edge.target)
                    stack.append(edge.target)
        return False

    # -- validation -------------------------------------------------------------------
    def check_name(self, name: str, node_id: str | None = None) -> None:
        """Raise unless ``name`` is a legal, unused module name in this graph."""
        if not _NAME.fullmatch(name):
            raise InvalidNameError(
                f"name {name!r} may only contain letters, digits and underscores",
                (node_id,) if node_id else ())
        if name in RESERVED_NAMES or name.startswith("_"):
            raise InvalidNameError(
                f"name {name!r} is reserved by torch.nn.Module; choose another",
                (node_id,) if node_id else ())
        if name not in self._name_index():
            return
        for other in self.nodes.values():
            if other.name == name and other.id != node_id:
                raise DuplicateNameError(
                    f"name {name!r} is already used by another node", (other.id,))

    def unique_name(self, prefix: str, taken: Iterable[str] = ()) -> str:
        """``prefix`` followed by the smallest number making it unused here and in ``taken``.

        Amortised O(1) (plus the names of ``taken`` it steps over): the level's names are
        kept in a :class:`~netbuilder.core.names.NameIndex` between calls.
        """
        return self._name_index().free(prefix, taken)

    def _name_index(self) -> NameIndex:
        """The names of this level, rebuilt when ``nodes`` was changed behind its back."""
        names = self._names
        if names is None or names.size != len(self.nodes):
            names = self._names = NameIndex(n.name for n in self.nodes.values())
        return names

    def _names_changed(self, old: str | None, new: str | None) -> None:
        """Keep the name index in step after ``nodes`` lost ``old`` and/or gained ``new``."""
        names = self._names
        if names is None or names.size != len(self.nodes) - (new is not None) + (old is not None):
            self._names = None
            return
        if old is not None:
            names.remove(old)
        if new is not None:
            names.add(new)

    def check_edge(self, edge: Edge, *, ignore: Edge | None = None) -> None:
        """Raise the typed error that adding ``edge`` would cause, if any.

        Args:
            edge: The wire to add.
            ignore: A wire to treat as absent (one that is being moved to ``edge``).
        """
        source, target = self.node(edge.source), self.node(edge.target)
        if edge.source_port not in self.output_ports(source):
            raise UnknownPortError(
                f"{source.name} has no output port {edge.source_port!r}", (source.id,))
        ports = {p.name: p for p in self.input_ports(target)}
        port = ports.get(edge.target_port)
        if port is None:
            raise UnknownPortError(
                f"{target.name} has no input port {edge.target_port!r}", (target.id,))
        for other in self.in_edges(target.id):
            if other.target_port != edge.target_port or other == ignore:
                continue
            if other == edge:
                raise DuplicateEdgeError(
                    f"{source.name} is already connected to {target.name}",
                    (source.id, target.id))
            if not port.multi:
                holder = self.nodes[other.source].name
                raise PortOccupiedError(
                    f"input {edge.target_port!r} of {target.name} is already connected "
                    f"to {holder}", (target.id, other.source))
        if source.id == target.id or self.reaches(target.id, source.id, ignore=ignore):
            raise CycleError(
                f"connecting {source.name} to {target.name} would make a cycle",
                (source.id, target.id))

    def open_ports(self, node_id: str, port: str, *, forward: bool,
                   ignore: Edge | None = None) -> dict[str, list[str]]:
        """Every port a wire dragged from ``port`` of ``node_id`` may join, by node id.

        :meth:`can_connect` answered for every candidate at once, in one pass over the
        graph (the canvas lights these ports while a wire is dragged).

        Args:
            node_id: The node the wire is dragged from.
            port: Its output port (``forward``) or its input port (otherwise).
            forward: Whether the wire leaves an output and may join inputs.
            ignore: A wire to treat as absent (the one being moved).
        """
        node = self.node(node_id)
        if forward:
            if port not in self.output_ports(node):
                return {}
            return self._open_inputs(node_id, port, ignore)
        spec = next((p for p in self.input_ports(node) if p.name == port), None)
        if spec is None:
            return {}
        feeding = {e for e in self.in_edges(node_id) if e.target_port == port and e != ignore}
        if feeding and not spec.multi:
            return {}
        banned = self._closure(node_id, downstream=True, ignore=ignore)
        out: dict[str, list[str]] = {}
        for other in self.nodes.values():
            if other.id not in banned:
                ports = [o for o in self.output_ports(other)
                         if Edge(other.id, node_id, o, port) not in feeding]
                if ports:
                    out[other.id] = ports
        return out

    def _open_inputs(self, source: str, port: str, ignore: Edge | None) -> dict[str, list[str]]:
        taken: dict[tuple[str, str], list[Edge]] = {}
        for edge in self.edges:
            if edge != ignore:
                taken.setdefault((edge.target, edge.target_port), []).append(edge)
        banned = self._closure(source, downstream=False, ignore=ignore)
        out: dict[str, list[str]] = {}
        for other in self.nodes.values():
            if other.id in banned:
                continue
            ports = [p.name for p in self.input_ports(other)
                     if _joinable(taken.get((other.id, p.name), ()), p.multi,
                                  Edge(source, other.id, port, p.name))]
            if ports:
                out[other.id] = ports
        return out

    def _closure(self, node_id: str, *, downstream: bool, ignore: Edge | None) -> set[str]:
        """``node_id`` and every node it reaches (``downstream``) or that reaches it."""
        incoming, outgoing = self._adj()
        edges = outgoing if downstream else incoming
        seen, stack = {node_id}, [node_id]
        while stack:
            for edge in edges.get(stack.pop(), ()):
                nxt = edge.target if downstream else edge.source
                if edge != ignore and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def can_connect(self, edge: Edge, *, ignore: Edge | None = None) -> bool:
        """Whether ``edge`` could be added, with ``ignore`` (a wire being moved) left out.

        The rule of :meth:`check_edge` as a yes/no answer, for the canvas's port hints.
        """
        try:
            self.check_edge(edge, ignore=ignore)
        except GraphError:
            return False
        return True

    def default_edge(self, source: str, target: str, source_port: str | None = None,
                     target_port: str | None = None) -> Edge:
        """An edge between two nodes on their first output and first free input port."""
        src, tgt = self.node(source), self.node(target)
        if source_port is None:
            outs = self.output_ports(src)
            if not outs:
                raise UnknownPortError(f"{src.name} has no output port", (src.id,))
            source_port = outs[0]
        if target_port is None:
            ports = self.input_ports(tgt)
            if not ports:
                raise UnknownPortError(f"{tgt.name} has no input port", (tgt.id,))
            used = {e.target_port for e in self.in_edges(target)}
            free = [p.name for p in ports if p.multi or p.name not in used]
            target_port = free[0] if free else ports[0].name
        return Edge(source, target, source_port, target_port)

    # -- building (validated, no history) -------------------------------------------
    def new_node(self, block_type: str, name: str | None = None, *,
                 pos: tuple[float, float] = (0.0, 0.0), **params: Any) -> Node:
        """A validated node of ``block_type`` not yet in the graph (a composite gets its body).

        Raises:
            UnknownBlockError, UnknownParameterError, ParameterValueError,
            DuplicateNameError, InvalidNameError.
        """
        spec = self.registry.get(block_type)
        name = name or self.unique_name(spec.default_name or spec.key)
        self.check_name(name)
        node = Node(self.root.new_id(), spec.key, name, dict(params), pos=check_position(pos))
        node.resolved = spec.resolve(params, name)
        node.params = {k: node.resolved[k] for k in params}
        if spec.is_composite:
            node.body = spec.body(node.resolved)
        elif spec.key == GROUP:
            node.body = Graph(self.registry)
        return node

    def add(self, block_type: str, name: str | None = None, *,
            pos: tuple[float, float] = (0.0, 0.0), after: str | Node | None = None,
            **params: Any) -> Node:
        """Add a node (optionally wired from ``after``) and return it."""
        node = self.new_node(block_type, name, pos=pos, **params)
        self._insert_node(node)
        if after is not None:
            self.connect(after.id if isinstance(after, Node) else after, node.id)
        return node

    def connect(self, source: str | Node, target: str | Node, source_port: str | None = None,
                target_port: str | None = None) -> Edge:
        """Validate and add an edge; return it."""
        src = source.id if isinstance(source, Node) else source
        tgt = target.id if isinstance(target, Node) else target
        edge = self.default_edge(src, tgt, source_port, target_port)
        self.check_edge(edge)
        self._insert_edge(edge)
        return edge

    def chain(self, *steps: tuple[Any, ...] | str, after: str | Node | None = None) -> Node:
        """Add blocks in a row, each fed by the previous (the first by ``after``); return the last.

        Each step is a block type, or a :data:`~netbuilder.core.builder.Step`
        ``(block_type, name, params)`` whose name and params may be left out.
        """
        source = self.node(after) if isinstance(after, str) else after
        last = builder.chain(self, source, [_as_step(step) for step in steps])
        if last is None:
            raise ValueError("chain() needs at least one step")
        return last

    # -- copying ----------------------------------------------------------------------
    def copy(self) -> Graph:
        """An independent copy of this graph and every body below it, with the same ids.

        Nothing mutable is shared (nodes, parameter dicts, inits, bodies, edge lists); the
        copy is a root graph with the same registry, no listeners, and the same id counter,
        so ids it hands out next are the ones the original would.
        """
        graph = Graph(self.registry)
        graph._counter = self.root._counter
        for node in self.nodes.values():
            graph.nodes[node.id] = _copy_node(node)
            graph._adopt(graph.nodes[node.id], graph)
        graph.edges = list(self.edges)
        return graph

    # -- identity ---------------------------------------------------------------------
    def new_id(self) -> str:
        """A node id not used anywhere in the document."""
        root = self.root
        while True:
            root._counter += 1
            candidate = f"n{root._counter}"
            if candidate not in root._index:
                return candidate

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold events inside the block and deliver them as one batch."""
        hub = self.root.events
        hub.begin()
        try:
            yield
        finally:
            hub.end()

    def _emit(self, kind: str, node: str | None = None, edge: Edge | None = None,
              data: Any = None) -> None:
        self.root.events.emit(Event(kind, self, node, edge, data))

    def _touch(self) -> None:
        self._structure_version += 1

    # -- primitives (no validation; exact inverses) --------------------------------
    def _insert_node(self, node: Node, index: int | None = None) -> None:
        """Insert ``node`` at position ``index`` of the node order (default: last)."""
        root = self.root
        self._adopt(node, root)
        if index is None or index >= len(self.nodes):
            self.nodes[node.id] = node
        else:
            items = list(self.nodes.items())
            items.insert(index, (node.id, node))
            self.nodes = dict(items)
        self._names_changed(None, node.name)
        self._touch()
        self._emit("node_added", node.id)

    def _adopt(self, node: Node, root: Graph) -> None:
        if node.id in root._index and root._index[node.id][1] is not node:
            node.id = root.new_id()
        root._index[node.id] = (self, node)
        if not node.resolved:
            node.resolved = self.registry.get(node.type).resolve(node.params, node.name)
        if node.body is not None:
            body = node.body
            body.owner, body.parent, body.registry = node, self, self.registry
            renames: dict[str, str] = {}
            for child in list(body.nodes.values()):
                old = child.id
                body._adopt(child, root)
                if child.id != old:
                    renames[old] = child.id
            if renames:
                body.nodes = {n.id: n for n in body.nodes.values()}
                body.edges = [Edge(renames.get(e.source, e.source), renames.get(e.target, e.target),
                                   e.source_port, e.target_port) for e in body.edges]
                body._touch()
            body._index.clear()

    def _delete_node(self, node_id: str) -> int:
        """Remove a node that has no edges; return its former position."""
        index = list(self.nodes).index(node_id)
        node = self.nodes.pop(node_id)
        self._names_changed(node.name, None)
        root = self.root
        root._index.pop(node_id, None)
        if node.body is not None:
            for _, child in node.body.walk():
                root._index.pop(child.id, None)
        self._touch()
        self._emit("node_removed", node_id, data=node)
        return index

    def _insert_edge(self, edge: Edge, index: int | None = None) -> None:
        if index is None:
            self.edges.append(edge)
        else:
            self.edges.insert(index, edge)
        self._touch()
        self._emit("edge_added", edge=edge)

    def _delete_edge(self, edge: Edge) -> int:
        index = self.edges.index(edge)
        del self.edges[index]
        self._touch()
        self._emit("edge_removed", edge=edge)
        return index

    def _set_params(self, node_id: str, params: dict[str, Any]) -> None:
        node = self.nodes[node_id]
        spec = self.spec(node)
        node.resolved = spec.resolve(params, node.name)
        node.params = dict(params)
        self._emit("params_changed", node_id)

    def _set_pos(self, node_id: str, pos: tuple[float, float]) -> None:
        self.nodes[node_id].pos = (float(pos[0]), float(pos[1]))
        self._emit("node_moved", node_id)

    def _set_name(self, node_id: str, name: str) -> None:
        node = self.nodes[node_id]
        old, node.name = node.name, name
        self._names_changed(old, name)
        self._emit("node_renamed", node_id)

    def _set_attr(self, node_id: str, attr: str, value: Any) -> None:
        setattr(self.nodes[node_id], attr, value)
        self._emit("node_changed", node_id, data=attr)

    def _replace_body(self, node_id: str, body: Graph) -> Graph:
        """Swap a group's body (its ids are re-registered); return the old body."""
        node = self.nodes[node_id]
        old = node.body
        root = self.root
        if old is not None:
            for _, child in old.walk():
                root._index.pop(child.id, None)
        node.body = body
        self._adopt(node, root)
        self._touch()
        self._emit("node_changed", node_id, data="body")
        return old  # type: ignore[return-value]


def _joinable(feeding: Iterable[Edge], multi: bool, edge: Edge) -> bool:
    """Whether ``edge`` may join an input fed by ``feeding`` (the rule of ``check_edge``)."""
    feeding = list(feeding)
    return edge not in feeding and (multi or not feeding)
