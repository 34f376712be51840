"""The box that stands for one node: header, key parameters, output shape, ports, badges.

A :class:`NodeItem` draws a :class:`~netbuilder.ui.canvas.looks.NodeLook` and nothing
else; it holds no domain state. Geometry (box, header and port paths, bounding rect) is
computed when the look's ports change, text is laid out once per look change
(``QStaticText``), and the item is cached in device coordinates, so a repaint of an
unchanged node is a pixmap blit.

Semantic zoom: what a node shows depends on the view's scale (the level of detail of the
painter's transform), so that no text is ever smaller than
:data:`~netbuilder.ui.canvas.style.MIN_SCREEN_PX` on screen, and all of it is drawn at
full contrast:

* from :data:`LOD_FULL` up, the full view: name and block type in the header, key
  parameters, output shape, parameters and MACs in the body;
* from :data:`LOD_SUMMARY` up, the summary: name and output shape in larger letters;
* below, a bar in the family's colour labelled with the name (and the shape where the
  bar is tall enough) in device pixels, elided to the bar's width plus a little of the
  margin around it, so that labels never reach a neighbour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QStaticText,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from netbuilder.core.layout import IO_HEIGHT as COMPACT_HEIGHT
from netbuilder.core.layout import NODE_HEIGHT, NODE_WIDTH, PORT_PITCH
from netbuilder.ui.canvas.looks import NodeLook, PortLook
from netbuilder.ui.canvas.style import FULL_PX, MIN_SCREEN_PX, SUMMARY_PX, CanvasStyle

if TYPE_CHECKING:
    from netbuilder.ui.canvas.edge_item import EdgeItem

#: From this scale up a node shows everything (its smallest text is readable).
LOD_FULL = MIN_SCREEN_PX / FULL_PX
#: From this scale up to :data:`LOD_FULL`, its name and shape; below, a labelled bar.
LOD_SUMMARY = MIN_SCREEN_PX / SUMMARY_PX
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
_OVERFLOW = 10.0  # how far a bar's label may reach out of the bar, each side
_HIT = 10.0
_IDENTITY = QTransform()

#: One text of a node: laid out text, top-left corner, font and pen (style keys).
TextRun = tuple[QStaticText, QPointF, str, str]


@dataclass(frozen=True)
class ShownText:
    """A text a node shows at some scale (see :meth:`NodeItem.shown_texts`).

    Attributes:
        text: The text as drawn (elided if it had to be).
        pixels: Its font's size on screen, in pixels.
        pen: The style pen it is drawn with (``text``, ``header_text``...).
        rect: Where it lies, in item coordinates.
    """

    text: str
    pixels: float
    pen: str
    rect: QRectF


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
        self._full: tuple[list[TextRun], list[QRectF]] | None = None
        self._summary: list[TextRun] | None = None
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
        self._forget_text()  # laid out again when next painted
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
        self._forget_text()
        self.update()

    def _forget_text(self) -> None:
        self._full = None
        self._summary = None

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
    def _full_runs(self) -> tuple[list[TextRun], list[QRectF]]:
        """The full view's texts, and the highlights behind heavy costs."""
        if self._full is None:
            self._full = self._layout_full()
        return self._full

    def _layout_full(self) -> tuple[list[TextRun], list[QRectF]]:
        style, look, width = self.style, self.look, self._width
        title, title_w = style.text("title", look.title, width * 0.45)
        left = self._name_left()
        name_room = width - PAD - left - title_w - 8.0 - self._glyph_room()
        runs: list[TextRun] = [
            (style.text("name", look.name, name_room)[0],
             QPointF(left, (HEADER - style.line_height("name")) / 2), "name", "header_text"),
            (title, QPointF(width - PAD - title_w, (HEADER - style.line_height("title")) / 2),
             "title", "header_text")]
        pills: list[QRectF] = []
        for text, font, x, y, room in self._body_rows():
            if not text:
                continue
            static, used = style.text(font, text, room)
            runs.append((static, QPointF(x, y), font, "text"))
            if font == "small_bold":
                pills.append(QRectF(x - 4.0, y - 1.0, used + 8.0,
                                    style.line_height(font) + 2.0))
        return runs, pills

    def _name_left(self) -> float:
        return PAD + (TOGGLE if self.look.group else 0.0)

    def _glyph_room(self) -> float:
        return 14.0 if self.look.frozen else 0.0

    def _body_rows(self) -> list[tuple[str, str, float, float, float]]:
        """Text, font, x, y and room of each body row: key parameters, shape, costs."""
        look, width, style = self.look, self._width, self.style
        shape = look.shape or ("?" if look.inputs or look.group else "")
        line = style.line_height("shape")
        if look.compact:
            top = HEADER + (self._height - HEADER - line) / 2
            return [(shape, "shape", PAD, top, width - 2 * PAD)]
        params_font = "small_bold" if look.heavy_params else "small"
        macs_font = "small_bold" if look.heavy_macs else "small"
        params_w = style.text(params_font, look.params)[1]
        macs_w = style.text(macs_font, look.macs)[1]
        gap = (self._height - HEADER - 2 * line) / 3
        top, bottom = HEADER + gap, HEADER + 2 * gap + line
        return [
            (look.label, "detail", PAD, top, width - 3 * PAD - params_w),
            (shape, "shape", PAD, bottom, width - 3 * PAD - macs_w),
            (look.params, params_font, width - PAD - params_w, top, params_w + 1),
            (look.macs, macs_font, width - PAD - macs_w, bottom, macs_w + 1),
        ]

    def _summary_runs(self) -> list[TextRun]:
        """The summary's texts: the name in the header, the shape in the body."""
        if self._summary is None:
            style, look, width = self.style, self.look, self._width
            line = style.line_height("summary")
            left = self._name_left()
            shape = look.shape or ("?" if look.inputs or look.group else "")
            self._summary = [
                (style.text("summary", look.name,
                            width - PAD - left - self._glyph_room())[0],
                 QPointF(left, (HEADER - line) / 2), "summary", "header_text")]
            if shape:
                self._summary.append(
                    (style.text("summary", shape, width - 2 * PAD)[0],
                     QPointF(PAD, HEADER + (self._height - HEADER - line) / 2), "summary",
                     "text"))
        return self._summary

    def _bar_runs(self, device: QRectF, scale: float) -> list[TextRun]:
        """The bar's label, laid out in device pixels over ``device`` (the box on screen)."""
        style, look = self.style, self.look
        line = style.line_height("bar_bold")
        if device.height() < line + 2.0 or device.width() < 2 * line:
            return []
        room = math.floor((device.width() + 2 * _OVERFLOW * scale - 2.0) / 4.0) * 4.0
        name, name_w = style.text("bar_bold", look.name, room)
        two = bool(look.shape) and device.height() >= 2 * line + 4.0
        top = device.center().y() - line * (2 if two else 1) / 2
        runs: list[TextRun] = [(name, QPointF(device.center().x() - name_w / 2, top),
                                "bar_bold", "text")]
        if two:
            shape, shape_w = style.text("bar", look.shape, room)
            runs.append((shape, QPointF(device.center().x() - shape_w / 2, top + line),
                         "bar", "text"))
        return runs

    def shown_texts(self, scale: float) -> list[ShownText]:
        """Every text the node shows when the view's scale is ``scale``, as drawn."""
        device = scale < LOD_SUMMARY
        if device:
            runs = self._bar_runs(QRectF(0.0, 0.0, self._width * scale,
                                         self._height * scale), scale)
        else:
            runs = self._full_runs()[0] if scale >= LOD_FULL else self._summary_runs()
        out = []
        for static, pos, font, pen in runs:
            size = static.size()
            rect = QRectF(pos, size)
            if device:
                rect = QRectF(pos / scale, size / scale)
            pixels = self.style.fonts[font].pixelSize() * (1.0 if device else scale)
            out.append(ShownText(static.text(), pixels, pen, rect))
        return out

    # -- painting -----------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        scale = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if scale < LOD_SUMMARY:
            self._paint_bar(painter, scale)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_frame(painter)
        if scale >= LOD_FULL:
            runs, pills = self._full_runs()
            if pills:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(self.style.brushes["heavy"])
                for pill in pills:
                    painter.drawRoundedRect(pill, 4.0, 4.0)
        else:
            runs = self._summary_runs()
        self._paint_runs(painter, runs)
        self._paint_marks(painter, runs[0])
        self._paint_ports(painter)
        self._paint_badges(painter)

    def _paint_bar(self, painter: QPainter, scale: float) -> None:
        """The box as a plain bar, labelled in device pixels where it is big enough."""
        style = self.style
        painter.setPen(style.pens["error"] if self.look.errors else
                       style.pens["selected"] if self.isSelected() else Qt.PenStyle.NoPen)
        painter.setBrush(style.family(self.look.family)[1])
        painter.drawRect(self.box_rect())
        if self._height * scale < style.line_height("bar_bold"):
            return  # too thin for a label
        transform = painter.worldTransform()
        runs = self._bar_runs(transform.mapRect(self.box_rect()), scale)
        if runs:
            painter.setWorldTransform(_IDENTITY)
            self._paint_runs(painter, runs)
            painter.setWorldTransform(transform)

    def _paint_runs(self, painter: QPainter, runs: list[TextRun]) -> None:
        fonts, pens = self.style.fonts, self.style.pens
        for static, pos, font, pen in runs:
            painter.setFont(fonts[font])
            painter.setPen(pens[pen])
            painter.drawStaticText(pos, static)

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
        if self.look.opaque and pen is style.pens["border"]:
            pen = QPen(pen)  # an imported call kept as it is: a dashed outline
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._body)

    def _paint_marks(self, painter: QPainter, name: TextRun) -> None:
        """The group chevron and the frozen snowflake in the header."""
        pens = self.style.pens
        if self.look.group:
            _chevron(painter, QPointF(PAD + 3.5, HEADER / 2), pens["header_text"].color())
        if self.look.frozen:
            name_end = name[1].x() + name[0].size().width()
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
