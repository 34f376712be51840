"""Making room on the canvas when a box changes size, so that nothing overlaps.

A group expanded in place becomes a frame around its body, far larger than its box; a
frame collapsed becomes a box again; nodes grouped become one box. :class:`RoomPlanner`
works out, before the edit is pushed, the size the box will have (from the looks the
scene would give the body's nodes) and the moves of the boxes around it
(:func:`netbuilder.core.layout.make_room`): those below shift down or up, those to the
right shift sideways, so a layout keeps its shape with no overlap and no gap. When the
level is itself a body expanded in place, its frame changes size too, and room is made
around the frame one level up, and so on. Where shifting is not enough (boxes placed by
hand), the level is laid out again with the new sizes. The planner changes nothing: the
caller pushes the edit and the moves as one undo step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from netbuilder.core.analysis import Analysis
from netbuilder.core.graph import Graph, Node
from netbuilder.core.layout import (
    NODE_HEIGHT,
    NODE_WIDTH,
    PORT_PITCH,
    LayoutOptions,
    Rect,
    layered_layout,
    make_room,
    overlapping_pairs,
)
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT
from netbuilder.ui.canvas.frame_item import MIN_HEIGHT, MIN_WIDTH
from netbuilder.ui.canvas.levels import FRAME_HEADER, FRAME_PAD, MAX_DEPTH, Point, shown_levels
from netbuilder.ui.canvas.looks import HeavyRule, describe
from netbuilder.ui.canvas.node_item import box_size

if TYPE_CHECKING:
    from netbuilder.ui.canvas.scene import GraphScene

Size = tuple[float, float]
Moves = dict[Graph, dict[str, Point]]
_NEW = "\0changed"


class RoomPlanner:
    """Plans the moves that make room around a box about to change size.

    Args:
        scene: The scene showing the levels.
        options: Spacing of the layout used where shifting boxes is not enough.
    """

    def __init__(self, scene: GraphScene, options: LayoutOptions | None = None) -> None:
        self.scene = scene
        self.options = options or LayoutOptions()
        self.depths = shown_levels(scene.graph)
        try:
            self.analysis = scene.document.analysis
        except Exception:  # an analysis bug must not stop an expand
            self.analysis = Analysis()
        self.rule = HeavyRule.of(scene.graph, self.analysis)

    # -- sizes ------------------------------------------------------------------------------
    def size_of(self, level: Graph, node: Node, expanded: bool | None = None) -> Size:
        """The size of ``node``'s box, or of its frame when (``expanded``) it is expanded.

        Args:
            level: The level holding the node.
            node: The node.
            expanded: Draw it expanded (True) or collapsed (False); None: as it is now.
        """
        depth = self.depths.get(level, MAX_DEPTH)
        if expanded is None:
            box = self.scene.box(node.id)
            if box is not None:
                return box.size
            expanded = not node.collapsed
        if node.body is not None and expanded and depth < MAX_DEPTH:
            return self.frame_size(self._rects(node.body, depth + 1))
        return box_size(describe(level, node, self.analysis, rule=self.rule))

    def frame_size(self, rects: Iterable[Rect]) -> Size:
        """The size of a frame around boxes ``rects`` of its body (level coordinates)."""
        boxes = list(rects)
        if not boxes:
            return MIN_WIDTH, MIN_HEIGHT
        width = max(x + w for x, _, w, _ in boxes) - min(x for x, _, _, _ in boxes)
        height = max(y + h for _, y, _, h in boxes) - min(y for _, y, _, _ in boxes)
        return (max(width + 2 * FRAME_PAD, MIN_WIDTH),
                max(height + FRAME_HEADER + 2 * FRAME_PAD, MIN_HEIGHT))

    def _rects(self, level: Graph, depth: int | None = None) -> list[Rect]:
        """Boxes of every node of ``level`` as they will be drawn (a body not shown yet)."""
        if depth is not None:
            self.depths.setdefault(level, depth)
        return [(*node.pos, *self.size_of(level, node, None if level in self.scene.levels()
                                          else not node.collapsed))
                for node in level.nodes.values()]

    def rects(self, level: Graph, exclude: Iterable[str] = ()) -> dict[str, Rect]:
        """Boxes of the nodes of a shown ``level`` (level coordinates), but ``exclude``."""
        skip = set(exclude)
        return {node.id: (*node.pos, *self.size_of(level, node))
                for node in level.nodes.values() if node.id not in skip}

    # -- plans ----------------------------------------------------------------------------
    def toggle(self, level: Graph, node_id: str, expanded: bool) -> Moves:
        """Moves that make room for group ``node_id`` expanded (or collapsed) in place."""
        node = level.nodes[node_id]
        old = (*node.pos, *self.size_of(level, node))
        new = (*node.pos, *self.size_of(level, node, expanded))
        return self.around(level, old, new, self.rects(level, exclude=[node_id]), node_id)

    def grouping(self, level: Graph, node_ids: Iterable[str], group: Node) -> Moves:
        """Moves that close the gap nodes ``node_ids`` leave when ``group`` replaces them."""
        ids = set(node_ids)
        grouped = [r for k, r in self.rects(level).items() if k in ids]
        if not grouped or group.body is None:
            return {}
        old = _union(grouped)
        ports = max(sum(n.type == kind for n in group.body.nodes.values())
                    for kind in (GROUP_INPUT, GROUP_OUTPUT))
        new = (*group.pos, max(NODE_WIDTH, ports * PORT_PITCH + 24.0), NODE_HEIGHT)
        return self.around(level, old, new, self.rects(level, exclude=ids))

    def around(self, level: Graph, old: Rect, new: Rect, others: Mapping[str, Rect],
               node_id: str | None = None) -> Moves:
        """Moves of ``others`` (and of the frames around ``level``) as ``old`` becomes ``new``.

        Args:
            level: The level of the box.
            old: The box before, in level coordinates.
            new: The box after (same top-left corner).
            others: The other boxes of the level.
            node_id: The node of the box, if it has one yet (then the level may be laid
                out again when shifting cannot avoid overlaps).
        """
        moved = make_room(others, old, new, gap=self.options.node_gap)
        after = {k: (*moved.get(k, r[:2]), r[2], r[3]) for k, r in others.items()}
        if node_id is not None and overlapping_pairs({**after, _NEW: new}):
            moved = self._relayout(level, after, node_id, new)
            after = {k: (*moved.get(k, r[:2]), r[2], r[3]) for k, r in others.items()}
            new = (*moved.get(node_id, new[:2]), new[2], new[3])
        moves: Moves = {level: moved} if moved else {}
        owner, parent = level.owner, level.parent
        if level is self.scene.graph or owner is None or parent is None \
                or self.scene.frame_item(owner.id) is None:
            return moves
        frame_old = (*owner.pos, *self.size_of(parent, owner))
        frame_new = (*owner.pos, *self.frame_size([*after.values(), new]))
        if frame_new == frame_old:
            return moves
        for graph, positions in self.around(parent, frame_old, frame_new,
                                            self.rects(parent, exclude=[owner.id]),
                                            owner.id).items():
            moves.setdefault(graph, {}).update(positions)
        return moves

    def _relayout(self, level: Graph, rects: Mapping[str, Rect], node_id: str,
                  new: Rect) -> dict[str, Point]:
        sizes = {k: (r[2], r[3]) for k, r in rects.items()}
        sizes[node_id] = (new[2], new[3])
        anchor = (min(n.pos[0] for n in level.nodes.values()),
                  min(n.pos[1] for n in level.nodes.values()))
        options = LayoutOptions(origin=anchor, fold=self.options.fold)
        return {k: p for k, p in layered_layout(level, sizes, options=options).items()
                if p != level.nodes[k].pos}


def _union(rects: Iterable[Rect]) -> Rect:
    boxes = list(rects)
    left, top = min(r[0] for r in boxes), min(r[1] for r in boxes)
    right, bottom = max(r[0] + r[2] for r in boxes), max(r[1] + r[3] for r in boxes)
    return left, top, right - left, bottom - top
