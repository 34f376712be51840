"""Graph levels shown at once: the base graph and group bodies expanded in place.

A group whose node has ``collapsed == False`` is drawn as a frame holding its body's
nodes. Body coordinates are the body's own (as laid out by its block or by the user);
a :class:`Placement` maps them into the scene: the body's top-left node goes to the top
left of the frame's content area, which sits below the frame header at the group node's
position. Nothing here is stored in the model: expanding and collapsing are the
``collapsed`` attribute, positions stay each level's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF

from netbuilder.core.graph import Graph, Node

#: Space between a frame's border and its content.
FRAME_PAD = 18.0
#: Height of a frame's header band.
FRAME_HEADER = 30.0
#: Deepest nesting expanded in place (deeper groups are drawn collapsed).
MAX_DEPTH = 6

Point = tuple[float, float]


def is_expanded(node: Node) -> bool:
    """Whether ``node`` is a group drawn expanded in place."""
    return node.body is not None and not node.collapsed


def shown_levels(base: Graph) -> dict[Graph, int]:
    """The base graph and every body expanded inside it, with their nesting depth."""
    levels = {base: 0}
    queue = [base]
    while queue:
        graph = queue.pop(0)
        depth = levels[graph]
        if depth >= MAX_DEPTH:
            continue
        for node in graph.nodes.values():
            if is_expanded(node) and node.body not in levels:
                assert node.body is not None
                levels[node.body] = depth + 1
                queue.append(node.body)
    return levels


def anchor_of(graph: Graph) -> Point:
    """The top-left corner of a level's node positions (``(0, 0)`` when empty)."""
    if not graph.nodes:
        return 0.0, 0.0
    return (min(n.pos[0] for n in graph.nodes.values()),
            min(n.pos[1] for n in graph.nodes.values()))


@dataclass(frozen=True)
class Placement:
    """Where one level's coordinates land in the scene.

    Attributes:
        graph: The level.
        depth: Nesting depth (0 for the base graph).
        origin: Scene point of the level point ``anchor``.
        anchor: Level point mapped to ``origin`` (the body's top-left node position).
    """

    graph: Graph
    depth: int
    origin: QPointF
    anchor: Point

    def to_scene(self, pos: Point) -> QPointF:
        """Scene position of a level position."""
        return QPointF(self.origin.x() + pos[0] - self.anchor[0],
                       self.origin.y() + pos[1] - self.anchor[1])

    def to_level(self, point: QPointF) -> Point:
        """Level position of a scene point (rounded to whole pixels)."""
        return (float(round(point.x() - self.origin.x() + self.anchor[0])),
                float(round(point.y() - self.origin.y() + self.anchor[1])))


def base_placement(graph: Graph) -> Placement:
    """The identity placement of the base graph."""
    return Placement(graph, 0, QPointF(0.0, 0.0), (0.0, 0.0))


def body_placement(body: Graph, depth: int, frame_pos: QPointF) -> Placement:
    """The placement of an expanded body whose frame's top-left is ``frame_pos``."""
    origin = QPointF(frame_pos.x() + FRAME_PAD, frame_pos.y() + FRAME_HEADER + FRAME_PAD)
    return Placement(body, depth, origin, anchor_of(body))


def owner_shift(graph: Graph, moved: dict[str, Point]) -> Point:
    """How far a body's anchor moves if nodes take the ``moved`` positions.

    Moving the group node by the same amount keeps every other body node where it is on
    screen (the frame grows towards the moved node instead of the content jumping).
    """
    before = anchor_of(graph)
    positions = [moved.get(n.id, n.pos) for n in graph.nodes.values()]
    positions += [p for nid, p in moved.items() if nid not in graph.nodes]
    if not positions:
        return 0.0, 0.0
    after = (min(p[0] for p in positions), min(p[1] for p in positions))
    return after[0] - before[0], after[1] - before[1]


def compensate(moves: dict[Graph, dict[str, Point]], depths: dict[Graph, int]) -> None:
    """Add the group moves that keep bodies still on screen when their anchors shift.

    Levels are handled deepest first, so that a group moved to compensate its body is
    itself taken into account for the level above. The base level (depth 0) is never
    compensated.

    Args:
        moves: Level → node id → new position; completed in place.
        depths: Nesting depth of every shown level.
    """
    for depth in range(max(depths.values(), default=0), 0, -1):
        for graph in [g for g in list(moves) if depths.get(g) == depth]:
            owner, parent = graph.owner, graph.parent
            dx, dy = owner_shift(graph, moves[graph])
            if owner is None or parent is None or (dx == 0 and dy == 0):
                continue
            above = moves.setdefault(parent, {})
            x, y = above.get(owner.id, owner.pos)
            above[owner.id] = (x + dx, y + dy)
