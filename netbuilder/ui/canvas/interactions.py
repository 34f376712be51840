"""Mouse interactions of the canvas, one small object per gesture.

Each interaction has ``start``/``move``/``finish``/``cancel``; the view creates one on
mouse press (or drag enter), forwards moves to it and drops it on release or Escape. An
interaction changes the model only in ``finish``, through one command pushed on the
document; until then it only moves items or draws previews, which ``cancel`` undoes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from netbuilder.core import commands
from netbuilder.core.errors import GraphError
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT
from netbuilder.ui.canvas.edge_item import EdgeItem, LinkPreview
from netbuilder.ui.canvas.frame_item import GroupFrame
from netbuilder.ui.canvas.node_item import NodeItem

if TYPE_CHECKING:
    from netbuilder.ui.canvas.view import GraphView

Port = tuple[str, str]
Box = NodeItem | GroupFrame
_SNAP = 18.0


class Interaction:
    """A gesture in progress on a view."""

    def __init__(self, view: GraphView) -> None:
        self.view = view
        self.scene = view.graph_scene

    def start(self, scene_pos: QPointF) -> None:
        """Begin at ``scene_pos``."""

    def move(self, scene_pos: QPointF) -> None:
        """Follow the mouse."""

    def finish(self, scene_pos: QPointF) -> None:
        """End normally: apply the gesture's command, if any."""

    def cancel(self) -> None:
        """End without changing anything; remove every preview."""


# -- connecting -------------------------------------------------------------------------
class NewLinkInteraction(Interaction):
    """Drag a wire from a port to a port of the other kind (or onto a node).

    Dragging from an input that already has a wire picks that wire up: drop it on
    another input to move it, or on empty canvas to remove it.
    """

    def __init__(self, view: GraphView, node: NodeItem, port: Port) -> None:
        super().__init__(view)
        self.node, self.port = node, port
        self.picked: EdgeItem | None = None
        self.preview = LinkPreview(self.scene.style)
        self.hot: dict[str, frozenset[Port]] = {}

    @property
    def forward(self) -> bool:
        """Whether the wire is dragged from an output towards an input."""
        return self.port[0] == "out"

    def start(self, scene_pos: QPointF) -> None:
        if self.port[0] == "in":
            self._pick_up()
        self.scene.addItem(self.preview)
        self._mark_compatible()
        self.move(scene_pos)

    @property
    def graph(self) -> Graph:
        """The graph level of the node the wire is dragged from."""
        return self.scene.level_of(self.node.node_id) or self.scene.graph

    def _pick_up(self) -> None:
        graph = self.graph
        port = next((p for p in self.node.look.inputs if p.name == self.port[1]), None)
        edges = [e for e in graph.in_edges(self.node.node_id) if e.target_port == self.port[1]]
        if port is None or port.multi or not edges:
            return
        picked = self.scene.edge_item(edges[0])
        source = self.scene.node_item(edges[0].source)
        if picked is None or source is None:  # fed by a group expanded in place
            return
        self.picked = picked
        picked.setVisible(False)
        self.node, self.port = source, ("out", edges[0].source_port)

    def _mark_compatible(self) -> None:
        """Light the ports the wire may join: the model's rule (``Graph.open_ports``, one
        pass over the level), with the picked-up wire treated as gone."""
        graph = self.graph
        ignore = self.picked.edge if self.picked is not None else None
        side = "in" if self.forward else "out"
        open_ports = graph.open_ports(self.node.node_id, self.port[1], forward=self.forward,
                                      ignore=ignore)
        for item in self.scene.node_items():
            ports = open_ports.get(item.node_id)
            if ports:
                self._set_hot(item, frozenset((side, name) for name in ports))

    def _set_hot(self, item: NodeItem, ports: frozenset[Port]) -> None:
        if ports:
            self.hot[item.node_id] = ports
            item.set_hot_ports(ports)

    def _target(self, scene_pos: QPointF) -> tuple[NodeItem, Port | None] | None:
        """The node and port (None: its default port) the wire would join."""
        wanted = "in" if self.forward else "out"
        area = QRectF(scene_pos.x() - _SNAP, scene_pos.y() - _SNAP, 2 * _SNAP, 2 * _SNAP)
        for item in self.scene.items(area):
            if isinstance(item, NodeItem) and item is not self.node:
                port = item.port_at(scene_pos, _SNAP)
                if port is not None and port[0] == wanted:
                    return item, port
        node = self.scene.node_at(scene_pos)
        if node is not None and node is not self.node:
            return node, None
        return None

    def move(self, scene_pos: QPointF) -> None:
        anchor = self.node.port_pos(*self.port)
        target = self._target(scene_pos)
        end = scene_pos
        if target is not None and target[1] is not None:
            end = target[0].port_pos(*target[1])
        if self.forward:
            self.preview.set_ends(anchor, end)
        else:
            self.preview.set_ends(end, anchor)

    def finish(self, scene_pos: QPointF) -> None:
        target = self._target(scene_pos)
        try:
            command = self._command(target)
            if command is not None:
                self.view.document.push(command)
        except GraphError as error:
            self.view.statusMessage.emit(error.message)
        self.cancel()

    def _command(self, target: tuple[NodeItem, Port | None] | None) -> commands.Command | None:
        graph = self.graph
        old = self.picked.edge if self.picked is not None else None
        if target is None:
            return commands.RemoveEdge(graph, old) if old is not None else None
        item, port = target
        if item.node_id not in graph.nodes:
            return self._into_group(item, old)
        if self.forward:
            edge = graph.default_edge(self.node.node_id, item.node_id, self.port[1],
                                      port[1] if port else None)
        else:
            edge = graph.default_edge(item.node_id, self.node.node_id,
                                      port[1] if port else None, self.port[1])
        if old is None:
            return commands.AddEdge(graph, edge)
        if edge == old:
            return None
        return _reconnect(graph, old, edge)

    def _into_group(self, item: NodeItem, old: Edge | None) -> commands.Command:
        """A wire dropped on the port node of a group expanded in place joins that port."""
        graph, inner = self.graph, self.scene.level_of(item.node_id)
        owner = inner.owner if inner is not None else None
        node = inner.nodes.get(item.node_id) if inner is not None else None
        wanted = GROUP_INPUT if self.forward else GROUP_OUTPUT
        if inner is None or owner is None or inner.parent is not graph or node is None \
                or node.type != wanted:
            raise GraphError(f"{self.node.look.name} and {item.look.name} are in different "
                             "groups: wires join nodes of the same level")
        if self.forward:
            edge = Edge(self.node.node_id, owner.id, self.port[1], node.name)
        else:
            edge = Edge(owner.id, self.node.node_id, node.name, self.port[1])
        return _reconnect(graph, old, edge) if old is not None else \
            commands.AddEdge(graph, edge)

    def cancel(self) -> None:
        if self.preview.scene() is not None:
            self.scene.removeItem(self.preview)
        if self.picked is not None and self.picked.scene() is not None:
            self.picked.setVisible(True)
        for node_id in self.hot:
            item = self.scene.node_item(node_id)
            if item is not None:
                item.set_hot_ports(frozenset())
        self.hot.clear()


