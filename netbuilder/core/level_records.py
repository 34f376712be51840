"""What the analysis of one group body found, kept so that an unchanged body is reused.

After an edit, most group bodies of a large network (thousands of nodes in hundreds of
groups) are exactly as they were and are fed the same input shapes. The
:class:`~netbuilder.core.analysis.Analyzer` keeps one :class:`LevelRecord` per body and
reuses it when nothing the body's analysis read has changed:

* the body's nodes (the same objects, in the same order), each one's name, type,
  resolved parameters (the same dict: the graph replaces it on every parameter change)
  and body;
* the body's wires;
* the names of the groups around it (issue messages name them);
* the shapes, receptive field and jump its group is fed (compared where the record is
  used);
* every nested body (each has its record, checked the same way);
* the in-place checks of its nodes, which follow values across group boundaries and are
  therefore run again and compared.

Anything else (a frozen flag, a position) does not enter the analysis of a body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netbuilder.core.autograd_rules import Overwrite, overwrite_problem
from netbuilder.core.graph import Edge, Graph, Node

if TYPE_CHECKING:
    from netbuilder.core.analysis import Issue, NodeInfo
    from netbuilder.core.spec import Shape

#: What is fed to a group, per input port: shape (None when unknown), receptive field, jump.
PortFeed = dict[str, tuple["Shape | None", int, int]]
#: What the analysis read from one node: the node, its name, type, resolved parameters, body.
Member = tuple[Node, str, str, dict[str, Any], Graph | None]
#: One in-place check: the wire into the in-place node, and what it found.
OverwriteCheck = tuple[Edge, Overwrite | None]


def members(level: Graph) -> list[Member]:
    """What the analysis reads from each node of ``level``, in node order."""
    return [(node, node.name, node.type, node.resolved, node.body)
            for node in level.nodes.values()]


def _same_members(level: Graph, kept: list[Member]) -> bool:
    """Whether ``level``'s nodes are still those of ``kept``, unchanged (by identity)."""
    if len(kept) != len(level.nodes):
        return False
    for (node, name, kind, resolved, body), now in zip(kept, level.nodes.values()):
        if (now is not node or now.resolved is not resolved or now.body is not body
                or now.name != name or now.type != kind):
            return False
    return True


@dataclass(eq=False)
class LevelRecord:
    """The analysis of one group body and of everything nested in it.

    Attributes:
        ports: What the group was fed when its body was analysed.
        path: Names of the groups from the root down to the body.
        members: What the analysis read from each of the body's nodes.
        edges: The body's wires.
        nodes: The info of every node of the body and of nested bodies, in analysis order.
        issues: The issues of those nodes, in :meth:`Graph.walk` order.
        activations: Output elements per sample of the layers (not groups) among them.
        overwrites: The in-place checks of the body's own nodes.
        children: The records of the bodies directly inside this one.
    """

    ports: PortFeed
    path: tuple[str, ...]
    members: list[Member]
    edges: list[Edge]
    nodes: dict[str, NodeInfo]
    issues: list[Issue] = field(default_factory=list)
    activations: int = 0
    overwrites: list[OverwriteCheck] = field(default_factory=list)
    children: list[tuple[Graph, LevelRecord]] = field(default_factory=list)

    def holds(self, level: Graph, path: tuple[str, ...]) -> bool:
        """Whether ``level`` (at ``path``) is still what was analysed, nested bodies aside."""
        return (path == self.path and level.edges == self.edges
                and _same_members(level, self.members)
                and all(overwrite_problem(level, edge) == found
                        for edge, found in self.overwrites))


def still_holds(level: Graph, record: LevelRecord, path: tuple[str, ...]) -> bool:
    """Whether ``record`` still describes ``level`` (at ``path``) and every body inside."""
    return record.holds(level, path) and all(
        still_holds(child, nested, (*path, child.owner.name if child.owner else ""))
        for child, nested in record.children)
