"""An overview of the whole diagram with the visible part framed; click or drag to pan.

The node boxes are painted as coloured rectangles into a cached pixmap, rebuilt only when
the model changes or the widget is resized; scrolling and zooming repaint just the frame.
By default the minimap floats in the bottom-right corner of its view and shows itself only
when the diagram does not fit in the view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPixmap, QTransform
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from netbuilder.ui.canvas.view import GraphView

_PAD = 6.0


class Minimap(QWidget):
    """The overview of a :class:`GraphView`.

    Args:
        view: The view to show and steer.
        parent: Where to put the widget; ``None`` floats it over the view's corner.
        auto_hide: Hide while the whole diagram is visible in the view.
    """

    def __init__(self, view: GraphView, parent: QWidget | None = None,
                 auto_hide: bool = True) -> None:
        super().__init__(parent if parent is not None else view)
        self.view = view
        self.floating = parent is None
        self.auto_hide = auto_hide
        self._pixmap: QPixmap | None = None
        self._to_widget = QTransform()
        self.setObjectName("minimap")
        self.setAccessibleName("Diagram overview")
        self.setToolTip("Overview: click or drag to move the view")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.resize(self.sizeHint())
        view.graph_scene.refreshed.connect(self._invalidate)
        view.zoomChanged.connect(self._sync)
        view.currentGraphChanged.connect(self._invalidate)
        view.horizontalScrollBar().valueChanged.connect(self._sync)
        view.verticalScrollBar().valueChanged.connect(self._sync)
        if self.floating:
            view.installEventFilter(self)
            self._place()
        self._sync()

    def sizeHint(self) -> QSize:
        return QSize(200, 150)

    # -- keeping up with the view ----------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Resize:
            self._place()
            self._sync()
        return super().eventFilter(watched, event)

    def _place(self) -> None:
        margin = 12
        area = self.view.viewport().geometry()
        self.move(area.right() - self.width() - margin, area.bottom() - self.height() - margin)

    def _invalidate(self, *_: object) -> None:
        self._pixmap = None
        self._sync()

    def _sync(self, *_: object) -> None:
        if self.auto_hide:
            diagram = self.view.graph_scene.diagram_rect()
            fits = diagram.isNull() or self._visible_rect().contains(diagram)
            self.setVisible(not fits)
        self.update()

    def _visible_rect(self) -> QRectF:
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    # -- painting ---------------------------------------------------------------------------
    def _world(self) -> QRectF:
        rect = self.view.graph_scene.diagram_rect()
        return rect.adjusted(-40.0, -40.0, 40.0, 40.0) if not rect.isNull() else rect

    def _transform(self, world: QRectF) -> QTransform:
        area = QRectF(self.rect()).adjusted(_PAD, _PAD, -_PAD, -_PAD)
        scale = min(area.width() / world.width(), area.height() / world.height())
        dx = area.left() + (area.width() - world.width() * scale) / 2 - world.left() * scale
        dy = area.top() + (area.height() - world.height() * scale) / 2 - world.top() * scale
        return QTransform(scale, 0.0, 0.0, scale, dx, dy)

    def _build(self) -> QPixmap:
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        style = self.view.graph_scene.style
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(style.pens["border"])
        painter.setBrush(style.brushes["minimap"])
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        world = self._world()
        if not world.isNull():
            self._to_widget = self._transform(world)
            painter.setTransform(self._to_widget)
            painter.setPen(Qt.PenStyle.NoPen)
            for frame in self.view.graph_scene.frame_items():
                painter.setBrush(style.family(frame.look.family)[1])
                painter.drawRect(frame.scene_box())
            for item in self.view.graph_scene.node_items():
                painter.setBrush(style.family(item.look.family)[0])
                painter.drawRect(item.scene_box())
        painter.end()
        return pixmap

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._pixmap is None or self._pixmap.deviceIndependentSize().toSize() != self.size():
            self._pixmap = self._build()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        if not self._world().isNull():
            style = self.view.graph_scene.style
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(style.pens["frame"])
            painter.setBrush(style.brushes["view"])
            painter.drawRect(self._to_widget.mapRect(self._visible_rect()))
        painter.end()

    # -- steering -------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._center_at(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._center_at(event.position())
        event.accept()

    def _center_at(self, point: QPointF) -> None:
        inverse, ok = self._to_widget.inverted()
        if ok:
            self.view.centerOn(inverse.map(point))
