"""What the analysis checks so that a graph that analyses clean also trains.

Two rules that autograd enforces only when ``backward`` runs:

* **In-place operations.** An in-place block overwrites the value it reads. That is
  wrong when another node reads the same value (it could see the overwritten one), and
  fails in ``backward`` ("a variable needed for gradient computation has been modified by
  an inplace operation") when the block that produced the value saved its *output* for
  its own backward pass. Which blocks save their output follows torch's derivative
  formulas (``tools/autograd/derivatives.yaml``: those written with ``result``), checked
  block by block against torch in ``tests/compiler/test_autograd_rules.py``. The value is
  followed through blocks that return it unchanged (identity, flatten, in-place blocks,
  dropout in evaluation) and across group boundaries.
* **Something to train.** The loss must depend on a trainable parameter, else there is no
  gradient at all ("element 0 of tensors does not require grad"); frozen nodes (and
  everything inside a frozen group) do not count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, INPUT

#: Blocks whose backward pass reads their own output.
SAVES_OUTPUT = frozenset({"relu", "sigmoid", "tanh", "softmax", "log_softmax"})
#: Blocks whose backward pass reads their own output when they run in place (the input
#: is gone); out of place they read their input.
SAVES_OUTPUT_IN_PLACE = frozenset({"leaky_relu", "elu"})
#: Blocks that return the very tensor they are given (``flatten``, ``token_select``: a view).
ALIASES = frozenset({"identity", "flatten", "token_select", "reshape"})
#: Blocks whose outputs are views made by one call returning several (``torch.chunk``):
#: torch refuses to change them in place.
MULTI_VIEWS = frozenset({"split"})
#: Blocks that return their input unchanged in evaluation (and when ``p`` is 0).
EVAL_ALIASES = frozenset({"dropout", "dropout2d", "stochastic_depth"})


def saves_output(node: Node) -> bool:
    """Whether ``node``'s backward pass needs the output it computed."""
    return node.type in SAVES_OUTPUT or (
        node.type in SAVES_OUTPUT_IN_PLACE and node.resolved.get("inplace") is True)


def _returns_input(node: Node, training: bool) -> bool:
    """Whether ``node``'s output is its input tensor (in training, or in evaluation)."""
    if node.type in ALIASES or node.resolved.get("inplace") is True:
        return True
    if node.type in EVAL_ALIASES:
        return not training or node.resolved.get("p") == 0
    return False


@dataclass(frozen=True)
class Overwrite:
    """Why an in-place block may not overwrite its input value.

    Attributes:
        why: What would be overwritten, e.g. ``the output of bn, which side also read``.
        nodes: The nodes involved (the producer, then the other readers).
    """

    why: str
    nodes: tuple[str, ...]


class _Value:
    """A value being followed: the wire it travels on, at one graph level."""

    def __init__(self, level: Graph, edge: Edge) -> None:
        self.level, self.edge = level, edge

    @property
    def source(self) -> Node:
        return self.level.nodes[self.edge.source]

    def other_readers(self) -> list[Edge]:
        """Wires that read the same value, other than the one followed."""
        return [e for e in self.level.out_edges(self.edge.source)
                if e.source_port == self.edge.source_port and e != self.edge]


def overwrite_problem(graph: Graph, edge: Edge) -> Overwrite | None:
    """Why the in-place block ``edge`` leads into may not overwrite the value, or None.

    Args:
        graph: The level holding ``edge``.
        edge: The wire into the in-place block.
    """
    value: _Value | None = _Value(graph, edge)
    in_training = True  # whether the value is still the same tensor when training
    seen: set[tuple[int, Edge]] = set()
    while value is not None and (id(value.level), value.edge) not in seen:
        seen.add((id(value.level), value.edge))
        source, readers = value.source, value.other_readers()
        if source.type == INPUT:
            return Overwrite(f"the input {source.name}", (source.id,))
        if source.type in MULTI_VIEWS:
            return Overwrite(f"a part of {source.name}, a view that torch does not let an "
                             "in-place operation change", (source.id,))
        if readers:
            names = ", ".join(dict.fromkeys(value.level.nodes[e.target].name for e in readers))
            what = f"the group input {source.name}" if source.type == GROUP_INPUT \
                else f"the output of {source.name}"
            return Overwrite(f"{what}, which {names} also read",
                             (source.id, *dict.fromkeys(e.target for e in readers)))
        if in_training and source.body is None and saves_output(source):
            return Overwrite(f"the output of {source.name}, which its backward pass needs "
                             f"(the gradient of {source.type} is computed from it)",
                             (source.id,))
        in_training = in_training and (source.body is not None or source.type == GROUP_INPUT
                                       or _returns_input(source, training=True))
        value = _upstream(value, source)
    return None