def _reconnect(graph: Graph, old: Edge, new: Edge) -> commands.Macro:
    """One step that moves wire ``old`` to ``new`` (validated without ``old``)."""
    remove = commands.RemoveEdge(graph, old)
    with graph.batch():  # validate the new wire as if the old one were gone
        remove.redo()
        try:
            add = commands.AddEdge(graph, new)
        finally:
            remove.undo()
    return commands.Macro(f"Reconnect {graph.nodes[new.target].name}", [remove, add])


# -- moving -------------------------------------------------------------------------------
class MoveInteraction(Interaction):
    """Drag the selected boxes (a frame carries its body); one step on release.

    Moving nodes of a body past its top-left corner moves the group as well, so that the
    rest of the body stays where it is on screen (see :func:`levels.compensate`).
    """

    def __init__(self, view: GraphView, boxes: Sequence[Box]) -> None:
        super().__init__(view)
        carried: dict[str, Box] = {}
        for box in boxes:
            if isinstance(box, GroupFrame):
                carried.update({b.node_id: b for b in self.scene.frame_content(box.node_id)})
        self.roots = [b for b in boxes if b.node_id not in carried]
        self.items = self.roots + [b for b in carried.values() if b not in self.roots]
        self.origin = QPointF()
        self.starts = {box.node_id: box.pos() for box in self.items}
        self.moved = False

    def start(self, scene_pos: QPointF) -> None:
        self.origin = scene_pos

    def move(self, scene_pos: QPointF) -> None:
        delta = scene_pos - self.origin
        delta = QPointF(round(delta.x()), round(delta.y()))
        if not self.moved and max(abs(delta.x()), abs(delta.y())) < 1:
            return
        self.moved = True
        for box in self.items:
            box.setPos(self.starts[box.node_id] + delta)
        self.scene.refit_frames()

    def finish(self, scene_pos: QPointF) -> None:
        if not self.moved:
            return
        moves: dict[Graph, dict[str, tuple[float, float]]] = {}
        for box in self.roots:
            level = self.scene.level_of(box.node_id)
            if level is not None and box.node_id in level.nodes:
                position = self.scene.placement(level).to_level(box.pos())
                moves.setdefault(level, {})[box.node_id] = position
        command = self.view.edits.move_command(moves)
        if command is not None:
            self.view.document.push(command)
            self.view.document.history.seal()
        else:
            self.cancel()

    def cancel(self) -> None:
        for box in self.items:
            box.setPos(self.starts[box.node_id])
        self.scene.refit_frames()


