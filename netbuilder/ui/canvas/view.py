"""The canvas widget: :class:`GraphView` shows a document and turns gestures into commands.

See :mod:`netbuilder.ui.canvas` for the contract with the main window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QContextMenuEvent,
    QCursor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from netbuilder.core import editing
from netbuilder.core.document import Document
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layout import needs_layout
from netbuilder.ui.canvas.edge_item import EdgeItem
from netbuilder.ui.canvas.frame_item import GroupFrame
from netbuilder.ui.canvas.gesture_edits import GestureEdits
from netbuilder.ui.canvas.interactions import (
    DropInteraction,
    Interaction,
    MoveInteraction,
    NewLinkInteraction,
    PanInteraction,
    RubberBandInteraction,
)
from netbuilder.ui.canvas.node_item import LOD_SUMMARY, NodeItem
from netbuilder.ui.canvas.quick_add import QuickAddPopup
from netbuilder.ui.canvas.scene import GraphScene
from netbuilder.ui.canvas.style import CanvasStyle, current_style, style_for

#: Mime type of a block dragged from the palette; the data is the block key in UTF-8.
BLOCK_MIME = "application/x-netbuilder-block"
MIN_SCALE, MAX_SCALE = 0.05, 4.0
#: Fit zooms out no further than this: node names stay readable (no bare bars).
FIT_MIN_SCALE = LOD_SUMMARY
#: What the empty canvas says (a title, then how to begin).
EMPTY_HINT = ("Start a network",
              "Drag a block from the Blocks palette onto the canvas,",
              "press Tab or Ctrl+K to search for a block and add it,",
              "or open a classic network: File › Open Template… (Ctrl+Shift+T)")
_WHEEL_STEP = 1.0015
_FIT_MARGIN = 40.0


class GraphView(QGraphicsView):
    """The node-graph editor canvas over one :class:`Document`.

    Signals:
        selectionChanged(list): Ids of the selected nodes (emitted when the selected
            nodes or wires change).
        nodeActivated(str): A node was double-clicked.
        statusMessage(str): Why an edit was refused, or other news for the status bar.
        contextMenuRequested(list, QPoint): Selected node ids and the global position.
        currentGraphChanged(list): Names of the groups from the root to the shown level.
        zoomChanged(float): The new scale (1.0 is 100 %).
    """

    selectionChanged = Signal(list)
    nodeActivated = Signal(str)
    statusMessage = Signal(str)
    contextMenuRequested = Signal(list, QPoint)
    currentGraphChanged = Signal(list)
    zoomChanged = Signal(float)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.graph_scene = GraphScene(document, parent=self)
        self.setScene(self.graph_scene)
        self._interaction: Interaction | None = None
        self._space = False
        self._last_selection: tuple[list[str], int] = ([], 0)
        #: The edits the gestures make (adding, expanding, arranging, moving).
        self.edits = GestureEdits(self)
        self._popup: QuickAddPopup | None = None
        self._quick_target: tuple[QPointF, str | None] = (QPointF(), None)
        self._forced_dark: bool | None = None
        self._was_empty = not document.graph.nodes
        self._configure()
        self.graph_scene.refreshed.connect(self._scene_refreshed)
        self.graph_scene.selectionChanged.connect(self._emit_selection)
        self.graph_scene.graphLost.connect(self._graph_lost)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._scheme_changed)

    def _configure(self) -> None:
        self.setObjectName("graphView")
        self.setAccessibleName("Network canvas")
        self.setToolTip("")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        # Measured with a 500-node graph, one node moved per frame: Minimal, Smart and
        # BoundingRect updates cost about 0.3 ms a frame, Full about 1.9 ms.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)

    # -- graph levels -------------------------------------------------------------------
    @property
    def current_graph(self) -> Graph:
        """The graph level shown: the document's graph or an opened group's body."""
        return self.graph_scene.graph

    def open_group(self, node_id: str) -> bool:
        """Show the body of group ``node_id`` (a shown node); return whether it did."""
        level = self.graph_scene.level_of(node_id) or self.current_graph
        node = level.nodes.get(node_id)
        if node is None or node.body is None:
            return False
        self._show(node.body)
        if needs_layout(node.body):
            self.edits.auto_layout()
        return True

    def close_group(self) -> bool:
        """Go back to the level above (selecting the group); return whether it did."""
        graph = self.current_graph
        if graph.parent is None or graph.owner is None:
            return False
        owner = graph.owner.id
        self._show(graph.parent)
        self.select([owner])
        return True

    def _show(self, graph: Graph) -> None:
        self.cancel_interaction()
        self.graph_scene.show_graph(graph)
        self._scene_refreshed()
        self.currentGraphChanged.emit(list(graph.path()))
        self.fit()
        self._emit_selection()

    def _graph_lost(self) -> None:
        self.statusMessage.emit("the opened group was removed; showing the whole network")
        self._show(self.document.graph)

    # -- selection ----------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        """Ids of the selected nodes, in model order.

        Nodes inside groups expanded in place come after the shown level's own nodes;
        ``view.graph_scene.level_of(id)`` tells the graph a node belongs to.
        """
        return [box.node_id for box in self.graph_scene.boxes() if box.isSelected()]

    def selected_by_level(self) -> dict[Graph, list[str]]:
        """The selected nodes grouped by the graph level that holds them."""
        levels: dict[Graph, list[str]] = {}
        for node_id in self.selected_ids():
            level = self.graph_scene.level_of(node_id)
            if level is not None:
                levels.setdefault(level, []).append(node_id)
        return levels

    def selected_wires(self) -> dict[Graph, list[Edge]]:
        """The selected wires grouped by the graph level that holds them."""
        wires: dict[Graph, list[Edge]] = {}
        for item in self.graph_scene.selectedItems():
            if isinstance(item, EdgeItem) and item.level is not None:
                wires.setdefault(item.level, []).append(item.edge)
        return wires

    def select(self, ids: Iterable[str]) -> None:
        """Select exactly the nodes ``ids`` (ids not shown are ignored)."""
        wanted = set(ids)
        scene = self.graph_scene
        scene.blockSignals(True)
        try:
            for item in scene.selectedItems():
                if not (isinstance(item, NodeItem | GroupFrame) and item.node_id in wanted):
                    item.setSelected(False)
            for node_id in wanted:
                box = scene.box(node_id)
                if box is not None:
                    box.setSelected(True)
        finally:
            scene.blockSignals(False)
        self._emit_selection()

    def set_node_flags(self, flags: Mapping[str, str]) -> None:
        """Badge nodes with training flags: node id → ``vanishing`` or ``exploding``.

        The training panels flag nodes whose gradients vanish or explode; an empty
        mapping clears every badge.
        """
        self.graph_scene.set_node_flags(flags)

    def select_all(self) -> None:
        """Select every node of the shown level."""
        self.select(self.current_graph.nodes)

    def _emit_selection(self) -> None:
        ids = self.selected_ids()
        wires = sum(isinstance(i, EdgeItem) for i in self.graph_scene.selectedItems())
        if (ids, wires) != self._last_selection:
            self._last_selection = (ids, wires)
            self.selectionChanged.emit(ids)

    # -- zoom -------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """The current scale (1.0 is 100 %)."""
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor``, keeping ``anchor`` (a viewport point; default the centre) still.

        The scale stays between :data:`MIN_SCALE` and :data:`MAX_SCALE`.
        """
        target = min(max(self.zoom * factor, MIN_SCALE), MAX_SCALE)
        factor = target / self.zoom
        if abs(factor - 1.0) < 1e-9:
            return
        at = anchor if anchor is not None else QRectF(self.viewport().rect()).center()
        fixed = self.mapToScene(at.toPoint())
        self.scale(factor, factor)
        offset = (QRectF(self.viewport().rect()).center() - at) / self.zoom
        self.centerOn(fixed + offset)
        self.zoomChanged.emit(self.zoom)

    def fit(self, min_scale: float = FIT_MIN_SCALE) -> None:
        """Zoom to show the whole diagram, at most at 100 % and at least at ``min_scale``.

        By default Fit keeps node names readable: when the whole diagram would need a
        smaller scale, it zooms to :data:`FIT_MIN_SCALE` and shows the selection, or the
        top of the diagram (where the input is), instead of shrinking it to bars.
        ``fit(MIN_SCALE)`` shows everything, however small.
        """
        rect = self.graph_scene.diagram_rect()
        if rect.isNull():
            return
        rect = rect.adjusted(-_FIT_MARGIN, -_FIT_MARGIN, _FIT_MARGIN, _FIT_MARGIN)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        scale = min(self.zoom, 1.0)
        floor = max(min_scale, MIN_SCALE)
        self.resetTransform()
        self.scale(max(scale, floor), max(scale, floor))
        if scale < floor:
            self._show_start(rect)
        else:
            self.centerOn(rect.center())
        self.zoomChanged.emit(self.zoom)

    def _show_start(self, diagram: QRectF) -> None:
        """Show the selected nodes, or else the top (and left) of ``diagram``."""
        selected = QRectF()
        for box in self.graph_scene.boxes():
            if box.isSelected():
                selected = selected.united(box.scene_box())
        if not selected.isNull():
            self.centerOn(selected.center())
            return
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        x = diagram.center().x() if diagram.width() <= visible.width() \
            else diagram.left() + visible.width() / 2
        self.centerOn(x, diagram.top() + visible.height() / 2)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(_WHEEL_STEP ** delta, event.position())
        event.accept()

    # -- the empty canvas -------------------------------------------------------------
    def empty_hint(self) -> str:
        """What the canvas says to do, while the graph shown has no node (else ``""``)."""
        return "\n".join(EMPTY_HINT) if not self.current_graph.nodes else ""

    def _scene_refreshed(self) -> None:
        empty = not self.current_graph.nodes
        if empty != self._was_empty:
            self._was_empty = empty
            self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        """The hint of the empty canvas, in the middle of the viewport."""
        if self.current_graph.nodes:
            return
        style = cast(CanvasStyle, self.graph_scene.style)  # hides QGraphicsScene.style()
        transform = painter.worldTransform()
        painter.resetTransform()
        area = QRectF(self.viewport().rect())
        title, lines = EMPTY_HINT[0], "\n".join(EMPTY_HINT[1:])
        painter.setPen(style.pens["text"])
        painter.setFont(style.fonts["hint_title"])
        height = style.line_height("hint_title") + 8.0
        top = area.center().y() - (height + 3 * style.line_height("hint")) / 2
        painter.drawText(QRectF(area.left(), top, area.width(), height),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, title)
        painter.setFont(style.fonts["hint"])
        painter.drawText(QRectF(area.left(), top + height, area.width(), area.height()),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, lines)
        painter.setWorldTransform(transform)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if not self.current_graph.nodes:  # the hint stays put: repaint, do not scroll it
            self.viewport().update()

    # -- quick add --------------------------------------------------------------------
    def quick_add(self) -> None:
        """Open the block search at the cursor; Enter adds the block there.

        With one node selected, the new block is wired below it.
        """
        at = self.mapFromGlobal(QCursor.pos())
        if not self.viewport().rect().contains(at):
            at = self.viewport().rect().center()
        scene_pos = self.mapToScene(at)
        selected = self.selected_ids()
        self._quick_target = (scene_pos, selected[0] if len(selected) == 1 else None)
        if self._popup is not None:
            self._popup.deleteLater()
        self._popup = QuickAddPopup(editing.addable_specs(self.current_graph), self)
        self._popup.chosen.connect(self._quick_chosen)
        self._popup.show_at(self.viewport().mapToGlobal(at))

    def _quick_chosen(self, key: str) -> None:
        scene_pos, source = self._quick_target
        if source is not None and self.graph_scene.level_of(source) is not None:
            self.edits.add_block_after(key, source)
        else:
            self.edits.add_block(key, scene_pos)

    @property
    def quick_add_popup(self) -> QuickAddPopup | None:
        """The quick-add popup, once opened."""
        return self._popup

    # -- images ---------------------------------------------------------------------------
    def grab_image(self, scale: float = 2.0) -> QImage:
        """The whole diagram rendered at ``scale`` (device pixel ratio set to ``scale``)."""
        from netbuilder.ui.render import render_scene_image

        return render_scene_image(self.graph_scene, scale)

    # -- theme ------------------------------------------------------------------------
    def set_dark(self, dark: bool | None) -> None:
        """Force the dark (True) or light (False) canvas, or follow the system (None)."""
        self._forced_dark = dark
        self.refresh_theme()

    def _scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        self.refresh_theme()

    def refresh_theme(self) -> None:
        """Re-read the colour scheme and repaint."""
        style = current_style() if self._forced_dark is None else style_for(self._forced_dark)
        if style is not self.graph_scene.style:
            self.graph_scene.set_style(style)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.refresh_theme()
        super().changeEvent(event)

    # -- mouse ------------------------------------------------------------------------------
    def cancel_interaction(self) -> bool:
        """Abort the gesture in progress; return whether there was one."""
        if self._interaction is None:
            return False
        interaction, self._interaction = self._interaction, None
        interaction.cancel()
        return True

    def _begin(self, interaction: Interaction, scene_pos: QPointF) -> None:
        self.cancel_interaction()
        self._interaction = interaction
        interaction.start(scene_pos)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = self.mapToScene(event.position().toPoint())
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
                button == Qt.MouseButton.LeftButton and self._space):
            self._begin(PanInteraction(self), pos)
        elif button == Qt.MouseButton.LeftButton:
            self._press_left(pos, event.modifiers())
        else:
            super().mousePressEvent(event)
            return
        event.accept()

    def _press_left(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        extend = bool(modifiers & (Qt.KeyboardModifier.ShiftModifier
                                   | Qt.KeyboardModifier.ControlModifier))
        scene = self.graph_scene
        box: NodeItem | GroupFrame | None = scene.node_at(pos) or scene.frame_header_at(pos)
        port_node, port = self._port_at(pos)
        if port_node is not None and port is not None:
            self._begin(NewLinkInteraction(self, port_node, port), pos)
        elif box is not None and box.toggle_hit(pos):
            self.edits.set_expanded(box.node_id, isinstance(box, NodeItem))
        elif box is not None:
            self._press_node(box, extend)
            if box.isSelected():
                boxes = [b for b in scene.boxes() if b.isSelected()]
                self._begin(MoveInteraction(self, boxes), pos)
        elif (wire := self.graph_scene.edge_near(pos)) is not None:
            if not extend:
                self.select([])
            wire.setSelected(not wire.isSelected() if extend else True)
        else:
            self._begin(RubberBandInteraction(self, extend), pos)

    def _port_at(self, pos: QPointF) -> tuple[NodeItem | None, tuple[str, str] | None]:
        for item in self.graph_scene.items(QRectF(pos.x() - 10, pos.y() - 10, 20, 20)):
            if isinstance(item, NodeItem):
                port = item.port_at(pos)
                if port is not None:
                    return item, port
        return None, None

    def _press_node(self, node: NodeItem | GroupFrame, extend: bool) -> None:
        if extend:
            node.setSelected(not node.isSelected())
        elif not node.isSelected():
            self.select([node.node_id])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._interaction is not None:
            self._interaction.move(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        interaction, self._interaction = self._interaction, None
        if interaction is None:
            super().mouseReleaseEvent(event)
            return
        pos = self.mapToScene(event.position().toPoint())
        interaction.finish(pos)
        if isinstance(interaction, MoveInteraction) and not interaction.moved \
                and not event.modifiers():
            box = self.graph_scene.node_at(pos) or self.graph_scene.frame_header_at(pos)
            if box is not None:
                self.select([box.node_id])
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        pos = self.mapToScene(event.position().toPoint())
        box = self.graph_scene.node_at(pos) or self.graph_scene.frame_header_at(pos)
        if box is None:
            self.quick_add()
        elif not box.toggle_hit(pos):
            self.nodeActivated.emit(box.node_id)
            self.open_group(box.node_id)
        event.accept()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        pos = self.mapToScene(event.pos())
        node = self.graph_scene.node_at(pos) or self.graph_scene.frame_header_at(pos)
        if node is not None and not node.isSelected():
            self.select([node.node_id])
        elif node is None:
            self.select([])
        self.contextMenuRequested.emit(self.selected_ids(), event.globalPos())
        event.accept()

    # -- drag and drop from the palette ------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME):
            key = bytes(event.mimeData().data(BLOCK_MIME).data()).decode("utf-8")
            self._begin(DropInteraction(self, key), self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if isinstance(self._interaction, DropInteraction):
            self._interaction.move(self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        if isinstance(self._interaction, DropInteraction):
            self.cancel_interaction()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        pos = self.mapToScene(event.position().toPoint())
        interaction = self._interaction
        if not isinstance(interaction, DropInteraction):
            if not event.mimeData().hasFormat(BLOCK_MIME):
                event.ignore()
                return
            key = bytes(event.mimeData().data(BLOCK_MIME).data()).decode("utf-8")
            interaction = DropInteraction(self, key)
        self._interaction = None
        interaction.finish(pos)
        event.acceptProposedAction()
        self.setFocus()

    # -- keyboard ---------------------------------------------------------------------------
    def focusNextPrevChild(self, forward: bool) -> bool:
        return False  # Tab opens the quick-add box (keyPressEvent) instead of moving focus

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif key == Qt.Key.Key_Escape:
            if not self.cancel_interaction():
                self.select([])
        elif key == Qt.Key.Key_Tab and not event.modifiers():
            self.quick_add()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if not isinstance(self._interaction, PanInteraction):
                self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._space = False
        super().focusOutEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.graph_scene.detach()
        super().closeEvent(event)

