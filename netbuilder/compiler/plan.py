"""Lowering of one graph level to a straight-line execution plan (torch-free).

A :class:`Plan` lists, in topological order, the blocks and groups of one graph level
(the root graph or a group body) with the values each one reads and writes. A *value* is
an output port of a node, ``(node id, port)``. The structural nodes are not steps: the
``input``/``group_input`` nodes provide the plan's arguments and the ``output``/
``group_output`` nodes name the values it returns.

Both the module compiler (:mod:`netbuilder.compiler.build`) and the source exporter
(:mod:`netbuilder.compiler.source`) work from the same plan, so the exported code runs
the nodes in exactly the order, and with exactly the arguments, of the compiled module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from netbuilder.compiler.errors import CompileError
from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT

#: An output port of a node: ``(node id, port name)``.
Value = tuple[str, str]

#: Node types that are wiring, not computation.
STRUCTURAL = frozenset((INPUT, OUTPUT, GROUP_INPUT, GROUP_OUTPUT))


@dataclass(frozen=True)
class Step:
    """One block or group call.

    Attributes:
        node: The node called.
        args: Values passed as positional arguments: a block's incoming edges in edge
            order (a merge block's inputs), a group's input ports in port order.
        outs: Values produced, one per output port, in port order.
    """

    node: Node
    args: tuple[Value, ...]
    outs: tuple[Value, ...]


@dataclass(frozen=True)
class Plan:
    """The steps of one graph level, its arguments and its results.

    Attributes:
        graph: The graph level.
        inputs: The nodes providing the arguments: ``input`` nodes in node order (root)
            or ``group_input`` nodes in port order (a body).
        steps: Block and group calls in topological order.
        outputs: The values returned, one per ``output``/``group_output`` node, in order.
        output_nodes: Those output nodes.
    """

    graph: Graph
    inputs: tuple[Node, ...]
    steps: tuple[Step, ...]
    outputs: tuple[Value, ...]
    output_nodes: tuple[Node, ...]

    @cached_property
    def input_values(self) -> tuple[Value, ...]:
        """The value each argument provides, in argument order."""
        return tuple((n.id, _first_port(self.graph, n)) for n in self.inputs)

    @cached_property
    def last_use(self) -> dict[Value, int]:
        """For every value, the index of the last step reading it.

        Values returned by the plan count as read at ``len(steps)``; values nobody reads
        are absent.
        """
        last: dict[Value, int] = {}
        for index, step in enumerate(self.steps):
            for value in step.args:
                last[value] = index
        for value in self.outputs:
            last[value] = len(self.steps)
        return last

    def readers(self, value: Value) -> list[int]:
        """Indices of the steps reading ``value`` (once per step)."""
        return [i for i, step in enumerate(self.steps) if value in step.args]


def make_plan(graph: Graph, *, top: bool) -> Plan:
    """Lower one graph level.

    Args:
        graph: The root graph (``top=True``) or a group body.
        top: Whether the level's ports are ``input``/``output`` nodes (root) rather than
            ``group_input``/``group_output`` nodes (body).

    Raises:
        CompileError: when the level has a cycle or an unconnected input, or the root has
            no output (a group without outputs is allowed: its blocks still run, for
            hooks, and it returns an empty tuple).
    """
    in_kind, out_kind = (INPUT, OUTPUT) if top else (GROUP_INPUT, GROUP_OUTPUT)
    _check_port_kinds(graph, top)
    order = graph.topological_order()
    if len(order) != len(graph.nodes):
        stuck = [graph.nodes[n] for n in graph.cycle_nodes()]
        raise CompileError(_where(graph, f"a cycle runs through {_names(stuck)}"),
                           [n.id for n in stuck])
    inputs = tuple(n for n in graph.nodes.values() if n.type == in_kind)
    output_nodes = tuple(n for n in graph.nodes.values() if n.type == out_kind)
    if top and not output_nodes:
        raise CompileError("the graph has no output node")
    steps = tuple(_step(graph, graph.nodes[nid]) for nid in order
                  if graph.nodes[nid].type not in STRUCTURAL)
    outputs = tuple(_single_source(graph, n, graph.in_edges(n.id)) for n in output_nodes)
    return Plan(graph, inputs, steps, outputs, output_nodes)


def _check_port_kinds(graph: Graph, top: bool) -> None:
    """Refuse ``input``/``output`` nodes inside a group and group ports at the root."""
    kinds = (GROUP_INPUT, GROUP_OUTPUT) if top else (INPUT, OUTPUT)
    for node in graph.nodes.values():
        if node.type in kinds:
            where = "inside groups" if top else "at the top level (use a group_" + \
                node.type + ")"
            raise CompileError(_where(graph, f"{node.name}: {node.type} nodes belong {where}"),
                               [node.id])


def _step(graph: Graph, node: Node) -> Step:
    edges = graph.in_edges(node.id)
    if node.body is not None:
        args = tuple(_single_source(graph, node, [e for e in edges if e.target_port == p.name])
                     for p in graph.input_ports(node))
    else:
        _check_connected(graph, node, edges)
        args = tuple((e.source, e.source_port) for e in edges)
    outs = tuple((node.id, port) for port in graph.output_ports(node))
    return Step(node, args, outs)


def _single_source(graph: Graph, node: Node, edges: list[Edge]) -> Value:
    if len(edges) != 1:
        problem = "is not connected" if not edges else "has several inputs"
        raise CompileError(_where(graph, f"{node.name}: an input {problem}"), [node.id])
    return edges[0].source, edges[0].source_port


def _check_connected(graph: Graph, node: Node, edges: list[Edge]) -> None:
    connected = {e.target_port for e in edges}
    missing = [p.name for p in graph.input_ports(node) if p.name not in connected]
    if missing:
        raise CompileError(
            _where(graph, f"{node.name}: input {missing[0]!r} is not connected"), [node.id])


def _first_port(graph: Graph, node: Node) -> str:
    ports = graph.output_ports(node)
    return ports[0] if ports else "out"


def _names(nodes: list[Node]) -> str:
    return ", ".join(n.name for n in nodes)


def _where(graph: Graph, message: str) -> str:
    path = graph.path()
    return f"in {'.'.join(path)}: {message}" if path else message