# -- rubber band ----------------------------------------------------------------------------
class RubberBand(QGraphicsItem):
    """The translucent selection rectangle."""

    def __init__(self, view: GraphView) -> None:
        super().__init__()
        self.style = view.graph_scene.style
        self.rect = QRectF()
        self.setZValue(10.0)

    def set_rect(self, rect: QRectF) -> None:
        """Show ``rect`` (scene coordinates)."""
        self.prepareGeometryChange()
        self.rect = rect

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-2.0, -2.0, 2.0, 2.0)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setPen(self.style.pens["rubber"])
        painter.setBrush(self.style.brushes["rubber"])
        painter.drawRect(self.rect)


class RubberBandInteraction(Interaction):
    """Select the nodes a dragged rectangle touches (Shift or Ctrl adds to the selection)."""

    def __init__(self, view: GraphView, extend: bool) -> None:
        super().__init__(view)
        self.extend = extend
        self.band = RubberBand(view)
        self.origin = QPointF()
        self.before = {i.node_id for i in self.scene.node_items() if i.isSelected()}

    def start(self, scene_pos: QPointF) -> None:
        self.origin = scene_pos
        self.scene.addItem(self.band)
        if not self.extend:
            self.view.select([])

    def move(self, scene_pos: QPointF) -> None:
        rect = QRectF(self.origin, scene_pos).normalized()
        self.band.set_rect(rect)
        hit = {i.node_id for i in self.scene.items(rect)
               if (isinstance(i, NodeItem) and i.scene_box().intersects(rect))
               or (isinstance(i, GroupFrame)
                   and i.header_rect().translated(i.pos()).intersects(rect))}
        self.view.select(sorted(hit | self.before) if self.extend else sorted(hit))

    def finish(self, scene_pos: QPointF) -> None:
        self.move(scene_pos)
        self.cancel()

    def cancel(self) -> None:
        if self.band.scene() is not None:
            self.scene.removeItem(self.band)


# -- panning and dropping ----------------------------------------------------------------
class PanInteraction(Interaction):
    """Scroll the view with the middle button or Space+drag."""

    def __init__(self, view: GraphView) -> None:
        super().__init__(view)
        self.last = QPointF()

    def start(self, scene_pos: QPointF) -> None:
        self.last = self.view.mapFromScene(scene_pos).toPointF()
        self.view.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def move(self, scene_pos: QPointF) -> None:
        now = self.view.mapFromScene(scene_pos).toPointF()
        delta = now - self.last
        bar_h, bar_v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
        bar_h.setValue(bar_h.value() - round(delta.x()))
        bar_v.setValue(bar_v.value() - round(delta.y()))
        self.last = now

    def finish(self, scene_pos: QPointF) -> None:
        self.cancel()

    def cancel(self) -> None:
        self.view.viewport().unsetCursor()


class DropInteraction(Interaction):
    """A block dragged from the palette: highlight the wire it would be inserted into."""

    def __init__(self, view: GraphView, key: str) -> None:
        super().__init__(view)
        self.key = key
        self.wire: EdgeItem | None = None

    def move(self, scene_pos: QPointF) -> None:
        wire = self.scene.edge_near(scene_pos)
        if wire is not self.wire:
            if self.wire is not None and self.wire.scene() is not None:
                self.wire.set_highlight(False)
            self.wire = wire
            if wire is not None:
                wire.set_highlight(True)

    def finish(self, scene_pos: QPointF) -> None:
        self.cancel()
        self.view.edits.add_block(self.key, scene_pos)

    def cancel(self) -> None:
        if self.wire is not None and self.wire.scene() is not None:
            self.wire.set_highlight(False)
        self.wire = None
