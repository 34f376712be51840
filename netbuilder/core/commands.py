"""Undoable edits of a :class:`~netbuilder.core.graph.Graph`, and the history that runs them.

Every edit the editor makes is a :class:`Command`. A command validates when it is built
(raising a typed :class:`~netbuilder.core.errors.GraphError`, nothing changed), then
:meth:`Command.redo` applies it and :meth:`Command.undo` reverts it exactly: the primitives
it uses report positions, so node order and multi-input edge order come back as they were.
Compound edits are :class:`Macro` commands whose children run in order and undo in reverse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from netbuilder.core.errors import GraphError, GroupError
from netbuilder.core.graph import Edge, Graph, Node, check_position
from netbuilder.core.names import NameIndex
from netbuilder.core.placement import (
    check_placement,
    on_canvas,
    rewires_for_body,
    rewires_for_params,
    without_ports,
)
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT


class Command:
    """One undoable edit. Subclasses implement :meth:`redo` and :meth:`undo`."""

    text = "Edit"
    merge_key: Any = None

    def redo(self) -> None:
        """Apply the edit."""
        raise NotImplementedError

    def undo(self) -> None:
        """Revert the edit exactly."""
        raise NotImplementedError

    def merge(self, other: Command) -> bool:
        """Absorb ``other`` (the next command) into this one; return whether it did."""
        return False


class Macro(Command):
    """A compound edit: children run in order and are undone in reverse."""

    def __init__(self, text: str, children: Sequence[Command] = ()) -> None:
        self.text = text
        self.children = list(children)

    def redo(self) -> None:
        graph = self._graph()
        with graph.batch() if graph else _nothing():
            for child in self.children:
                child.redo()

    def undo(self) -> None:
        graph = self._graph()
        with graph.batch() if graph else _nothing():
            for child in reversed(self.children):
                child.undo()

    def _graph(self) -> Graph | None:
        for child in self.children:
            graph = getattr(child, "graph", None)
            if graph is not None:
                return graph
            if isinstance(child, Macro):
                found = child._graph()
                if found is not None:
                    return found
        return None


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# -- node and edge commands ---------------------------------------------------------------
class InsertNode(Command):
    """Insert an already built node (see :meth:`Graph.new_node`)."""

    def __init__(self, graph: Graph, node: Node, index: int | None = None,
                 check: bool = True) -> None:
        if check:
            check_placement(graph, node)
            check_position(node.pos, node.id)
            graph.check_name(node.name)
        self.graph, self.node, self.index = graph, node, index
        self.text = f"Add {node.name}"

    def redo(self) -> None:
        self.graph._insert_node(self.node, self.index)

    def undo(self) -> None:
        self.index = self.graph._delete_node(self.node.id)


def add_node(graph: Graph, block_type: str, name: str | None = None, *,
             pos: tuple[float, float] = (0.0, 0.0), **params: Any) -> InsertNode:
    """The command that adds a new ``block_type`` node."""
    return InsertNode(graph, graph.new_node(block_type, name, pos=pos, **params))


class AddEdge(Command):
    """Connect two ports (validated: ports, occupancy, cycles)."""

    def __init__(self, graph: Graph, edge: Edge, index: int | None = None,
                 check: bool = True) -> None:
        if check:
            graph.check_edge(edge)
        self.graph, self.edge, self.index = graph, edge, index
        self.text = f"Connect {graph.nodes[edge.source].name} → {graph.nodes[edge.target].name}"

    def redo(self) -> None:
        self.graph._insert_edge(self.edge, self.index)

    def undo(self) -> None:
        self.index = self.graph._delete_edge(self.edge)


def connect(graph: Graph, source: str, target: str, source_port: str | None = None,
            target_port: str | None = None) -> AddEdge:
    """The command that connects ``source`` to ``target`` on default or given ports."""
    return AddEdge(graph, graph.default_edge(source, target, source_port, target_port))


class RemoveEdge(Command):
    """Disconnect one edge."""

    def __init__(self, graph: Graph, edge: Edge) -> None:
        if edge not in graph.edges:
            raise GraphError("that connection does not exist", (edge.source, edge.target))
        self.graph, self.edge, self.index = graph, edge, graph.edges.index(edge)
        self.text = f"Disconnect {graph.nodes[edge.source].name} → {graph.nodes[edge.target].name}"

    def redo(self) -> None:
        self.index = self.graph._delete_edge(self.edge)

    def undo(self) -> None:
        self.graph._insert_edge(self.edge, self.index)


class _DeleteNode(Command):
    def __init__(self, graph: Graph, node: Node) -> None:
        self.graph, self.node, self.index = graph, node, 0

    def redo(self) -> None:
        self.index = self.graph._delete_node(self.node.id)

    def undo(self) -> None:
        self.graph._insert_node(self.node, self.index)


def _edges_touching(graph: Graph, ids: set[str]) -> list[Edge]:
    return [e for e in graph.edges if e.source in ids or e.target in ids]


def _port_edges(graph: Graph, node: Node) -> list[Edge]:
    """Edges of the enclosing graph that use the group port that ``node`` stands for."""
    owner, parent = graph.owner, graph.parent
    if owner is None or parent is None:
        return []
    if node.type == GROUP_INPUT:
        return [e for e in parent.in_edges(owner.id) if e.target_port == node.name]
    if node.type == GROUP_OUTPUT:
        return [e for e in parent.out_edges(owner.id) if e.source_port == node.name]
    return []


def remove_nodes(graph: Graph, node_ids: Iterable[str]) -> Macro:
    """Remove nodes and, as child commands, every edge touching them.

    Removing a group's port node also removes the outer wires on that port.
    """
    ids = list(dict.fromkeys(node_ids))
    nodes = [graph.node(i) for i in ids]
    names = ", ".join(n.name for n in nodes[:3]) + ("…" if len(nodes) > 3 else "")
    macro = Macro(f"Delete {names}")
    for node in nodes:
        for edge in reversed(_port_edges(graph, node)):
            macro.children.append(RemoveEdge(graph.parent, edge))  # type: ignore[arg-type]
    for edge in reversed(_edges_touching(graph, set(ids))):
        macro.children.append(RemoveEdge(graph, edge))
    for node in nodes:
        macro.children.append(_DeleteNode(graph, node))
    return macro


# -- value commands -----------------------------------------------------------------
class SetParams(Command):
    """Set parameters of a node; a composite block's body is regenerated to match.

    Consecutive edits of the same parameter of the same node merge into one step, so
    typing ``128`` into a spin box is one undo.
    """

    def __init__(self, graph: Graph, node_id: str, changes: Mapping[str, Any]) -> None:
        node = graph.node(node_id)
        spec = graph.spec(node)
        new = dict(node.params)
        for name, value in changes.items():
            new[name] = spec.param(name).validate(value, node.name)
        spec.resolve(new, node.name)
        self.graph, self.node_id = graph, node_id
        self.old, self.new = dict(node.params), new
        self.old_body = self.new_body = None
        #: Outer wires re-aimed or dropped because the new body lacks their port.
        self.rewires: list[_ReplaceEdge] = []
        if spec.is_composite:
            self.old_body = node.body
            self.new_body = spec.body(spec.resolve(new, node.name))
            if self.old_body is not None:
                _carry_flags(self.old_body, self.new_body)
            self.rewires = [_ReplaceEdge(graph, old, new) for old, new
                            in rewires_for_body(graph, node_id, self.new_body)]
        else:
            self.rewires = [_ReplaceEdge(graph, *change) for change in
                            rewires_for_params(graph, node_id, spec.resolve(new, node.name))]
        keys = ", ".join(changes)
        self.text = f"Set {node.name}.{keys}"
        self.merge_key = ("params", node_id, tuple(sorted(changes)))

    def redo(self) -> None:
        with self.graph.batch():
            self.graph._set_params(self.node_id, self.new)
            if self.new_body is not None:
                self.graph._replace_body(self.node_id, self.new_body)
            for rewire in self.rewires:
                rewire.redo()

    def undo(self) -> None:
        with self.graph.batch():
            for rewire in reversed(self.rewires):
                rewire.undo()
            self.graph._set_params(self.node_id, self.old)
            if self.old_body is not None:
                self.graph._replace_body(self.node_id, self.old_body)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, SetParams) or other.merge_key != self.merge_key:
            return False
        self.new, self.new_body = other.new, other.new_body
        self.rewires += other.rewires
        return True


class _ReplaceEdge(Command):
    """Replace one wire by another in its place in the edge order, or drop it (``None``)."""

    def __init__(self, graph: Graph, old: Edge, new: Edge | None) -> None:
        self.graph, self.old, self.new, self.index = graph, old, new, 0

    def redo(self) -> None:
        self.index = self.graph._delete_edge(self.old)
        if self.new is not None:
            self.graph._insert_edge(self.new, self.index)

    def undo(self) -> None:
        if self.new is not None:
            self.graph._delete_edge(self.new)
        self.graph._insert_edge(self.old, self.index)


def _carry_flags(old: Graph, new: Graph) -> None:
    """Keep frozen/init/collapsed of body nodes that survive a regeneration (by name)."""
    before = {n.name: n for n in old.nodes.values()}
    for node in new.nodes.values():
        match = before.get(node.name)
        if match is None or match.type != node.type:
            continue
        node.frozen, node.init, node.collapsed = match.frozen, match.init, match.collapsed
        if match.body is not None and node.body is not None:
            _carry_flags(match.body, node.body)


def set_param(graph: Graph, node_id: str, name: str, value: Any) -> SetParams:
    """The command that sets one parameter."""
    return SetParams(graph, node_id, {name: value})


class MoveNodes(Command):
    """Move nodes; consecutive moves of the same set of nodes merge into one step."""

    def __init__(self, graph: Graph, positions: Mapping[str, tuple[float, float]]) -> None:
        self.graph = graph
        self.new = {nid: check_position(p, nid) for nid, p in positions.items()}
        self.old = {nid: graph.node(nid).pos for nid in positions}
        names = [graph.nodes[n].name for n in positions]
        self.text = f"Move {names[0]}" if len(names) == 1 else f"Move {len(names)} nodes"
        self.merge_key = ("move", frozenset(positions))

    def redo(self) -> None:
        with self.graph.batch():
            for nid, pos in self.new.items():
                self.graph._set_pos(nid, pos)

    def undo(self) -> None:
        with self.graph.batch():
            for nid, pos in self.old.items():
                self.graph._set_pos(nid, pos)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, MoveNodes) or other.merge_key != self.merge_key:
            return False
        self.new = other.new
        return True


class Rename(Command):
    """Rename a node (validated: legal and unique in its graph).

    Renaming a group's port node renames the port: the outer wires follow.
    """

    def __init__(self, graph: Graph, node_id: str, name: str, check: bool = True) -> None:
        node = graph.node(node_id)
        if check:
            graph.check_name(name, node_id)
        self.graph, self.node_id, self.old, self.new = graph, node_id, node.name, name
        self.text = f"Rename {node.name} to {name}"
        self.outer = [(e, _renamed_port(e, node.type, name)) for e in _port_edges(graph, node)]

    def redo(self) -> None:
        with self.graph.batch():
            self.graph._set_name(self.node_id, self.new)
            self._swap(0, 1)

    def undo(self) -> None:
        with self.graph.batch():
            self.graph._set_name(self.node_id, self.old)
            self._swap(1, 0)

    def _swap(self, old: int, new: int) -> None:
        parent = self.graph.parent
        for pair in self.outer:
            assert parent is not None
            index = parent._delete_edge(pair[old])
            parent._insert_edge(pair[new], index)


def _renamed_port(edge: Edge, kind: str, name: str) -> Edge:
    if kind == GROUP_INPUT:
        return Edge(edge.source, edge.target, edge.source_port, name)
    return Edge(edge.source, edge.target, name, edge.target_port)


class SetAttribute(Command):
    """Set ``frozen``, ``init`` or ``collapsed`` of a node."""

    ATTRIBUTES = ("frozen", "init", "collapsed")

    def __init__(self, graph: Graph, node_id: str, attr: str, value: Any) -> None:
        if attr not in self.ATTRIBUTES:
            raise GraphError(f"cannot set {attr!r} of a node", (node_id,))
        node = graph.node(node_id)
        self.graph, self.node_id, self.attr = graph, node_id, attr
        self.old, self.new = getattr(node, attr), value
        verb = {"frozen": "Freeze" if value else "Unfreeze",
                "collapsed": "Collapse" if value else "Expand"}.get(attr, "Set init of")
        self.text = f"{verb} {node.name}"

    def redo(self) -> None:
        self.graph._set_attr(self.node_id, self.attr, self.new)

    def undo(self) -> None:
        self.graph._set_attr(self.node_id, self.attr, self.old)


# -- structural commands ----------------------------------------------------------
class _Replan(Command):
    """Replace the whole edge list of a graph by another (used by group/ungroup)."""

    def __init__(self, graph: Graph, before: list[Edge], after: list[Edge]) -> None:
        self.graph, self.before, self.after = graph, list(before), list(after)

    def _swap(self, old: list[Edge], new: list[Edge]) -> None:
        for edge in reversed(old):
            self.graph._delete_edge(edge)
        for i, edge in enumerate(new):
            self.graph._insert_edge(edge, i)

    def redo(self) -> None:
        self._swap(self.before, self.after)

    def undo(self) -> None:
        self._swap(self.after, self.before)


def _check_convex(graph: Graph, ids: set[str]) -> None:
    """A selection can be grouped only if no path leaves it and comes back."""
    outside = [e.target for e in graph.edges if e.source in ids and e.target not in ids]
    seen, stack = set(outside), list(outside)
    while stack:
        nid = stack.pop()
        for edge in graph.out_edges(nid):
            if edge.target in ids:
                raise GroupError(
                    f"cannot group: a path leaves the selection at "
                    f"{graph.nodes[nid].name} and comes back into "
                    f"{graph.nodes[edge.target].name}", (nid, edge.target))
            if edge.target not in seen:
                seen.add(edge.target)
                stack.append(edge.target)


def group_nodes(graph: Graph, node_ids: Iterable[str], name: str | None = None) -> Macro:
    """Move nodes into a new group; wires crossing the boundary go through its ports."""
    ids = [nid for nid in graph.nodes if nid in set(node_ids)]
    if not ids:
        raise GroupError("select at least one node to group")
    ports = [graph.nodes[i].name for i in ids
             if graph.nodes[i].type in (GROUP_INPUT, GROUP_OUTPUT)]
    if ports:
        raise GroupError(f"cannot group the group's own ports ({', '.join(ports)})")
    for nid in set(node_ids) - set(ids):
        graph.node(nid)
    selected = set(ids)
    _check_convex(graph, selected)
    name = name or graph.unique_name("group")
    graph.check_name(name)
    body = Graph(graph.registry)
    group = Node(graph.root.new_id(), GROUP, name, body=body,
                 pos=min((graph.nodes[i].pos for i in ids), key=lambda p: (p[1], p[0])))
    for nid in ids:
        body.nodes[nid] = graph.nodes[nid]
    in_ports: dict[tuple[str, str], str] = {}
    out_ports: dict[tuple[str, str], str] = {}
    taken = {graph.nodes[i].name for i in ids}
    outer: list[Edge] = []

    def port(table: dict[tuple[str, str], str], key: tuple[str, str], kind: str) -> str:
        if key not in table:
            stem = "x" if kind == GROUP_INPUT else "out"
            pname = stem if stem not in taken else body.unique_name(stem, taken)
            taken.add(pname)
            pid = graph.root.new_id()
            body.nodes[pid] = Node(pid, kind, pname, pos=(0.0, 0.0))
            table[key] = pid
        return table[key]

    for edge in graph.edges:
        src_in, tgt_in = edge.source in selected, edge.target in selected
        if src_in and tgt_in:
            body.edges.append(edge)
        elif tgt_in:
            pid = port(in_ports, (edge.source, edge.source_port), GROUP_INPUT)
            body.edges.append(Edge(pid, edge.target, "out", edge.target_port))
            new = Edge(edge.source, group.id, edge.source_port, body.nodes[pid].name)
            if new not in outer:
                outer.append(new)
        elif src_in:
            pid = port(out_ports, (edge.source, edge.source_port), GROUP_OUTPUT)
            inner = Edge(edge.source, pid, edge.source_port, "in")
            if inner not in body.edges:
                body.edges.append(inner)
            outer.append(Edge(group.id, edge.target, body.nodes[pid].name, edge.target_port))
        else:
            outer.append(edge)
    _place_ports(body, set(in_ports.values()) | set(out_ports.values()))
    macro = Macro(f"Group {len(ids)} nodes as {name}")
    macro.children.append(_Replan(graph, graph.edges, []))
    for nid in reversed(ids):
        macro.children.append(_DeleteNode(graph, graph.nodes[nid]))
    macro.children.append(InsertNode(graph, group, check=False))
    macro.children.append(_Replan(graph, [], outer))
    macro.group = group  # type: ignore[attr-defined]
    return macro


def _place_ports(body: Graph, new: set[str]) -> None:
    """Put the new port nodes above (inputs) and below (outputs) the body's nodes."""
    inner = [n for n in body.nodes.values() if n.id not in new]
    if not inner:
        return
    xs = [n.pos[0] for n in inner]
    ys = [n.pos[1] for n in inner]
    ins = [n for n in body.nodes.values() if n.id in new and n.type == GROUP_INPUT]
    outs = [n for n in body.nodes.values() if n.id in new and n.type == GROUP_OUTPUT]
    for k, n in enumerate(ins):
        n.pos = on_canvas(min(xs) + 200.0 * k, min(ys) - 120.0)
    for k, n in enumerate(outs):
        n.pos = on_canvas(min(xs) + 200.0 * k, max(ys) + 120.0)


