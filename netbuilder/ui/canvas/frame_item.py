"""The frame of a group expanded in place: a tinted area with a header around its body.

A :class:`GroupFrame` stands where the group's collapsed box would be (its top-left is
the group node's position) and is sized by the scene to hold the body's items. Only the
header is hit by the mouse (the inside behaves like canvas); the chevron in the header
collapses the group.

The header follows the canvas's semantic zoom (:mod:`netbuilder.ui.canvas.node_item`):
name, block type and shape from :data:`LOD_FULL`, the name in larger letters from
:data:`LOD_SUMMARY`, below that the name in device pixels while the header is tall
enough on screen to hold it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPolygonF, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from netbuilder.ui.canvas.levels import FRAME_HEADER, FRAME_PAD
from netbuilder.ui.canvas.looks import NodeLook
from netbuilder.ui.canvas.node_item import LOD_FULL, LOD_SUMMARY, ShownText, TextRun
from netbuilder.ui.canvas.style import CanvasStyle

#: Smallest size of a frame (an empty body still shows its header and some room).
MIN_WIDTH, MIN_HEIGHT = 220.0, FRAME_HEADER + 40.0
_RADIUS = 10.0
_PAD = 10.0
_TOGGLE = 18.0
_IDENTITY = QTransform()


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
        style = self.style
        painter.setPen(style.pens["header_text"])
        painter.setBrush(style.pens["header_text"].color())
        toggle = self._toggle_rect()
        c = toggle.center()
        painter.drawPolygon(QPolygonF([QPointF(c.x() - 5, c.y() - 3), QPointF(c.x() + 5, c.y() - 3),
                                       QPointF(c.x(), c.y() + 3)]))
        transform = painter.worldTransform()
        scale = QStyleOptionGraphicsItem.levelOfDetailFromTransform(transform)
        runs = self._header_runs(scale, transform)
        device = scale < LOD_SUMMARY
        if device:
            painter.setWorldTransform(_IDENTITY)
        for static, pos, font, pen in runs:
            if device:  # a label on a pale tag: it spans the header and the body's margin
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(style.brushes["node"])
                painter.drawRoundedRect(QRectF(pos, static.size()).adjusted(-3, -1, 3, 1), 3, 3)
            painter.setPen(style.pens[pen])
            painter.setFont(style.fonts[font])
            painter.drawStaticText(pos, static)
        if device:
            painter.setWorldTransform(transform)

    def _header_runs(self, scale: float, transform: QTransform) -> list[TextRun]:
        """The header's texts at ``scale`` (device coordinates below :data:`LOD_SUMMARY`)."""
        style, width = self.style, self._rect.width()
        left = self._toggle_rect().right() + 6.0
        if scale >= LOD_FULL:
            right = f"{self.look.title}  ·  {self.look.shape or '?'}"
            right_text, right_w = style.text("title", right, width * 0.5)
            name_text, _ = style.text("name", self.look.name, width - left - 2 * _PAD
                                      - right_w - 8.0)
            return [(name_text, QPointF(left, (FRAME_HEADER - style.line_height("name")) / 2),
                     "name", "header_text"),
                    (right_text, QPointF(width - _PAD - right_w,
                                         (FRAME_HEADER - style.line_height("title")) / 2),
                     "title", "header_text")]
        if scale >= LOD_SUMMARY:
            name_text, _ = style.text("summary", self.look.name, width - left - _PAD)
            return [(name_text, QPointF(left, (FRAME_HEADER - style.line_height("summary")) / 2),
                     "summary", "header_text")]
        band = transform.mapRect(QRectF(left, 1.0, width - left - _PAD,
                                        FRAME_HEADER + FRAME_PAD - 2.0))
        line = style.line_height("bar_bold")
        if band.height() < line or band.width() < 2 * line:
            return []
        name_text, _ = style.text("bar_bold", self.look.name, band.width())
        return [(name_text, QPointF(band.left(), band.center().y() - line / 2),
                 "bar_bold", "text")]

    def shown_texts(self, scale: float) -> list[ShownText]:
        """Every text the header shows when the view's scale is ``scale``, as drawn."""
        runs = self._header_runs(scale, QTransform.fromScale(scale, scale))
        device = scale < LOD_SUMMARY
        out = []
        for static, pos, font, pen in runs:
            rect = QRectF(pos, static.size())
            if device:
                rect = QRectF(pos / scale, static.size() / scale)
            pixels = self.style.fonts[font].pixelSize() * (1.0 if device else scale)
            out.append(ShownText(static.text(), pixels, pen, rect))
        return out
