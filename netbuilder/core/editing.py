"""Editing commands built from gestures: add a block, splice it into a wire, delete, group.

The canvas and the editor (and any other front end) call these; they know nothing of Qt.

Every function returns one command for ``document.push``: adding a block (spliced into a
wire when dropped on one), adding a block below another, deleting a selection, grouping
and ungrouping (with the ids the caller selects afterwards). Compound
edits are validated against the model as it will be when their earlier steps have run:
the steps are applied inside one event batch and reverted before the command is
returned, so the views see no change and the history records one step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from netbuilder.core import commands
from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.layout import estimate_size
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT, BlockSpec

_GAP_BELOW = 44.0


@contextmanager
def _tentatively(graph: Graph, steps: Sequence[commands.Command]) -> Iterator[None]:
    """Run ``steps`` (in one event batch), yield, then revert them."""
    done: list[commands.Command] = []
    with graph.batch():
        try:
            for step in steps:
                step.redo()
                done.append(step)
            yield
        finally:
            for step in reversed(done):
                step.undo()


Point = tuple[float, float]


def _placed(graph: Graph, key: str, center: Point) -> Node:
    node = graph.new_node(key)
    width, height = estimate_size(graph, node)
    node.pos = (float(round(center[0] - width / 2)), float(round(center[1] - height / 2)))
    return node


def add_command(graph: Graph, key: str, center: Point,
                wire: Edge | None = None) -> tuple[commands.Command, str]:
    """Add a ``key`` block centred at ``center``; with ``wire``, splice it into that wire.

    Returns:
        The command and the new node's id.

    Raises:
        GraphError: when the block cannot be added.
    """
    node = _placed(graph, key, center)
    insert = commands.InsertNode(graph, node)
    inputs, outputs = graph.input_ports(node), graph.output_ports(node)
    if wire is None or wire not in graph.edges or not inputs or not outputs:
        return insert, node.id
    remove = commands.RemoveEdge(graph, wire)
    index = graph.edges.index(wire)
    with _tentatively(graph, [insert, remove]):
        downstream = commands.AddEdge(
            graph, Edge(node.id, wire.target, outputs[0], wire.target_port), index)
        upstream = commands.AddEdge(
            graph, Edge(wire.source, node.id, wire.source_port, inputs[0].name))
    source, target = graph.nodes[wire.source].name, graph.nodes[wire.target].name
    macro = commands.Macro(f"Insert {node.name} between {source} and {target}",
                           [insert, remove, downstream, upstream])
    return macro, node.id


def add_after_command(graph: Graph, key: str, source_id: str) -> tuple[commands.Command, str]:
    """Add a ``key`` block below ``source_id`` and wire it from there.

    Raises:
        GraphError: when the block cannot be added or wired.
    """
    source = graph.node(source_id)
    sw, sh = estimate_size(graph, source)
    node = graph.new_node(key)
    width, _ = estimate_size(graph, node)
    node.pos = (source.pos[0] + (sw - width) / 2, source.pos[1] + sh + _GAP_BELOW)
    insert = commands.InsertNode(graph, node)
    if not graph.output_ports(source) or not graph.input_ports(node):
        return insert, node.id
    with _tentatively(graph, [insert]):
        wire = commands.connect(graph, source_id, node.id)  # validates
    return commands.Macro(f"Add {node.name} after {source.name}", [insert, wire]), node.id


def delete_command(graph: Graph, node_ids: Sequence[str],
                   edges: Sequence[Edge] = ()) -> commands.Command | None:
    """Delete nodes (with their wires) and further wires, as one step (None: nothing)."""
    ids = set(node_ids)
    children: list[commands.Command] = [
        commands.RemoveEdge(graph, e) for e in dict.fromkeys(edges)
        if e.source not in ids and e.target not in ids and e in graph.edges]
    if node_ids:
        children.append(commands.remove_nodes(graph, node_ids))
    if not children:
        return None
    if len(children) == 1:
        return children[0]
    count = len(ids) + len(children) - (1 if node_ids else 0)
    return commands.Macro(f"Delete {count} items", children)


def group_command(graph: Graph, node_ids: Sequence[str]) -> tuple[commands.Macro, str]:
    """Group nodes of ``graph`` as one step.

    Returns:
        The command and the id of the group it makes.

    Raises:
        GraphError: when the nodes cannot be grouped (none, group ports, not convex).
    """
    macro = commands.group_nodes(graph, node_ids)
    group = next(c.node for c in macro.children if isinstance(c, commands.InsertNode))
    return macro, group.id


def ungroup_command(graph: Graph, group_id: str) -> tuple[commands.Macro, list[str]]:
    """Dissolve group ``group_id`` of ``graph`` as one step.

    Returns:
        The command and the ids of the nodes it frees (the body's nodes but its ports).

    Raises:
        GraphError: when the node is not a group.
    """
    macro = commands.ungroup(graph, group_id)
    body = graph.node(group_id).body
    freed = [n.id for n in body.nodes.values()
             if n.type not in (GROUP_INPUT, GROUP_OUTPUT)] if body is not None else []
    return macro, freed


def addable_specs(graph: Graph) -> list[BlockSpec]:
    """Blocks a user may add to ``graph`` (group ports only inside a group)."""
    inside = graph.owner is not None
    hidden = {GROUP} | (set() if inside else {GROUP_INPUT, GROUP_OUTPUT})
    return [spec for spec in graph.registry if spec.key not in hidden]