def ungroup(graph: Graph, group_id: str) -> Macro:
    """Dissolve a group: its body's nodes move up a level and wires are rejoined."""
    group = graph.node(group_id)
    if group.body is None:
        raise GroupError(f"{group.name} is not a group", (group_id,))
    body = group.body
    macro = Macro(f"Ungroup {group.name}")
    inner = [n for n in body.nodes.values() if n.type not in (GROUP_INPUT, GROUP_OUTPUT)]
    taken = {n.name for n in graph.nodes.values() if n.id != group_id}
    fresh = NameIndex(taken | {n.name for n in inner})
    for node in inner:
        if node.name in taken:
            new = fresh.take(node.name + "_")
            macro.children.append(Rename(body, node.id, new, check=False))
            taken.add(new)
        else:
            taken.add(node.name)
    feeders: dict[str, list[Edge]] = {}
    for edge in graph.in_edges(group_id):
        feeders.setdefault(edge.target_port, []).append(edge)
    port_ids = {n.name: n.id for n in body.nodes.values()}
    inner_ids = {n.id for n in inner}

    def sources_of(edge: Edge) -> list[tuple[str, str]]:
        """Outer-level (node, port) pairs feeding body edge ``edge``'s source."""
        src = body.nodes[edge.source]
        if src.type == GROUP_INPUT:
            return [(f.source, f.source_port) for f in feeders.get(src.name, [])]
        return [(edge.source, edge.source_port)]

    outer: list[Edge] = []
    for edge in graph.edges:
        if edge.target == group_id:
            continue
        if edge.source != group_id:
            outer.append(edge)
            continue
        out_node = port_ids.get(edge.source_port)
        for inner_edge in body.in_edges(out_node) if out_node else []:
            for src, sport in sources_of(inner_edge):
                new = Edge(src, edge.target, sport, edge.target_port)
                if new not in outer:
                    outer.append(new)
    for edge in body.edges:
        if edge.target in inner_ids:
            for src, sport in sources_of(edge):
                outer.append(Edge(src, edge.target, sport, edge.target_port))
    index = list(graph.nodes).index(group_id)
    macro.children.append(_Replan(graph, graph.edges, []))
    macro.children.append(_DeleteNode(graph, group))
    for k, node in enumerate(inner):
        macro.children.append(_InsertExisting(graph, node, index + k))
    macro.children.append(_Replan(graph, [], outer))
    return macro


