"""The box that stands for one node: header, key parameters, output shape, ports, badges.

A :class:`NodeItem` draws a :class:`~netbuilder.ui.canvas.looks.NodeLook` and nothing
else; it holds no domain state. Geometry (box, header and port paths, bounding rect) is
computed when the look's ports change, text is laid out once per look change
(``QStaticText``), and the item is cached in device coordinates, so a repaint of an
unchanged node is a pixmap blit. Below a level of detail of 0.4 only a coloured box is
drawn.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPolygonF, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from netbuilder.core.layout import IO_HEIGHT as COMPACT_HEIGHT
from netbuilder.core.layout import NODE_HEIGHT, NODE_WIDTH, PORT_PITCH
from netbuilder.ui.canvas.looks import NodeLook, PortLook
from netbuilder.ui.canvas.style import CanvasStyle

if TYPE_CHECKING:
    from netbuilder.ui.canvas.edge_item import EdgeItem

#: Below this level of detail nodes are plain coloured boxes.
LOD_BOXES = 0.4
#: Below this level of detail only the name is written.
LOD_NAME = 0.55
#: Colour, glyph and explanation of each training flag (see :meth:`NodeItem.set_flag`).
FLAGS = {
    "vanishing": ("#2b8fd6", "↓", "Vanishing gradient: the gradient norm of this node's "
                  "weights fell below 1e-7 during training, so they barely learn"),
    "exploding": ("#d64545", "↑", "Exploding gradient: the gradient norm of this node's "
                  "weights rose above 1e3 during training; lower the learning rate"),
}

HEADER = 24.0
TOGGLE = 14.0
RADIUS = 7.0
PORT_RADIUS = 5.0
SLOT_WIDTH = 28.0
PAD = 10.0
_MARGIN = 12.0  # room for the selection halo, badges and ports outside the box
_HIT = 10.0


def box_size(look: NodeLook) -> tuple[float, float]:
    """Width and height of the box for ``look`` (as :func:`core.layout.estimate_size`)."""
    ports = max(len(look.inputs), len(look.outputs), 1)
    width = max(NODE_WIDTH, ports * PORT_PITCH + 24.0)
    return width, COMPACT_HEIGHT if look.compact else NODE_HEIGHT


def slot_half_width(port: PortLook) -> float:
    """Half the width of a multi-input slot: room for every wire entering it."""
    return max(SLOT_WIDTH, 12.0 * port.wires + 8.0) / 2


class NodeItem(QGraphicsItem):
    """A node box in the scene, at the node's position (its top-left corner)."""

    def __init__(self, node_id: str, look: NodeLook, style: CanvasStyle) -> None:
        super().__init__()
        self.node_id = node_id
        self.look = look
        self.style = style
        self.edges: list[EdgeItem] = []
        self.hot_ports: frozenset[tuple[str, str]] = frozenset()
        self.flag = ""
        self._texts: dict[str, tuple[QStaticText, QPointF]] | None = None
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1.0)
        self._layout_geometry()

    # -- model mirror -------------------------------------------------------------------
    def set_look(self, look: NodeLook) -> bool:
        """Show ``look``; return whether anything changed."""
        if look == self.look:
            return False
        ports_changed = (look.inputs != self.look.inputs or look.outputs != self.look.outputs
                         or look.compact != self.look.compact)
        self.look = look
        if ports_changed:
            self.prepareGeometryChange()
            self._layout_geometry()
            for edge in self.edges:
                edge.update_path()
        self._texts = None  # laid out again when next painted
        self.update()
        return True

    def tooltip(self) -> str:
        """Rich text shown when hovering the node (see :meth:`GraphScene.helpEvent`)."""
        if self.flag in FLAGS:
            return f"{self.look.tooltip}<br><b>{FLAGS[self.flag][2]}</b>"
        return self.look.tooltip

    def set_flag(self, flag: str) -> None:
        """Mark the node with a training flag (a key of :data:`FLAGS`; ``""`` clears it)."""
        flag = flag if flag in FLAGS else ""
        if flag != self.flag:
            self.flag = flag
            self.update()

    def set_style(self, style: CanvasStyle) -> None:
        """Repaint with another theme."""
        self.style = style
        self._texts = None
        self.update()

    def set_hot_ports(self, ports: frozenset[tuple[str, str]]) -> None:
        """Highlight ports (``("in", name)``/``("out", name)``) a dragged wire may join."""
        if ports != self.hot_ports:
            self.hot_ports = ports
            self.update()

    # -- geometry -----------------------------------------------------------------------
    @property
    def size(self) -> tuple[float, float]:
        """Width and height of the box."""
        return self._width, self._height

    def box_rect(self) -> QRectF:
        """The box in item coordinates (without halo and ports)."""
        return QRectF(0.0, 0.0, self._width, self._height)

    def scene_box(self) -> QRectF:
        """The box in scene coordinates."""
        return self.box_rect().translated(self.pos())

    def _layout_geometry(self) -> None:
        self._width, self._height = box_size(self.look)
        self._bounds = self.box_rect().adjusted(-_MARGIN, -_MARGIN, _MARGIN, _MARGIN)
        self._body = QPainterPath()
        self._body.addRoundedRect(self.box_rect(), RADIUS, RADIUS)
        top = QPainterPath()
        top.addRect(QRectF(0.0, 0.0, self._width, HEADER))
        self._header = self._body.intersected(top)
        self._ports = {("in", p.name): self._port_center(i, len(self.look.inputs), 0.0)
                       for i, p in enumerate(self.look.inputs)}
        self._ports.update({("out", p.name): self._port_center(i, len(self.look.outputs),
                                                               self._height)
                            for i, p in enumerate(self.look.outputs)})

    def _port_center(self, index: int, count: int, y: float) -> QPointF:
        return QPointF(self._width * (index + 1) / (count + 1), y)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._body

    def port_pos(self, kind: str, name: str, slot: tuple[int, int] = (0, 1)) -> QPointF:
        """Scene position of a port (``kind`` is ``"in"`` or ``"out"``).

        Args:
            kind: ``"in"`` or ``"out"``.
            name: Port name.
            slot: For a multi-input port, the wire's index and the number of wires: the
                wires enter side by side along the slot.
        """
        local = self._ports.get((kind, name))
        if local is None:  # a port that is gone: attach to the middle of the edge
            local = QPointF(self._width / 2, 0.0 if kind == "in" else self._height)
        index, count = slot
        port = self._port_look((kind, name))
        if port is not None and port.multi and count > 1:
            half = slot_half_width(port) - PORT_RADIUS
            local = QPointF(local.x() - half + 2 * half * index / (count - 1), local.y())
        return self.mapToScene(local)

    def port_at(self, scene_pos: QPointF, slack: float = _HIT) -> tuple[str, str] | None:
        """The port under ``scene_pos``, as ``(kind, name)``, or None."""
        local = self.mapFromScene(scene_pos)
        best, best_distance = None, slack
        for key, center in self._ports.items():
            port = self._port_look(key)
            half = slot_half_width(port) if port is not None and port.multi else 0.0
            dx = max(abs(local.x() - center.x()) - half, 0.0)
            distance = math.hypot(dx, local.y() - center.y())
            if distance <= best_distance:
                best, best_distance = key, distance
        return best

    def _port_look(self, key: tuple[str, str]) -> PortLook | None:
        ports = self.look.inputs if key[0] == "in" else self.look.outputs
        return next((p for p in ports if p.name == key[1]), None)

    def toggle_hit(self, scene_pos: QPointF) -> bool:
        """Whether ``scene_pos`` is on a group's expand chevron."""
        return self.look.group and self._toggle_rect().contains(self.mapFromScene(scene_pos))

    def _toggle_rect(self) -> QRectF:
        return QRectF(PAD - 6.0, 2.0, TOGGLE + 6.0, HEADER - 4.0)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.setZValue(2.0 if value else 1.0)
        return super().itemChange(change, value)

    # -- text ---------------------------------------------------------------------------
    def _layout_text(self) -> dict[str, tuple[QStaticText, QPointF]]:
        style, look, width = self.style, self.look, self._width
        title, title_w = style.text("title", look.title, width * 0.45)
        glyphs = 14.0 if look.frozen else 0.0
        left = PAD + (TOGGLE if look.group else 0.0)
        name_room = width - PAD - left - title_w - 8.0 - glyphs
        texts = {"name": (style.text("name", look.name, name_room)[0], QPointF(left, 5.0)),
                 "title": (title, QPointF(width - PAD - title_w, 6.5))}
        for key, (text, font, x, y, room) in self._body_rows().items():
            texts[key] = (style.text(font, text, room)[0], QPointF(x, y))
        return texts

    def _body_rows(self) -> dict[str, tuple[str, str, float, float, float]]:
        """Text, font, x, y and room of each body row: key parameters, shape, costs."""
        look, width = self.look, self._width
        shape = look.shape or ("?" if look.inputs or look.group else "")
        if look.compact:
            return {"shape": (shape, "shape", PAD, HEADER + 7.0, width - 2 * PAD)}
        params, macs = self._cost_text("params"), self._cost_text("macs")
        params_w = self.style.text("small", params)[1]
        macs_w = self.style.text("small", macs)[1]
        top, bottom = HEADER + 7.0, HEADER + 27.0
        return {
            "label": (look.label, "detail", PAD, top, width - 3 * PAD - params_w),
            "shape": (shape, "shape", PAD, bottom - 1.0, width - 3 * PAD - macs_w),
            "params": (params, "small", width - PAD - params_w, top + 1.0, params_w + 1),
            "macs": (macs, "small", width - PAD - macs_w, bottom + 1.0, macs_w + 1),
        }

    def _cost_text(self, which: str) -> str:
        look = self.look
        text, heavy = (look.params, look.heavy_params) if which == "params" \
            else (look.macs, look.heavy_macs)
        return f"▲ {text}" if heavy and text else text

    # -- painting -----------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < LOD_BOXES:
            self._paint_box(painter)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_frame(painter)
        self._paint_texts(painter, full=lod >= LOD_NAME)
        self._paint_ports(painter)
        self._paint_badges(painter)

    def _paint_box(self, painter: QPainter) -> None:
        style = self.style
        painter.setPen(style.pens["error"] if self.look.errors else
                       style.pens["selected"] if self.isSelected() else Qt.PenStyle.NoPen)
        painter.setBrush(style.family(self.look.family)[1])
        painter.drawRect(self.box_rect())

    def _paint_frame(self, painter: QPainter) -> None:
        style, box = self.style, self.box_rect()
        painter.setPen(Qt.PenStyle.NoPen)
        if self.look.group:  # a second card behind: this box stands for several
            painter.setPen(style.pens["border"])
            painter.setBrush(style.brushes["group_back"])
            painter.drawRoundedRect(box.translated(5.0, 5.0), RADIUS, RADIUS)
            painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.brushes["shade"])
        painter.drawRoundedRect(box.translated(0.0, 2.0), RADIUS, RADIUS)
        if self.isSelected():
            painter.setPen(style.pens["halo"])
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self._body)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.brushes["node"])
        painter.drawPath(self._body)
        painter.setBrush(style.family(self.look.family)[0])
        painter.drawPath(self._header)
        pen = style.pens["error"] if self.look.errors else \
            style.pens["selected"] if self.isSelected() else style.pens["border"]
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._body)

    def _paint_texts(self, painter: QPainter, full: bool) -> None:
        if self._texts is None:
            self._texts = self._layout_text()
        pens = self.style.pens
        colors = {"name": "header_text", "title": "header_text", "label": "text",
                  "shape": "text", "params": "heavy" if self.look.heavy_params else "muted",
                  "macs": "heavy" if self.look.heavy_macs else "muted"}
        for key, (static, pos) in self._texts.items():
            if not full and key not in ("name", "shape"):
                continue
            painter.setFont(self.style.fonts[_FONT_OF[key]])
            painter.setPen(pens[colors[key]])
            if key == "title":
                painter.setOpacity(0.85)
            painter.drawStaticText(pos, static)
            painter.setOpacity(1.0)
        if self.look.group and full:
            _chevron(painter, QPointF(PAD + 3.5, HEADER / 2), pens["header_text"].color())
        if self.look.frozen and full:
            name_end = self._texts["name"][1].x() + self._texts["name"][0].size().width()
            _snowflake(painter, QPointF(name_end + 10.0, HEADER / 2), 5.0, pens["glyph"])

    def _paint_ports(self, painter: QPainter) -> None:
        style = self.style
        for key, center in self._ports.items():
            port = self._port_look(key)
            if port is None:
                continue
            hot = key in self.hot_ports
            painter.setPen(style.pens["port_hot" if hot else "port"])
            painter.setBrush(style.brushes["port_hot" if hot else
                                           "port_connected" if port.connected else "port"])
            radius = PORT_RADIUS + (1.5 if hot else 0.0)
            if port.multi:
                half = slot_half_width(port)
                rect = QRectF(center.x() - half, center.y() - radius, 2 * half, 2 * radius)
                painter.drawRoundedRect(rect, radius, radius)
            else:
                painter.drawEllipse(center, radius, radius)

    def _paint_badges(self, painter: QPainter) -> None:
        if self.flag:
            self._paint_flag(painter)
        if not self.look.errors:
            return
        style = self.style
        center = QPointF(self._width - 2.0, 2.0)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.brushes["error"])
        painter.drawEllipse(center, 8.0, 8.0)
        painter.setPen(style.pens["badge_text"])
        painter.setFont(style.fonts["badge"])
        painter.drawText(QRectF(center.x() - 8.0, center.y() - 8.0, 16.0, 16.0),
                         Qt.AlignmentFlag.AlignCenter, "!")


    def _paint_flag(self, painter: QPainter) -> None:
        """A round badge on the left corner: ↓ vanishing or ↑ exploding gradients."""
        color, glyph, _text = FLAGS[self.flag]
        center = QPointF(2.0, 2.0)
        painter.setPen(self.style.pens["badge_text"])
        painter.setBrush(QColor(color))
        painter.drawEllipse(center, 8.5, 8.5)
        painter.setFont(self.style.fonts["badge"])
        painter.drawText(QRectF(center.x() - 8.0, center.y() - 8.0, 16.0, 16.0),
                         Qt.AlignmentFlag.AlignCenter, glyph)


_FONT_OF = {"name": "name", "title": "title", "label": "detail", "shape": "shape",
            "params": "small", "macs": "small"}


def _chevron(painter: QPainter, center: QPointF, color: QColor) -> None:
    """A small right-pointing triangle: click to expand the group in place."""
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawPolygon(QPolygonF([QPointF(center.x() - 3.0, center.y() - 5.0),
                                   QPointF(center.x() + 4.0, center.y()),
                                   QPointF(center.x() - 3.0, center.y() + 5.0)]))


def _snowflake(painter: QPainter, center: QPointF, radius: float, pen: Any) -> None:
    """Three crossed strokes: the frozen mark."""
    painter.setPen(pen)
    for k in range(3):
        angle = math.pi * k / 3
        dx, dy = radius * math.cos(angle), radius * math.sin(angle)
        painter.drawLine(QPointF(center.x() - dx, center.y() - dy),
                         QPointF(center.x() + dx, center.y() + dy))