def _upstream(value: _Value, source: Node) -> _Value | None:
    """The value ``source`` passes on unchanged, one step up (None: it makes a new one)."""
    level = value.level
    if source.type == GROUP_INPUT:
        owner, parent = level.owner, level.parent
        if owner is None or parent is None:
            return None
        feed = [e for e in parent.in_edges(owner.id) if e.target_port == source.name]
        return _Value(parent, feed[0]) if feed else None
    if source.body is not None:
        body = source.body
        ports = [n for n in body.nodes.values()
                 if n.type == GROUP_OUTPUT and n.name == value.edge.source_port]
        feed = body.in_edges(ports[0].id) if ports else []
        return _Value(body, feed[0]) if feed else None
    if _returns_input(source, training=False):
        feed = level.in_edges(source.id)
        return _Value(level, feed[0]) if feed else None
    return None


def untrained_outputs(graph: Graph, trainable: Callable[[Node], bool]) -> list[Node]:
    """Top-level output nodes that no trainable parameter feeds.

    Args:
        graph: The root graph.
        trainable: Whether a (non-group) node has parameters of its own that would train.
    """
    return [node for node in graph.nodes.values() if node.type == "output"
            and not _feeds_from_trainable(graph, node, trainable)]


def _feeds_from_trainable(graph: Graph, output: Node,
                          trainable: Callable[[Node], bool]) -> bool:
    """Whether a trainable, unfrozen node lies upstream of ``output`` (through groups)."""
    # Each entry: a level, a node, and whether a group around the node is frozen.
    stack: list[tuple[Graph, str, bool]] = [(graph, output.id, False)]
    seen: set[tuple[str, bool]] = set()
    while stack:
        level, node_id, frozen = stack.pop()
        if (node_id, frozen) in seen:
            continue
        seen.add((node_id, frozen))
        node = level.nodes[node_id]
        if node.body is None and not (frozen or node.frozen) and trainable(node):
            return True
        stack.extend(_feeders(level, node, frozen))
    return False


def _feeders(level: Graph, node: Node, frozen: bool) -> list[tuple[Graph, str, bool]]:
    """The nodes whose outputs ``node`` computes from, one step upstream."""
    found: list[tuple[Graph, str, bool]] = []
    if node.type == GROUP_INPUT and level.owner is not None and level.parent is not None:
        parent, owner = level.parent, level.owner
        outside = _frozen_outside(parent)
        for edge in parent.in_edges(owner.id):
            if edge.target_port == node.name:
                found += _producers(parent, edge, outside)
    for edge in level.in_edges(node.id):
        found += _producers(level, edge, frozen)
    return found


def _producers(level: Graph, edge: Edge, frozen: bool) -> list[tuple[Graph, str, bool]]:
    """The node making the value on ``edge``: its source, or a group's output port node."""
    source = level.nodes[edge.source]
    if source.body is None:
        return [(level, source.id, frozen)]
    inner = frozen or source.frozen
    return [(source.body, n.id, inner) for n in source.body.nodes.values()
            if n.type == GROUP_OUTPUT and n.name == edge.source_port]


def _frozen_outside(level: Graph) -> bool:
    """Whether a group around ``level`` (or ``level``'s own owner) is frozen."""
    graph: Graph | None = level
    while graph is not None and graph.owner is not None:
        if graph.owner.frozen:
            return True
        graph = graph.parent
    return False
