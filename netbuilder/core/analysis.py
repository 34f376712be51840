"""Analysis: every node's output shape, cost and receptive field, and every error.

One pass over the graph, in topological order per graph level, recursing into group
bodies. Each block's analytic :meth:`~netbuilder.core.spec.BlockSpec.infer` does the
arithmetic; this module wires shapes along edges, sums costs, propagates the receptive
field and turns problems into :class:`Issue` objects attached to the node (and edge) that
causes them. A problem never stops the analysis of the rest of the graph: a node whose
inputs are unknown is simply left without a shape.

:class:`Analyzer` keeps the result of the previous pass: it re-infers only nodes whose
parameters or input shapes changed, and reuses the whole analysis of every group body that
is unchanged and fed the same shapes (:mod:`netbuilder.core.level_records`), so
re-analysis after a single edit inside a large network analyses only the bodies on the path
to the edited node and those whose inputs changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

from netbuilder.core.autograd_rules import overwrite_problem, untrained_outputs
from netbuilder.core.gc_pause import paused_gc
from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.level_records import (
    LevelRecord,
    OverwriteCheck,
    PortFeed,
    members,
    still_holds,
)
from netbuilder.core.shapes import format_shape
from netbuilder.core.spec import (
    GROUP_INPUT,
    GROUP_OUTPUT,
    INPUT,
    OUTPUT,
    Inference,
    PortSpec,
    Shape,
    ShapeError,
)

ERROR, WARNING = "error", "warning"
#: :attr:`Issue.kind` of an output that no trainable parameter feeds.
UNTRAINABLE = "untrainable"


@dataclass(frozen=True)
class Issue:
    """A problem, attached to ``node`` (and ``edge`` where one wire is at fault).

    Attributes:
        message: What is wrong, naming every node involved.
        node: Id of the node the problem is shown on (None for graph-wide problems).
        nodes: Ids of every node involved (the node itself first).
        edge: The wire at fault, if one is.
        severity: ``"error"`` (the graph cannot compile) or ``"warning"``.
        kind: What sort of problem, where something acts on it: :data:`UNTRAINABLE`
            (the graph compiles but training has no gradient); ``""`` otherwise.
    """

    message: str
    node: str | None = None
    nodes: tuple[str, ...] = ()
    edge: Edge | None = None
    severity: str = ERROR
    kind: str = ""


@dataclass
class NodeInfo:
    """What the analysis knows about one node.

    Attributes:
        node: The node id.
        inputs: Input shapes, one per incoming edge in edge order (a group: one per input
            port, in port order); ``None`` where the producer has no shape.
        outputs: Output shape per output port (empty when unknown).
        params: Learnable parameters (a group: the sum over its body).
        buffers: Non-learnable stored values (batch-norm running statistics).
        macs: Multiply-accumulates per sample.
        rf: Receptive field along the first spatial axis, in input pixels.
        jump: Distance in input pixels between neighbouring outputs (cumulative stride).
        formulas: The arithmetic behind the numbers.
        issues: Problems attached to this node.
    """

    node: str
    inputs: tuple[Shape | None, ...] = ()
    outputs: dict[str, Shape] = field(default_factory=dict)
    params: int = 0
    buffers: int = 0
    macs: int = 0
    rf: int = 1
    jump: int = 1
    formulas: tuple[str, ...] = ()
    issues: list[Issue] = field(default_factory=list)

    @property
    def shape(self) -> Shape | None:
        """The shape of the first output, or None when unknown."""
        return next(iter(self.outputs.values()), None)

    @property
    def activations(self) -> int:
        """Output elements per sample (what the forward pass stores for backward)."""
        return sum(prod(s) for s in self.outputs.values())

    @property
    def ok(self) -> bool:
        """Whether no error is attached to the node."""
        return not any(i.severity == ERROR for i in self.issues)


@dataclass
class Analysis:
    """The result of analysing a whole graph."""

    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    total_params: int = 0
    total_buffers: int = 0
    total_macs: int = 0
    total_activations: int = 0

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity error."""
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        """Issues of severity warning."""
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        """Whether the graph has no error (it can compile)."""
        return not self.errors

    @property
    def trainable(self) -> bool:
        """Whether the graph can compile and its outputs depend on a trainable parameter."""
        return self.ok and not any(i.kind == UNTRAINABLE for i in self.issues)

    def info(self, node_id: str) -> NodeInfo:
        """The info of ``node_id``."""
        return self.nodes[node_id]

    @property
    def model_size_mb(self) -> float:
        """Parameters and buffers at float32, in MB (10⁶ bytes)."""
        return (self.total_params + self.total_buffers) * 4 / 1e6


