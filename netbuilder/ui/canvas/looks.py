"""What a node box shows, computed from the model and its analysis (no Qt).

A :class:`NodeLook` is a plain, comparable snapshot of everything a
:class:`~netbuilder.ui.canvas.node_item.NodeItem` draws. After each batch of model events
the scene computes every shown node's look and hands it to the item; an item whose look
did not change neither rebuilds its text nor repaints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from netbuilder.blocks.opaque import OPAQUE
from netbuilder.core.analysis import Analysis, NodeInfo, format_shape
from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT

#: A layer is "heavy" in parameters (MACs) when it holds at least this share of the
#: network's total...
HEAVY_SHARE = 0.10
#: ... and is among this top fraction of the network's layers by that cost; a group when
#: it holds at least this share.
HEAVY_TOP, HEAVY_GROUP_SHARE = 0.05, 0.25
#: Nothing is heavy in a network with fewer layers with parameters: there, a big share
#: says little (a batch norm may hold a third of a tiny network's parameters).
HEAVY_MIN_LAYERS = 12

_IO = (INPUT, OUTPUT, GROUP_INPUT, GROUP_OUTPUT)


@dataclass(frozen=True)
class PortLook:
    """One port of a node box (``wires``: how many are connected to it)."""

    name: str
    multi: bool = False
    connected: bool = False
    wires: int = 0


@dataclass(frozen=True)
class NodeLook:
    """Everything a node box shows.

    Attributes:
        name: Node name.
        title: Block title (``Conv 2D``).
        family: Block family (picks the header colour).
        label: Key parameters (``5×5, 16, s1 p2``).
        shape: Output shape (``6×28×28``), ``""`` when unknown.
        params: Parameter count in a few characters (``2.4k params``), or ``""``.
        macs: Multiply-accumulates in a few characters (``118k MACs``), or ``""``.
        inputs: Input ports, left to right.
        outputs: Output ports, left to right.
        compact: Drawn shorter: input/output and group-port nodes, and blocks with no
            key parameters and no cost (activations, flatten...).
        group: The node is a (collapsed) group.
        frozen: Excluded from training.
        heavy: Share text (``41% of params``) when the node is heavy, else ``""``.
        heavy_params: The node is among the network's heaviest in parameters
            (:class:`HeavyRule`).
        heavy_macs: The node is among the network's heaviest in MACs.
        errors: Error messages shown on the node.
        warnings: Warning messages.
        opaque: An imported call no block reproduces (drawn with a dashed border).
        note: A line of explanation for the tooltip (what an opaque node calls).
    """

    name: str
    title: str
    family: str
    label: str = ""
    shape: str = ""
    params: str = ""
    macs: str = ""
    inputs: tuple[PortLook, ...] = ()
    outputs: tuple[PortLook, ...] = ()
    compact: bool = False
    group: bool = False
    frozen: bool = False
    heavy: str = ""
    heavy_params: bool = False
    heavy_macs: bool = False
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    opaque: bool = False
    note: str = ""

    @property
    def tooltip(self) -> str:
        """Rich-text tooltip: name, type, shape, costs and every problem."""
        lines = [f"<b>{_esc(self.name)}</b> — {_esc(self.title)}"]
        if self.label:
            lines.append(_esc(self.label))
        if self.shape:
            lines.append(f"output {_esc(self.shape)}")
        cost = " · ".join(t for t in (self.params, self.macs) if t)
        if cost:
            lines.append(_esc(cost))
        if self.heavy:
            lines.append(f"<b>Heavy</b>: {_esc(self.heavy)} of the network — among its "
                         "costliest parts (the highlighted figures)")
        if self.note:
            lines.append(f"<i>{_esc(self.note)}</i>")
        if self.frozen:
            lines.append("frozen (not trained)")
        if self.group:
            lines.append("<i>double-click to open</i>")
        lines += [f"<span style='color:#d92d20'>✖ {_esc(m)}</span>" for m in self.errors]
        lines += [f"<span style='color:#b26b00'>⚠ {_esc(m)}</span>" for m in self.warnings]
        return "<br>".join(lines)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def compact_number(value: int) -> str:
    """``1234`` → ``1.2k``, ``23_500_000`` → ``23.5M``."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            text = f"{scaled:.1f}".rstrip("0").rstrip(".") if scaled < 100 else f"{scaled:.0f}"
            return f"{text}{suffix}"
    return str(value)


def _count(value: int, unit: str) -> str:
    return f"{compact_number(value)} {unit}" if value else ""


