"""Where nodes and wires may go, so that every edit leaves a graph that saves and reopens.

The commands of :mod:`netbuilder.core.commands` consult these rules: group port nodes
live only inside a group body, positions stay on the canvas, and when a composite's body
is rebuilt with other ports, the wires on ports that are gone are re-aimed or dropped; when
a block's parameters take output ports away (fewer parts of a split), their wires are
dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from netbuilder.core.errors import GroupError
from netbuilder.core.graph import MAX_COORDINATE, Edge, Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, Params

#: A wire to replace by another (``None``: to drop).
Rewire = tuple[Edge, Edge | None]


def check_placement(graph: Graph, node: Node) -> None:
    """Raise unless ``node`` may go into ``graph``: group ports belong inside a body.

    Raises:
        GroupError: for a ``group_input``/``group_output`` node at the top level.
    """
    if node.type in (GROUP_INPUT, GROUP_OUTPUT) and graph.owner is None:
        raise GroupError(f"{node.type} nodes belong inside a group body (open a group to "
                         f"add a port)", (node.id,))


def without_ports(nodes: Sequence[Node], edges: Sequence[Edge]
                  ) -> tuple[list[Node], list[Edge]]:
    """A fragment less its group port nodes and their wires (for pasting at the top level).

    Raises:
        GroupError: when the fragment holds nothing but group ports.
    """
    ports = {n.id for n in nodes if n.type in (GROUP_INPUT, GROUP_OUTPUT)}
    if ports and len(ports) == len(nodes):
        raise GroupError("group input and output nodes can only be pasted into a group",
                         tuple(ports))
    return ([n for n in nodes if n.id not in ports],
            [e for e in edges if e.source not in ports and e.target not in ports])


def on_canvas(x: float, y: float) -> tuple[float, float]:
    """The nearest position within ±:data:`~netbuilder.core.graph.MAX_COORDINATE`."""
    return (min(max(x, -MAX_COORDINATE), MAX_COORDINATE),
            min(max(y, -MAX_COORDINATE), MAX_COORDINATE))


def rewires_for_body(graph: Graph, node_id: str, body: Graph) -> list[Rewire]:
    """The wire changes that keep ``node_id``'s wires valid once its body is ``body``.

    A wire on a port the new body lacks is re-aimed at the body's only port of that
    direction when there is exactly one (and, for an input, it is free), else dropped.
    """
    inputs = [n.name for n in body.nodes.values() if n.type == GROUP_INPUT]
    outputs = [n.name for n in body.nodes.values() if n.type == GROUP_OUTPUT]
    return _rewire_inputs(graph, node_id, inputs) + _rewire_outputs(graph, node_id, outputs)


def rewires_for_params(graph: Graph, node_id: str, resolved: Params) -> list[Rewire]:
    """The wire changes that keep a block's wires valid once its parameters are ``resolved``.

    A block whose output ports follow its parameters (a split into 3 parts set to 2)
    loses the wires on ports that are gone: they are dropped in the same step.
    """
    node = graph.node(node_id)
    if node.body is not None:  # a group's ports are its body's (see rewires_for_body)
        return []
    outputs = list(graph.spec(node).output_ports(resolved))
    if outputs == list(graph.output_ports(node)):
        return []
    return [(edge, None) for edge in graph.out_edges(node_id) if edge.source_port not in outputs]


def _rewire_inputs(graph: Graph, node_id: str, inputs: list[str]) -> list[Rewire]:
    incoming = graph.in_edges(node_id)
    used = {e.target_port for e in incoming if e.target_port in inputs}
    changes: list[Rewire] = []
    for edge in incoming:
        if edge.target_port in inputs:
            continue
        new = None
        if len(inputs) == 1 and inputs[0] not in used:
            new = Edge(edge.source, edge.target, edge.source_port, inputs[0])
            used.add(inputs[0])
        changes.append((edge, new))
    return changes


def _rewire_outputs(graph: Graph, node_id: str, outputs: list[str]) -> list[Rewire]:
    outgoing = graph.out_edges(node_id)
    present = set(outgoing)
    changes: list[Rewire] = []
    for edge in outgoing:
        if edge.source_port in outputs:
            continue
        new = Edge(edge.source, edge.target, outputs[0], edge.target_port) \
            if len(outputs) == 1 else None
        if new in present:
            new = None
        elif new is not None:
            present.add(new)
        changes.append((edge, new))
    return changes
