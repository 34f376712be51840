"""The frame of a group expanded in place: a tinted area with a header around its body.

A :class:`GroupFrame` stands where the group's collapsed box would be (its top-left is
the group node's position) and is sized by the scene to hold the body's items. Only the
header is hit by the mouse (the inside behaves like canvas); the chevron in the header
collapses the group.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from netbuilder.ui.canvas.levels import FRAME_HEADER
from netbuilder.ui.canvas.looks import NodeLook
from netbuilder.ui.canvas.style import CanvasStyle

#: Smallest size of a frame (an empty body still shows its header and some room).
MIN_WIDTH, MIN_HEIGHT = 220.0, FRAME_HEADER + 40.0
_RADIUS = 10.0
_PAD = 10.0
_TOGGLE = 18.0


class GroupFrame(QGraphicsItem):
    """An expanded group: header (name, type, shape, collapse chevron) and body area."""

    def __init__(self, node_id: str, look: NodeLook, style: CanvasStyle, depth: int) -> None:
        super().__init__()
        self.node_id = node_id
        self.look = look
        self.style = style
        self._rect = QRectF(0.0, 0.0, 200.0, 120.0)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-10.0 + depth)

    # -- geometry -----------------------------------------------------------------------
    @property
    def size(self) -> tuple[float, float]:
        """Width and height of the frame."""
        return self._rect.width(), self._rect.height()

    def set_size(self, width: float, height: float) -> None:
        """Resize (the scene fits the frame around its body)."""
        rect = QRectF(0.0, 0.0, max(width, MIN_WIDTH), max(height, MIN_HEIGHT))
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect

    def scene_box(self) -> QRectF:
        """The frame in scene coordinates."""
        return self._rect.translated(self.pos())

    def header_rect(self) -> QRectF:
        """The header band in item coordinates."""
        return QRectF(0.0, 0.0, self._rect.width(), FRAME_HEADER)

    def header_hit(self, scene_pos: QPointF) -> bool:
        """Whether ``scene_pos`` is on the header."""
        return self.header_rect().contains(self.mapFromScene(scene_pos))

    def toggle_hit(self, scene_pos: QPointF) -> bool:
        """Whether ``scene_pos`` is on the collapse chevron."""
        return self._toggle_rect().contains(self.mapFromScene(scene_pos))

    def _toggle_rect(self) -> QRectF:
        return QRectF(6.0, (FRAME_HEADER - _TOGGLE) / 2, _TOGGLE, _TOGGLE)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-4.0, -4.0, 4.0, 4.0)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.header_rect())
        return path

    # -- state --------------------------------------------------------------------------
    def set_look(self, look: NodeLook) -> bool:
        """Show ``look``; return whether anything changed."""
        if look == self.look:
            return False
        self.look = look
        self.update()
        return True

    def set_style(self, style: CanvasStyle) -> None:
        """Repaint with another theme."""
        self.style = style
        self.update()

    def tooltip(self) -> str:
        """The group's tooltip (with a hint on collapsing)."""
        return self.look.tooltip.replace("double-click to open",
                                         "click ▾ to collapse, double-click to open")

    # -- painting -----------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        style, rect = self.style, self._rect
        header_brush, tint = style.family(self.look.family)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(tint)
        painter.setOpacity(0.35)
        painter.drawRoundedRect(rect, _RADIUS, _RADIUS)
        painter.setOpacity(1.0)
        header = QPainterPath()
        header.addRoundedRect(rect, _RADIUS, _RADIUS)
        band = QPainterPath()
        band.addRect(self.header_rect())
        painter.setBrush(header_brush)
        painter.drawPath(header.intersected(band))
        pen = style.pens["error"] if self.look.errors else \
            style.pens["selected"] if self.isSelected() else style.pens["border"]
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, _RADIUS, _RADIUS)
        self._paint_header_text(painter)

    def _paint_header_text(self, painter: QPainter) -> None:
        style, width = self.style, self._rect.width()
        painter.setPen(style.pens["header_text"])
        painter.setBrush(style.pens["header_text"].color())
        toggle = self._toggle_rect()
        c = toggle.center()
        painter.drawPolygon(QPolygonF([QPointF(c.x() - 5, c.y() - 3), QPointF(c.x() + 5, c.y() - 3),
                                       QPointF(c.x(), c.y() + 3)]))
        right = f"{self.look.title}  ·  {self.look.shape or '?'}"
        right_text, right_w = style.text("title", right, width * 0.5)
        name_room = width - toggle.right() - 2 * _PAD - right_w - 8.0
        name_text, _ = style.text("name", self.look.name, name_room)
        painter.setFont(style.fonts["name"])
        painter.drawStaticText(QPointF(toggle.right() + 6.0, 8.0), name_text)
        painter.setFont(style.fonts["title"])
        painter.drawStaticText(QPointF(width - _PAD - right_w, 9.5), right_text)