@dataclass(frozen=True)
class HeavyRule:
    """Which nodes are heavy: the costliest few of a network large enough to say so.

    A layer (a node without a body) is heavy in parameters when it is among the top
    :data:`HEAVY_TOP` of the network's layers by parameters and holds at least
    :data:`HEAVY_SHARE` of them; a group when it holds :data:`HEAVY_GROUP_SHARE`. The same
    for MACs. In a network of fewer than :data:`HEAVY_MIN_LAYERS` layers with parameters
    nothing is heavy.

    Attributes:
        params: Least parameters of a heavy layer (``inf``: none is heavy).
        macs: Least MACs of a heavy layer.
        group_params: Least parameters of a heavy group.
        group_macs: Least MACs of a heavy group.
    """

    params: float = math.inf
    macs: float = math.inf
    group_params: float = math.inf
    group_macs: float = math.inf

    @classmethod
    def of(cls, graph: Graph, analysis: Analysis) -> HeavyRule:
        """The rule for the whole network ``graph`` belongs to, given its analysis."""
        params, macs = [], []
        levels, infos = [graph.root], analysis.nodes
        while levels:  # every layer at any depth (a loop: faster than walk's generators)
            for node in levels.pop().nodes.values():
                if node.body is not None:
                    levels.append(node.body)
                elif (info := infos.get(node.id)) is not None:
                    params.append(info.params)
                    macs.append(info.macs)
        if sum(1 for p in params if p) < HEAVY_MIN_LAYERS:
            return cls()
        return cls(_top(params, analysis.total_params), _top(macs, analysis.total_macs),
                    HEAVY_GROUP_SHARE * analysis.total_params or math.inf,
                    HEAVY_GROUP_SHARE * analysis.total_macs or math.inf)

    def heavy(self, node: Node, info: NodeInfo | None) -> tuple[bool, bool]:
        """Whether ``node`` is heavy in parameters and in MACs."""
        if info is None:
            return False, False
        if node.body is not None:
            return info.params >= self.group_params, info.macs >= self.group_macs
        return info.params >= self.params, info.macs >= self.macs


def _top(costs: list[int], total: int) -> float:
    """The least cost among the top :data:`HEAVY_TOP` that holds :data:`HEAVY_SHARE`."""
    ranked = sorted((c for c in costs if c), reverse=True)
    if not ranked or not total:
        return math.inf
    rank = ranked[max(1, math.ceil(len(ranked) * HEAVY_TOP)) - 1]
    return max(float(rank), HEAVY_SHARE * total)


def _heavy_text(info: NodeInfo | None, analysis: Analysis, params: bool, macs: bool) -> str:
    if info is None:
        return ""
    parts = [f"{part / total:.0%} of its {what}" for part, total, what, flag in (
        (info.params, analysis.total_params, "parameters", params),
        (info.macs, analysis.total_macs, "MACs", macs)) if flag and total]
    return " and ".join(parts)


def _ports(graph: Graph, node: Node) -> tuple[tuple[PortLook, ...], tuple[PortLook, ...]]:
    used_in: dict[str, int] = {}
    for edge in graph.in_edges(node.id):
        used_in[edge.target_port] = used_in.get(edge.target_port, 0) + 1
    used_out = {e.source_port for e in graph.out_edges(node.id)}
    inputs = tuple(PortLook(p.name, p.multi, p.name in used_in, used_in.get(p.name, 0))
                   for p in graph.input_ports(node))
    outputs = tuple(PortLook(name, False, name in used_out)
                    for name in graph.output_ports(node))
    return inputs, outputs


def _label(graph: Graph, node: Node) -> str:
    spec = graph.spec(node)
    try:
        label = spec.label(node.resolved)
    except Exception:  # a block's label must never break the canvas
        label = ""
    if node.type == GROUP and node.body is not None:
        inner = sum(1 for n in node.body.nodes.values() if n.type not in _IO)
        label = f"{inner} block{'s' if inner != 1 else ''}"
    return label