def _fresh_ids(body: Graph, root: Graph) -> None:
    """Give every node of a detached body (at any depth) an id unused in ``root``."""
    renames = {}
    for node in list(body.nodes.values()):
        renames[node.id] = node.id = root.new_id()
        if node.body is not None:
            _fresh_ids(node.body, root)
    body.nodes = {n.id: n for n in body.nodes.values()}
    body.edges = [Edge(renames[e.source], renames[e.target], e.source_port, e.target_port)
                  for e in body.edges]
    body._touch()


class _AppendEdge(Command):
    def __init__(self, graph: Graph, edge: Edge) -> None:
        self.graph, self.edge = graph, edge

    def redo(self) -> None:
        self.graph._insert_edge(self.edge)

    def undo(self) -> None:
        self.graph._delete_edge(self.edge)


class _InsertExisting(Command):
    def __init__(self, graph: Graph, node: Node, index: int) -> None:
        self.graph, self.node, self.index = graph, node, index

    def redo(self) -> None:
        self.graph._insert_node(self.node, self.index)

    def undo(self) -> None:
        self.graph._delete_node(self.node.id)


def paste(graph: Graph, nodes: Sequence[Node], edges: Sequence[Edge],
          offset: tuple[float, float] = (0.0, 0.0)) -> Macro:
    """Insert a fragment (fresh nodes, edges among them): names made unique, ids fresh.

    Group port nodes of a fragment pasted at the top level are left out, with their wires.

    Raises:
        GroupError: when nothing but group ports would be pasted at the top level.
    """
    if graph.owner is None:
        nodes, edges = without_ports(nodes, edges)
    macro = Macro(f"Paste {len(nodes)} node{'s' if len(nodes) != 1 else ''}")
    taken = NameIndex(n.name for n in graph.nodes.values())
    renames: dict[str, str] = {}
    for node in nodes:
        old_id = node.id
        node.id = graph.root.new_id()
        renames[old_id] = node.id
        if node.name in taken:
            node.name = taken.take(node.name.rstrip("0123456789") or node.type)
        else:
            taken.add(node.name)
        node.pos = check_position((node.pos[0] + offset[0], node.pos[1] + offset[1]))
        if node.body is not None:
            _fresh_ids(node.body, graph.root)
    for node in nodes:
        macro.children.append(InsertNode(graph, node, check=False))
    for edge in edges:
        new = Edge(renames[edge.source], renames[edge.target], edge.source_port, edge.target_port)
        macro.children.append(_AppendEdge(graph, new))
    macro.pasted = [n.id for n in nodes]  # type: ignore[attr-defined]
    return macro