_CacheKey = tuple[Any, ...]


def _where(graph: Graph, node: Node) -> str:
    """The node's dotted path, as its module is named: ``layer1.0.conv1``."""
    path = graph.path()
    return ".".join((*path, node.name)) if path else node.name


class Analyzer:
    """Analyses a graph, re-inferring only nodes whose inputs or parameters changed."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._cache: dict[str, tuple[_CacheKey, Inference | ShapeError]] = {}
        self._records: dict[Graph, LevelRecord] = {}
        self._visited: dict[Graph, LevelRecord] = {}
        self._overwrites: dict[Graph, list[OverwriteCheck]] = {}
        self.result = Analysis()

    @paused_gc()
    def run(self) -> Analysis:
        """Analyse the whole graph and return (and keep) the result."""
        result = Analysis()
        self._visited, self._overwrites = {}, {}
        self._level(self.graph, result, {}, top=True)
        issues, activations = self._summary(self.graph, result.nodes)
        if not any(i.severity == ERROR for i in (*issues, *result.issues)):
            self._report_untrainable(result)  # it adds to the issues of the outputs
            issues, activations = self._summary(self.graph, result.nodes)
        result.issues.extend(issues)
        tops = [result.nodes[n] for n in self.graph.nodes if n in result.nodes]
        result.total_params = sum(i.params for i in tops)
        result.total_buffers = sum(i.buffers for i in tops)
        result.total_macs = sum(i.macs for i in tops)
        result.total_activations = activations
        if len(self._cache) > len(result.nodes):
            for stale in set(self._cache) - result.nodes.keys():
                del self._cache[stale]
        self._records, self._visited, self._overwrites = self._visited, {}, {}
        self.result = result
        return result

    def _summary(self, level: Graph, infos: dict[str, NodeInfo]) -> tuple[list[Issue], int]:
        """Issues (in walk order) and layer activations of ``level`` and its bodies."""
        issues: list[Issue] = []
        activations = 0
        for node in level.nodes.values():
            info = infos.get(node.id)
            if info is not None:
                issues.extend(info.issues)
                if node.body is None:
                    activations += info.activations
            record = None if node.body is None else self._visited.get(node.body)
            if record is not None:
                issues.extend(record.issues)
                activations += record.activations
        return issues, activations

    # -- one graph level ------------------------------------------------------------
    def _level(self, graph: Graph, result: Analysis,
               ports: dict[str, tuple[Shape | None, int, int]], top: bool = False) -> None:
        order = graph.topological_order()
        for nid in order:
            node = graph.nodes[nid]
            info = NodeInfo(nid)
            result.nodes[nid] = info
            if node.type == GROUP_INPUT:
                shape, info.rf, info.jump = ports.get(node.name, (None, 1, 1))
                if shape is not None:
                    info.outputs = {"out": shape}
                continue
            self._node(graph, node, info, result)
        self._report_cycles(graph, order, result)
        self._report_structure(graph, result, top)

    def _node(self, graph: Graph, node: Node, info: NodeInfo, result: Analysis) -> None:
        edges = graph.in_edges(node.id)
        known = result.nodes
        shapes_list: list[Shape | None] = []
        rf_in = jump_in = 1
        for edge in edges:
            producer = known.get(edge.source)
            if producer is None:
                shapes_list.append(None)
                continue
            shapes_list.append(producer.outputs.get(edge.source_port))
            rf_in = max(rf_in, producer.rf)
            jump_in = max(jump_in, producer.jump)
        shapes = tuple(shapes_list)
        connected = self._check_ports(graph, node, edges, info)
        if node.body is not None:
            info.inputs = self._group_inputs(graph, node, edges, shapes)
            self._group(graph, node, info, result, rf_in, jump_in)
            return
        if not connected:
            return
        info.inputs = shapes
        if any(s is None for s in shapes):
            return
        outcome = self._infer(graph, node, shapes)
        if isinstance(outcome, ShapeError):
            info.issues.append(self._shape_issue(graph, node, edges, shapes, outcome))
            return
        info.outputs = outcome.port_shapes(graph.output_ports(node))
        if node.type in (OUTPUT, GROUP_OUTPUT):
            info.outputs = {"out": outcome.shape}
        if node.resolved.get("inplace") is True:
            self._check_inplace(graph, node, edges, info)
        info.params, info.buffers, info.macs = outcome.params, outcome.buffers, outcome.macs
        info.formulas = outcome.formulas
        info.issues.extend(Issue(f"{_where(graph, node)}: {text}", node.id, (node.id,),
                                 severity=WARNING) for text in outcome.warnings)
        info.rf = rf_in + (outcome.kernel - 1) * jump_in
        info.jump = jump_in * outcome.stride

    def _infer(self, graph: Graph, node: Node,
               shapes: tuple[Shape | None, ...]) -> Inference | ShapeError:
        key = (node.type, shapes)
        cached = self._cache.get(node.id)
        if cached is not None and cached[0][0] is node.resolved and cached[0][1] == key:
            return cached[1]
        try:
            outcome: Inference | ShapeError = graph.spec(node).infer(
                node.resolved, shapes)  # type: ignore[arg-type]
        except ShapeError as error:
            outcome = error
        except Exception as error:
            outcome = ShapeError(f"cannot analyse {node.type}: {error!r}")
        self._cache[node.id] = ((node.resolved, key), outcome)
        return outcome

    def _check_inplace(self, graph: Graph, node: Node, edges: Sequence[Edge],
                       info: NodeInfo) -> None:
        """An in-place block may only overwrite a value nothing else needs.

        See :mod:`netbuilder.core.autograd_rules`: no other node reads it, and the block
        that made it does not need it for its backward pass. Each check is noted with its
        level, whose record must see it again before it is reused.
        """
        checks = self._overwrites.setdefault(graph, [])
        for edge in edges:
            problem = overwrite_problem(graph, edge)
            checks.append((edge, problem))
            if problem is not None:
                info.issues.append(Issue(
                    f"{_where(graph, node)}: in-place operation would overwrite "
                    f"{problem.why}; turn inplace off", node.id, (node.id, *problem.nodes),
                    edge))

    def _report_untrainable(self, result: Analysis) -> None:
        """Warn on outputs no trainable parameter feeds (called when nothing else is wrong)."""
        def trainable(node: Node) -> bool:
            info = result.nodes.get(node.id)
            return info is not None and info.params > 0

        for output in untrained_outputs(self.graph, trainable):
            result.nodes[output.id].issues.append(Issue(
                f"{_where(self.graph, output)}: no trainable parameter feeds this output "
                f"(the layers before it have no weights, or are frozen), so training has "
                f"no gradient to follow; add a layer with weights or unfreeze one",
                output.id, (output.id,), severity=WARNING, kind=UNTRAINABLE))

    def _check_ports(self, graph: Graph, node: Node, edges: Sequence[Edge],
                     info: NodeInfo) -> bool:
        ports = graph.input_ports(node)
        stray = self._stray_edges(graph, node, ports, edges, info)
        if len(ports) == 1 and len(edges) > stray:  # the common case: one port, wired
            return not stray
        connected = {e.target_port for e in edges}
        missing = [p.name for p in ports if p.name not in connected]
        for port in missing:
            where = f"input {port!r} of {node.name}" if len(ports) > 1 \
                else f"the input of {node.name}"
            info.issues.append(Issue(f"{_where(graph, node)}: {where} is not connected",
                                     node.id, (node.id,)))
        return not missing and not stray

    @staticmethod
    def _stray_edges(graph: Graph, node: Node, ports: Sequence[PortSpec],
                     edges: Sequence[Edge], info: NodeInfo) -> int:
        """Report wires into ``node`` on ports that either end lacks; return how many."""
        names = {p.name for p in ports}
        count = 0
        for edge in edges:
            source = graph.nodes[edge.source]
            if edge.target_port not in names:
                why = f"{node.name} has no input {edge.target_port!r}"
            elif edge.source_port not in graph.output_ports(source):
                why = f"{source.name} has no output {edge.source_port!r}"
            else:
                continue
            count += 1
            info.issues.append(Issue(
                f"{_where(graph, node)}: the wire from {source.name} ends on a port that "
                f"no longer exists ({why}); reconnect it", node.id, (node.id, source.id), edge))
        return count

    def _group_inputs(self, graph: Graph, node: Node, edges: Sequence[Edge],
                      shapes: tuple[Shape | None, ...]) -> tuple[Shape | None, ...]:
        by_port = {e.target_port: s for e, s in zip(edges, shapes)}
        return tuple(by_port.get(p.name) for p in graph.input_ports(node))

    def _group(self, graph: Graph, node: Node, info: NodeInfo, result: Analysis,
               rf_in: int, jump_in: int) -> None:
        body = node.body
        assert body is not None
        names = [p.name for p in graph.input_ports(node)]
        ports = {name: (shape, rf_in, jump_in) for name, shape in zip(names, info.inputs)}
        result.nodes.update(self._body(body, ports).nodes)
        for child in body.nodes.values():
            sub = result.nodes.get(child.id)
            if sub is None:
                continue
            if child.type == GROUP_OUTPUT:
                if sub.shape is not None:
                    info.outputs[child.name] = sub.shape
                info.rf, info.jump = max(info.rf, sub.rf), max(info.jump, sub.jump)
            info.params += sub.params
            info.buffers += sub.buffers
            info.macs += sub.macs

    def _body(self, body: Graph, ports: PortFeed) -> LevelRecord:
        """The analysis of a group's ``body`` fed ``ports``: the last one if it holds."""
        record = self._records.get(body)
        if record is None or record.ports != ports or not still_holds(body, record,
                                                                      body.path()):
            infos = Analysis()
            self._level(body, infos, ports)
            issues, activations = self._summary(body, infos.nodes)
            children = [(n.body, self._visited[n.body]) for n in body.nodes.values()
                        if n.body is not None and n.body in self._visited]
            record = LevelRecord(ports, body.path(), members(body), list(body.edges),
                                 infos.nodes, issues, activations,
                                 self._overwrites.pop(body, []), children)
            self._visited[body] = record
        else:
            self._visit(body, record)
        return record

    def _visit(self, body: Graph, record: LevelRecord) -> None:
        """Note that ``body`` (and every body inside) is part of this pass."""
        self._visited[body] = record
        for child, nested in record.children:
            self._visit(child, nested)

    # -- messages ---------------------------------------------------------------------
    def _shape_issue(self, graph: Graph, node: Node, edges: Sequence[Edge],
                     shapes: tuple[Shape | None, ...], error: ShapeError) -> Issue:
        message = f"{_where(graph, node)}: {error.message}"
        culprits = [i for i in error.inputs if 0 <= i < len(edges)]
        if culprits:
            parts = [f"{self._producer_name(graph, edges[i])} gives {format_shape(shapes[i])}"
                     for i in culprits]
            message += " (" + ", ".join(parts) + ")"
        nodes = (node.id, *tuple(dict.fromkeys(edges[i].source for i in culprits)))
        edge = edges[culprits[-1]] if culprits else None
        return Issue(message, node.id, nodes, edge)

    @staticmethod
    def _producer_name(graph: Graph, edge: Edge) -> str:
        source = graph.nodes[edge.source]
        if len(graph.output_ports(source)) > 1:
            return f"{source.name}.{edge.source_port}"
        return source.name

    def _report_cycles(self, graph: Graph, order: list[str], result: Analysis) -> None:
        if len(order) == len(graph.nodes):
            return
        ordered = set(order)
        stuck = [nid for nid in graph.nodes if nid not in ordered]
        names = ", ".join(graph.nodes[n].name for n in stuck)
        for nid in stuck:
            info = NodeInfo(nid)
            info.issues.append(Issue(
                f"{_where(graph, graph.nodes[nid])}: part of a cycle or fed by one ({names})",
                nid, tuple(stuck)))
            result.nodes[nid] = info

    def _report_structure(self, graph: Graph, result: Analysis, top: bool) -> None:
        kinds = (INPUT, OUTPUT) if top else (GROUP_INPUT, GROUP_OUTPUT)
        has_out = any(n.type == kinds[1] for n in graph.nodes.values())
        if top and not any(n.type == INPUT for n in graph.nodes.values()) and graph.nodes:
            result.issues.append(Issue("the graph has no input node"))
        if top and graph.nodes and not has_out:
            result.issues.append(Issue("the graph has no output node"))
        self._report_misplaced(graph, result, top)
        if not has_out:
            return
        for node in graph.nodes.values():
            if node.type in (OUTPUT, GROUP_OUTPUT) or graph.out_edges(node.id):
                continue
            if not graph.output_ports(node):
                continue
            info = result.nodes.get(node.id)
            if info is not None:
                info.issues.append(Issue(
                    f"{_where(graph, node)}: its output is not used", node.id, (node.id,),
                    severity=WARNING))


    @staticmethod
    def _report_misplaced(graph: Graph, result: Analysis, top: bool) -> None:
        """Inputs/outputs belong to the top level, group ports inside groups."""
        wrong = (GROUP_INPUT, GROUP_OUTPUT) if top else (INPUT, OUTPUT)
        where = "the top level" if top else "a group"
        for node in graph.nodes.values():
            info = result.nodes.get(node.id)
            if node.type in wrong and info is not None:
                info.issues.append(Issue(
                    f"{_where(graph, node)}: {node.type} nodes cannot be used in {where}",
                    node.id, (node.id,)))


def analyze(graph: Graph) -> Analysis:
    """Analyse ``graph`` from scratch."""
    return Analyzer(graph).run()