def describe(graph: Graph, node: Node, analysis: Analysis,
             inner_errors: tuple[str, ...] = (), rule: HeavyRule | None = None) -> NodeLook:
    """The look of ``node`` (of ``graph``) given ``analysis``.

    Args:
        graph: The graph level the node belongs to.
        node: The node.
        analysis: The document's current analysis.
        inner_errors: Errors inside a group's body, shown on the group.
        rule: Which nodes are heavy (default: computed for ``graph``'s network).
    """
    spec = graph.spec(node)
    info = analysis.nodes.get(node.id)
    issues = info.issues if info is not None else []
    inputs, outputs = _ports(graph, node)
    shape = info.shape if info is not None else None
    if shape is None and info is not None and node.type in (OUTPUT, GROUP_OUTPUT) \
            and info.inputs:
        shape = info.inputs[0]
    shown = "" if shape is None else format_shape(shape)
    if info is not None and node.body is None and len(set(info.outputs.values())) > 1:
        shown = " | ".join(map(format_shape, info.outputs.values()))  # a split's parts
    label = _label(graph, node)
    params = _count(info.params, "params") if info is not None else ""
    macs = _count(info.macs, "MACs") if info is not None else ""
    opaque = node.type == OPAQUE
    if opaque and macs:
        macs = f"{macs} (measured)"
    heavy_params, heavy_macs = (rule or HeavyRule.of(graph, analysis)).heavy(node, info)
    group = node.body is not None
    return NodeLook(
        name=node.name, title=spec.title, family=spec.family, label=label,
        shape=shown, params=params, macs=macs,
        inputs=inputs, outputs=outputs,
        compact=node.type in _IO or not (label or params or macs or group),
        group=group, frozen=node.frozen,
        heavy=_heavy_text(info, analysis, heavy_params, heavy_macs),
        heavy_params=heavy_params, heavy_macs=heavy_macs,
        errors=tuple(i.message for i in issues if i.severity == "error") + inner_errors,
        warnings=tuple(i.message for i in issues if i.severity != "error"),
        opaque=opaque, note=_opaque_note(node) if opaque else "",
    )


def _opaque_note(node: Node) -> str:
    """What an opaque node calls, for its tooltip."""
    target = str(node.params.get("target", "")).replace(":", ".")
    return (f"Imported call {target}, kept as it is: its shape comes from running it on the "
            "meta device and its MACs are measured")


class LookBook:
    """Computes node looks, skipping nodes whose look cannot have changed.

    A node's look depends on its parameters, name, flags, the wiring of its level (the
    ``stamp`` the scene bumps on every structural change) and its analysis figures. The
    book keeps those inputs per node and describes again only nodes whose inputs differ,
    so an edit whose effect stays local refreshes a few items, not all. Groups are always
    described again (edits inside their bodies change them).
    """

    def __init__(self) -> None:
        self._keys: dict[str, tuple[object, ...]] = {}
        self._rule: tuple[Analysis | None, HeavyRule] = (None, HeavyRule())

    def forget(self, node_id: str) -> None:
        """Drop what is known of a node that left the view."""
        self._keys.pop(node_id, None)

    def clear(self) -> None:
        """Forget every node."""
        self._keys.clear()

    def changed(self, graph: Graph, node_ids: Iterable[str], analysis: Analysis,
                stamp: int) -> Iterator[tuple[str, NodeLook]]:
        """``(node id, look)`` for each of ``node_ids`` whose look may have changed."""
        nested = nested_errors(graph, analysis) if analysis.errors else {}
        rule = self.heavy_rule(graph, analysis)
        for node_id in node_ids:
            node = graph.nodes.get(node_id)
            if node is None:
                continue
            info = analysis.nodes.get(node_id)
            key = None if node.body is not None else (
                stamp, node.resolved, node.name, node.frozen, nested.get(node_id),
                None if info is None else (
                    info.outputs, info.inputs, info.params, info.macs,
                    tuple(i.message for i in info.issues), rule.heavy(node, info)))
            if key is not None and self._keys.get(node_id) == key:
                continue
            if key is not None:
                self._keys[node_id] = key
            yield node_id, describe(graph, node, analysis, nested.get(node_id, ()), rule)

    def heavy_rule(self, graph: Graph, analysis: Analysis) -> HeavyRule:
        """The heavy rule of ``analysis`` (computed once per analysis)."""
        if self._rule[0] is not analysis:
            self._rule = (analysis, HeavyRule.of(graph, analysis))
        return self._rule[1]


def edge_errors(graph: Graph, analysis: Analysis) -> dict[Edge, str]:
    """Messages of the issues that blame one wire of ``graph``."""
    out: dict[Edge, str] = {}
    for issue in analysis.issues:
        if issue.edge is not None and issue.node in graph.nodes:
            out[issue.edge] = issue.message
    return out


def nested_errors(graph: Graph, analysis: Analysis) -> dict[str, tuple[str, ...]]:
    """Errors inside group bodies, keyed by the group of ``graph`` that contains them."""
    out: dict[str, list[str]] = {}
    for issue in analysis.errors:
        if issue.node is None or issue.node in graph.nodes:
            continue
        try:
            level, _ = graph.find(issue.node)
        except Exception:
            continue
        while level.parent is not None and level.parent is not graph:
            level = level.parent
        if level.parent is graph and level.owner is not None:
            out.setdefault(level.owner.id, []).append(issue.message)
    return {key: tuple(value) for key, value in out.items()}
