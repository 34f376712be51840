"""Wires: a smooth curve from an output port down to an input port.

An :class:`EdgeItem` rebuilds its path only when one of its end points moved (the node
items tell it). A long wire that would pass behind other boxes bends out into a lane
beside them. A wire that has to climb (its target is not below its source: the wire from
the foot of one folded column to the head of the next, a back edge) leaves its source
downwards, runs up a free lane beside the boxes and enters its target from above, with
rounded corners, never through a box. Its bounding rect and hover shape are cached with
the path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPainterPathStroker
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from netbuilder.core.graph import Edge, Graph
from netbuilder.ui.canvas.style import CanvasStyle

if TYPE_CHECKING:
    from netbuilder.ui.canvas.node_item import NodeItem

#: Returns the boxes (scene rects) lying in a rect, except those of the given node ids.
Obstacles = Callable[[QRectF, Sequence[str]], list[QRectF]]

_LANE_GAP = 22.0
_BEND = 60.0
#: A wire whose target is less than this below its source climbs around the boxes.
_CLIMB_BELOW = 40.0
#: How far below its source (above its target) a climbing wire turns.
_TURN = 20.0
_CORNER = 12.0
#: How far to each side a climbing wire looks for a free lane.
_SEARCH = 600.0


def wire_path(start: QPointF, end: QPointF) -> QPainterPath:
    """A vertical S-curve from ``start`` (leaving downwards) to ``end`` (entering from above)."""
    path = QPainterPath(start)
    dy = end.y() - start.y()
    pull = max(abs(dy) * 0.5, 36.0) if dy > 0 else max(-dy * 0.35 + 60.0, 80.0)
    path.cubicTo(QPointF(start.x(), start.y() + pull), QPointF(end.x(), end.y() - pull), end)
    return path


def lane_path(start: QPointF, end: QPointF, lane: float) -> QPainterPath:
    """A wire that bends out to the vertical line ``x = lane`` and back in."""
    path = QPainterPath(start)
    top = QPointF(lane, start.y() + _BEND)
    bottom = QPointF(lane, end.y() - _BEND)
    half = _BEND / 2
    path.cubicTo(QPointF(start.x(), start.y() + half), QPointF(lane, top.y() - half), top)
    path.lineTo(bottom)
    path.cubicTo(QPointF(lane, bottom.y() + half), QPointF(end.x(), end.y() - half), end)
    return path


def climb_path(start: QPointF, end: QPointF, lane: float) -> QPainterPath:
    """Down from ``start``, up the line ``x = lane``, then down into ``end``."""
    low, high = start.y() + _TURN, end.y() - _TURN
    return rounded_path([start, QPointF(start.x(), low), QPointF(lane, low),
                         QPointF(lane, high), QPointF(end.x(), high), end])


def rounded_path(points: Sequence[QPointF], radius: float = _CORNER) -> QPainterPath:
    """A polyline through ``points`` with its corners rounded."""
    path = QPainterPath(points[0])
    for before, corner, after in zip(points, points[1:], points[2:]):
        into, out = corner - before, after - corner
        r = min(radius, _length(into) / 2, _length(out) / 2)
        if r <= 0.5:
            path.lineTo(corner)
            continue
        path.lineTo(corner - into * (r / _length(into)))
        path.quadTo(corner, corner + out * (r / _length(out)))
    path.lineTo(points[-1])
    return path


def _length(vector: QPointF) -> float:
    return max(abs(vector.x()), abs(vector.y()))  # the segments are axis-aligned


def free_lane(blockers: Sequence[QRectF], start: float, end: float) -> float:
    """The x of a vertical lane clear of ``blockers`` with the least sideways travel.

    Lanes keep :data:`_LANE_GAP` from every box; among equally short detours the lane
    nearest the middle of ``start`` and ``end`` wins.
    """
    spans = sorted((r.left() - _LANE_GAP, r.right() + _LANE_GAP) for r in blockers)
    merged: list[list[float]] = []
    for left, right in spans:
        if merged and left <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], right)
        else:
            merged.append([left, right])
    gaps = [(-math.inf, merged[0][0])] if merged else [(-math.inf, math.inf)]
    gaps += [(a[1], b[0]) for a, b in pairwise(merged)]
    gaps += [(merged[-1][1], math.inf)] if merged else []
    middle = (start + end) / 2

    def cost(lane: float) -> tuple[float, float]:
        return abs(lane - start) + abs(lane - end), abs(lane - middle)

    return min((min(max(middle, left), right) for left, right in gaps), key=cost)


def _choose_lane(start: QPointF, end: QPointF, blockers: Sequence[QRectF]) -> float:
    right = max(r.right() for r in blockers) + _LANE_GAP
    left = min(r.left() for r in blockers) - _LANE_GAP
    middle = (start.x() + end.x()) / 2
    return right if abs(right - middle) <= abs(middle - left) else left


class EdgeItem(QGraphicsItem):
    """A wire in the scene; it mirrors one :class:`~netbuilder.core.graph.Edge`."""

    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem, style: CanvasStyle,
                 obstacles: Obstacles | None = None, slot: tuple[int, int] = (0, 1)) -> None:
        super().__init__()
        self.edge = edge
        self.source, self.target = source, target
        self.style = style
        self.error = ""
        self.detoured = False
        self.slot = slot
        self.level: Graph | None = None  # the graph level holding the edge (set by the scene)
        self._obstacles = obstacles
        self._ends: tuple[float, float, float, float] | None = None
        self._path = QPainterPath()
        self._bounds = QRectF()
        self._shape: QPainterPath | None = None
        self._hover = False
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0.0)
        source.edges.append(self)
        target.edges.append(self)
        self.update_path()

    def detach(self) -> None:
        """Forget the node items (before the wire leaves the scene)."""
        for item in (self.source, self.target):
            if self in item.edges:
                item.edges.remove(self)

    # -- geometry -----------------------------------------------------------------------
    def end_points(self) -> tuple[QPointF, QPointF]:
        """Scene positions of the source port and the target port."""
        return (self.source.port_pos("out", self.edge.source_port),
                self.target.port_pos("in", self.edge.target_port, self.slot))

    def set_slot(self, index: int, count: int) -> None:
        """Enter a multi-input port as wire ``index`` of ``count``."""
        if (index, count) != self.slot:
            self.slot = (index, count)
            self.update_path()

    def update_path(self, force: bool = False) -> None:
        """Rebuild the curve if an end point moved (or ``force``)."""
        start, end = self.end_points()
        ends = (start.x(), start.y(), end.x(), end.y())
        if ends == self._ends and not force:
            return
        self._ends = ends
        path = self._route(start, end)
        self.prepareGeometryChange()
        self._path = path
        self._bounds = path.controlPointRect().adjusted(-6.0, -6.0, 6.0, 6.0)
        self._shape = None

    def _route(self, start: QPointF, end: QPointF) -> QPainterPath:
        self.detoured = False
        if self._obstacles is not None and end.y() - start.y() < _CLIMB_BELOW:
            self.detoured = True
            return self._climb(start, end)
        if self._obstacles is None or end.y() - start.y() < 2 * _BEND + 20.0:
            return wire_path(start, end)
        corridor = QRectF(QPointF(min(start.x(), end.x()) - 10.0, start.y() + 12.0),
                          QPointF(max(start.x(), end.x()) + 10.0, end.y() - 12.0))
        blockers = self._obstacles(corridor, (self.source.node_id, self.target.node_id))
        if not blockers:
            return wire_path(start, end)
        self.detoured = True
        return lane_path(start, end, _choose_lane(start, end, blockers))

    def _climb(self, start: QPointF, end: QPointF) -> QPainterPath:
        """The path of a wire that climbs: up a free lane beside the boxes."""
        assert self._obstacles is not None
        top, bottom = end.y() - _TURN - 2.0, start.y() + _TURN + 2.0
        left = min(start.x(), end.x()) - _SEARCH
        right = max(start.x(), end.x()) + _SEARCH
        blockers = self._obstacles(QRectF(QPointF(left, top), QPointF(right, bottom)), ())
        return climb_path(start, end, free_lane(blockers, start.x(), end.x()))

    def path(self) -> QPainterPath:
        """The wire's curve in scene coordinates."""
        return self._path

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(12.0)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    # -- state --------------------------------------------------------------------------
    def set_error(self, message: str) -> None:
        """Mark the wire as the cause of an issue (``""`` clears it)."""
        if message != self.error:
            self.error = message
            self.update()

    def tooltip(self) -> str:
        """Text shown when hovering the wire: the issue it causes, if any."""
        return self.error

    def set_style(self, style: CanvasStyle) -> None:
        """Repaint with another theme."""
        self.style = style
        self.update()

    def set_highlight(self, on: bool) -> None:
        """Draw the wire highlighted (hovered, or a drop target)."""
        if on != self._hover:
            self._hover = on
            self.update()

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.set_highlight(True)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.set_highlight(False)
        super().hoverLeaveEvent(event)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        pens = self.style.pens
        key = "edge_error" if self.error else "edge_selected" if self.isSelected() \
            else "edge_hover" if self._hover else "edge"
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pens[key])
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)


class LinkPreview(QGraphicsItem):
    """The dashed wire that follows the mouse while connecting."""

    def __init__(self, style: CanvasStyle) -> None:
        super().__init__()
        self.style = style
        self._path = QPainterPath()
        self._bounds = QRectF()
        self.setZValue(3.0)

    def set_ends(self, start: QPointF, end: QPointF) -> None:
        """Draw from ``start`` (an output, or the mouse) to ``end``."""
        self.prepareGeometryChange()
        self._path = wire_path(start, end)
        self._bounds = self._path.controlPointRect().adjusted(-4.0, -4.0, 4.0, 4.0)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(self.style.pens["new_link"])
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)

