"""The scene: node and wire items mirroring one graph level of a document.

:class:`GraphScene` never changes the model and holds no domain state. It subscribes to
the document's graph events; each batch of events is applied in one go: structural
changes are reconciled against the model (items added or removed to match), moves place
the items, and then the items' looks are refreshed from ``document.analysis`` (an item
whose look did not change is not repainted). A template load arrives as one batch: all
items are built, then the analysis runs once.

Groups whose node is not ``collapsed`` are expanded in place: a
:class:`~netbuilder.ui.canvas.frame_item.GroupFrame` holds their body's items, and wires
into (out of) the group end on the body's ``group_input`` (``group_output``) node.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Mapping, Sequence

import shiboken6
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneHelpEvent,
    QToolTip,
)

from netbuilder.core.analysis import Analysis
from netbuilder.core.document import Document
from netbuilder.core.events import Event
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT
from netbuilder.ui.canvas.edge_item import EdgeItem
from netbuilder.ui.canvas.frame_item import GroupFrame
from netbuilder.ui.canvas.grid import GridPainter
from netbuilder.ui.canvas.levels import (
    FRAME_PAD,
    Placement,
    base_placement,
    body_placement,
    is_expanded,
    shown_levels,
)
from netbuilder.ui.canvas.looks import LookBook, edge_errors
from netbuilder.ui.canvas.node_item import NodeItem
from netbuilder.ui.canvas.style import CanvasStyle, current_style

#: Room around the diagram that the view may scroll into.
SCENE_MARGIN = 1200.0
#: With more nodes than this, items off screen are refreshed just after the repaint.
LAZY_ABOVE = 150

Box = NodeItem | GroupFrame


class _Listener:
    """Forwards model events to a scene without keeping it alive."""

    def __init__(self, scene: GraphScene, document: Document) -> None:
        self._scene = weakref.ref(scene)
        self._document = document

    def __call__(self, events: Sequence[Event]) -> None:
        scene = self._scene()
        if scene is None or not shiboken6.isValid(scene):
            self._document.graph.events.disconnect(self)
            return
        scene.apply_events(events)


def attached(graph: Graph, root: Graph) -> bool:
    """Whether ``graph`` is ``root`` or a group body still inside it."""
    while graph.owner is not None:
        parent = graph.parent
        if parent is None or parent.nodes.get(graph.owner.id) is not graph.owner \
                or graph.owner.body is not graph:
            return False
        graph = parent
    return graph is root


class GraphScene(QGraphicsScene):
    """Items for every node and wire of one graph level, kept in step with the model.

    Signals:
        refreshed: After each batch of model events has been mirrored.
        graphLost: The shown group body left the document (its group was deleted).
    """

    refreshed = Signal()
    graphLost = Signal()

    def __init__(self, document: Document, graph: Graph | None = None,
                 style: CanvasStyle | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.style = style or current_style()
        self.show_grid = True
        self._graph = graph if graph is not None else document.graph
        self._levels: dict[Graph, int] = {}
        self._placements: dict[Graph, Placement] = {}
        self._level_of: dict[str, Graph] = {}
        self._nodes: dict[str, NodeItem] = {}
        self._frames: dict[str, GroupFrame] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._flags: dict[str, str] = {}
        self._grid = GridPainter()
        self._book = LookBook()
        self._stamp = 0
        self._pending: list[str] = []
        self._diagram: QRectF | None = None
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self.flush)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setBackgroundBrush(self.style.brushes["background"])
        self._listener = _Listener(self, document)
        document.graph.events.connect(self._listener)
        self.rebuild()

    # -- access -------------------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        """The graph level shown (group bodies expanded in it are shown too)."""
        return self._graph

    def levels(self) -> list[Graph]:
        """Every graph level shown: the base graph, then the expanded bodies."""
        return list(self._levels)

    def level_of(self, node_id: str) -> Graph | None:
        """The graph level a shown node (or expanded group) belongs to."""
        return self._level_of.get(node_id)

    def placement(self, graph: Graph) -> Placement:
        """How ``graph``'s coordinates map into the scene."""
        return self._placements.get(graph) or base_placement(graph)

    def node_item(self, node_id: str) -> NodeItem | None:
        """The box of node ``node_id``, if shown as a box."""
        return self._nodes.get(node_id)

    def frame_item(self, node_id: str) -> GroupFrame | None:
        """The frame of group ``node_id``, if expanded in place."""
        return self._frames.get(node_id)

    def box(self, node_id: str) -> Box | None:
        """The box or frame standing for ``node_id``."""
        return self._nodes.get(node_id) or self._frames.get(node_id)

    def set_node_flags(self, flags: Mapping[str, str]) -> None:
        """Badge nodes with training flags (node id → ``vanishing``/``exploding``).

        Nodes not in ``flags`` lose their badge; flags of nodes not shown are kept for
        when they are.
        """
        self._flags = dict(flags)
        for node_id, item in self._nodes.items():
            item.set_flag(self._flags.get(node_id, ""))

    def node_flags(self) -> dict[str, str]:
        """The training flags set with :meth:`set_node_flags`."""
        return dict(self._flags)

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        """The item of ``edge``, if shown."""
        return self._edges.get(edge)

    def node_items(self) -> list[NodeItem]:
        """Every node box, level by level in model order."""
        return [self._nodes[n] for g in self._levels for n in g.nodes if n in self._nodes]

    def frame_items(self) -> list[GroupFrame]:
        """Every expanded group's frame."""
        return [self._frames[n] for g in self._levels for n in g.nodes if n in self._frames]

    def boxes(self) -> list[Box]:
        """Node boxes and frames, level by level in model order."""
        return [b for g in self._levels for n in g.nodes if (b := self.box(n)) is not None]

    def edge_items(self) -> list[EdgeItem]:
        """Every wire item."""
        return list(self._edges.values())

    def frame_content(self, group_id: str) -> list[Box]:
        """Boxes and frames inside an expanded group, at every depth."""
        frame_level = self._level_of.get(group_id)
        node = frame_level.nodes.get(group_id) if frame_level is not None else None
        if node is None or node.body is None or node.body not in self._levels:
            return []
        out: list[Box] = []
        for inner in node.body.nodes:
            box = self.box(inner)
            if box is not None:
                out.append(box)
                if isinstance(box, GroupFrame):
                    out.extend(self.frame_content(inner))
        return out

    def diagram_rect(self) -> QRectF:
        """The union of the boxes, frames and wires (empty when there are none).

        Cached; the cache is dropped whenever the model moves or changes nodes (items
        dragged by an interaction are not counted until the move is pushed).
        """
        if self._diagram is None:
            rect = QRectF()
            for box in [*self._nodes.values(), *self._frames.values()]:
                rect = rect.united(box.scene_box())
            for edge in self._edges.values():
                rect = rect.united(edge.boundingRect().adjusted(6.0, 6.0, -6.0, -6.0))
            self._diagram = rect
        return QRectF(self._diagram)

    def detach(self) -> None:
        """Stop mirroring the model (before the scene is thrown away)."""
        with contextlib.suppress(ValueError):
            self.document.graph.events.disconnect(self._listener)

    # -- showing a graph level ------------------------------------------------------------
    def show_graph(self, graph: Graph) -> None:
        """Show another graph level of the document (the root or a group body)."""
        self._graph = graph
        self.rebuild()

    def rebuild(self) -> None:
        """Throw every item away and build them again from the model."""
        for item in list(self._edges.values()):
            self._remove_edge(item)
        for node_id in [*self._nodes, *self._frames]:
            self._remove_box(node_id)
        self._book.clear()
        self._reconcile(self._analysis())
        self._update_rect()

    def set_style(self, style: CanvasStyle) -> None:
        """Repaint everything with another theme."""
        self.style = style
        self._grid.clear()
        self.setBackgroundBrush(style.brushes["background"])
        for box in [*self._nodes.values(), *self._frames.values()]:
            box.set_style(style)
        for edge in self._edges.values():
            edge.set_style(style)
        self.update()
        self.refreshed.emit()  # overviews redraw in the new colours

    # -- mirroring ----------------------------------------------------------------------
    def apply_events(self, events: Sequence[Event]) -> None:
        """Mirror one batch of model events."""
        if not attached(self._graph, self.document.graph):
            self.graphLost.emit()
            return
        shown = [e for e in events if e.graph in self._levels]
        structural = any(e.structural or e.kind == "node_changed" for e in shown)
        values = any(e.kind != "node_moved" for e in events)
        analysis = self._analysis() if values or structural else None
        moved = any(e.kind == "node_moved" for e in shown)
        if structural:
            self._reconcile(analysis or self._analysis())
        elif moved:
            self._place()
        if analysis is not None and not structural:
            self._refresh(analysis)
        if moved:
            self._reroute_long_edges()
        if moved or structural:
            self._update_rect()
        self.refreshed.emit()

    def _analysis(self) -> Analysis:
        try:
            return self.document.analysis
        except Exception:  # an analysis bug must not take the canvas down
            return Analysis()

    def _reconcile(self, analysis: Analysis) -> None:
        """Add and remove items so that they match the model's nodes and wires."""
        self._stamp += 1
        self._levels = shown_levels(self._graph)
        wanted = {nid: (graph, node.body in self._levels and is_expanded(node))
                  for graph in self._levels for nid, node in graph.nodes.items()}
        live = {edge for graph in self._levels for edge in graph.edges}
        for edge in [e for e in self._edges if e not in live]:
            self._remove_edge(self._edges[edge])
        for node_id in [*self._nodes, *self._frames]:
            if node_id not in wanted or wanted[node_id][1] != (node_id in self._frames):
                self._remove_box(node_id)
        self._level_of = {nid: graph for nid, (graph, _) in wanted.items()}
        self._add_boxes(analysis, wanted)
        self._place()
        self._reconcile_edges()
        self._refresh(analysis)

    def _add_boxes(self, analysis: Analysis, wanted: dict[str, tuple[Graph, bool]]) -> None:
        for graph, depth in self._levels.items():
            new = [n for n in graph.nodes if n not in self._nodes and n not in self._frames]
            for node_id, look in self._book.changed(graph, new, analysis, self._stamp):
                box: Box
                if wanted[node_id][1]:
                    box = self._frames[node_id] = GroupFrame(node_id, look, self.style, depth)
                else:
                    box = self._nodes[node_id] = NodeItem(node_id, look, self.style)
                    box.set_flag(self._flags.get(node_id, ""))
                self.addItem(box)

    def _reconcile_edges(self) -> None:
        for graph in self._levels:
            slots = _slots(graph)
            for edge in graph.edges:
                source, target = self._end_boxes(graph, edge)
                item = self._edges.get(edge)
                if item is not None and (item.source is not source or item.target is not target):
                    self._remove_edge(item)
                    item = None
                if item is not None:
                    item.set_slot(*slots[edge])
                elif source is not None and target is not None:
                    self._add_edge(graph, edge, source, target, slots[edge])

    def _end_boxes(self, graph: Graph, edge: Edge) -> tuple[NodeItem | None, NodeItem | None]:
        """The boxes a wire joins; a wire of an expanded group ends on its port node."""
        return (self._port_box(graph, edge.source, edge.source_port, GROUP_OUTPUT),
                self._port_box(graph, edge.target, edge.target_port, GROUP_INPUT))

    def _port_box(self, graph: Graph, node_id: str, port: str, kind: str) -> NodeItem | None:
        if node_id not in self._frames:
            return self._nodes.get(node_id)
        body = graph.nodes[node_id].body
        assert body is not None
        inner = next((n.id for n in body.nodes.values() if n.type == kind and n.name == port),
                     None)
        return self._nodes.get(inner) if inner is not None else None

    def _add_edge(self, graph: Graph, edge: Edge, source: NodeItem, target: NodeItem,
                  slot: tuple[int, int]) -> None:
        item = EdgeItem(edge, source, target, self.style, self.obstacles, slot)
        item.level = graph
        self.addItem(item)
        self._edges[edge] = item

    def _remove_edge(self, item: EdgeItem) -> None:
        item.detach()
        self._edges.pop(item.edge, None)
        self.removeItem(item)

    def _remove_box(self, node_id: str) -> None:
        self._book.forget(node_id)
        frame = self._frames.pop(node_id, None)
        if frame is not None:
            self.removeItem(frame)
            return
        item = self._nodes.pop(node_id)
        for edge in list(item.edges):
            self._remove_edge(edge)
        self.removeItem(item)

    # -- placement ------------------------------------------------------------------------
    def _place(self) -> None:
        """Put every box where its level's placement says (frames fit their bodies)."""
        self._placements = {}
        self._place_level(base_placement(self._graph))

    def _place_level(self, placement: Placement) -> None:
        self._placements[placement.graph] = placement
        for node in placement.graph.nodes.values():
            pos = placement.to_scene(node.pos)
            frame = self._frames.get(node.id)
            if frame is None:
                item = self._nodes.get(node.id)
                if item is not None:
                    item.setPos(pos)
                continue
            assert node.body is not None
            frame.setPos(pos)
            self._place_level(body_placement(node.body, placement.depth + 1, pos))
            self._fit_frame(node.id)

    def _fit_frame(self, group_id: str) -> None:
        frame = self._frames[group_id]
        rect = QRectF()
        for box in self.frame_content(group_id):
            rect = rect.united(box.scene_box())
        if rect.isNull():
            frame.set_size(0.0, 0.0)
            return
        frame.set_size(rect.right() + FRAME_PAD - frame.x(), rect.bottom() + FRAME_PAD - frame.y())

    def refit_frames(self) -> None:
        """Fit every frame around its content again (while boxes are being dragged)."""
        for group_id in reversed(list(self._frames)):
            self._fit_frame(group_id)

    # -- looks --------------------------------------------------------------------------
    def refresh_looks(self) -> None:
        """Update every item from the model and the (possibly re-run) analysis."""
        self._refresh(self._analysis())

    def _refresh(self, analysis: Analysis) -> None:
        """Refresh the looks: visible items now, the others right after the repaint.

        In a large graph, describing every node after an edit that changes every shape
        would delay the frame; items off screen are refreshed from a zero-delay timer
        (:meth:`flush` forces it).
        """
        ids = [*self._nodes, *self._frames]
        if len(ids) > LAZY_ABOVE:
            visible = self._visible_ids()
            self._pending = [i for i in ids if i not in visible]
            ids = [i for i in ids if i in visible]
            if self._pending:
                self._flush_timer.start()
        else:
            self._pending = []
        self._apply_looks(ids, analysis)
        if self._frames:
            self.refit_frames()
        blamed: dict[Edge, str] = {}
        if analysis.issues:
            for graph in self._levels:
                blamed.update(edge_errors(graph, analysis))
        for edge, item in self._edges.items():
            if item.error or edge in blamed:
                item.set_error(blamed.get(edge, ""))

    def _apply_looks(self, node_ids: list[str], analysis: Analysis) -> None:
        by_level: dict[Graph, list[str]] = {}
        for node_id in node_ids:
            level = self._level_of.get(node_id)
            if level is not None:
                by_level.setdefault(level, []).append(node_id)
        for level, ids in by_level.items():
            for node_id, look in self._book.changed(level, ids, analysis, self._stamp):
                box = self.box(node_id)
                if box is not None:
                    box.set_look(look)

    def flush(self) -> None:
        """Refresh the looks left for later by the last refresh (before an export)."""
        self._flush_timer.stop()
        pending, self._pending = self._pending, []
        if pending:
            self._apply_looks(pending, self._analysis())

    def _visible_ids(self) -> set[str]:
        visible: set[str] = set()
        for view in self.views():
            rect = view.mapToScene(view.viewport().rect()).boundingRect()
            for item in self.items(rect.adjusted(-200.0, -200.0, 200.0, 200.0)):
                if isinstance(item, NodeItem | GroupFrame):
                    visible.add(item.node_id)
        return visible

    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:
        """Tooltips of nodes, frames and wires, built only when asked for."""
        text = ""
        for item in self.items(event.scenePos()):
            if isinstance(item, NodeItem | EdgeItem | GroupFrame):
                text = item.tooltip()
                if text:
                    break
        if text:
            QToolTip.showText(event.screenPos(), text, event.widget())
        else:
            QToolTip.hideText()
        event.setAccepted(bool(text))

    # -- geometry ---------------------------------------------------------------------
    def _reroute_long_edges(self) -> None:
        for item in self._edges.values():
            start, end = item.end_points()
            if item.detoured or end.y() - start.y() > 150.0:
                item.update_path(force=True)

    def geometry_changed(self) -> None:
        """Items were placed by other means than model events (e.g. an export's layout)."""
        self._update_rect()

    def _update_rect(self) -> None:
        self._diagram = None
        rect = self.diagram_rect()
        if rect.isNull():
            rect = QRectF(-400.0, -300.0, 800.0, 600.0)
        margin = SCENE_MARGIN
        rect = rect.adjusted(-margin, -margin, margin, margin)
        if rect != self.sceneRect():
            self.setSceneRect(rect)

    def obstacles(self, rect: QRectF, exclude: Sequence[str] = ()) -> list[QRectF]:
        """Scene boxes of the nodes intersecting ``rect``, except ``exclude``."""
        boxes = []
        for item in self.items(rect, Qt.ItemSelectionMode.IntersectsItemBoundingRect):
            if isinstance(item, NodeItem) and item.node_id not in exclude:
                box = item.scene_box()
                if box.intersects(rect):
                    boxes.append(box)
        return boxes

    def node_at(self, scene_pos: QPointF) -> NodeItem | None:
        """The topmost node box under a scene point."""
        for item in self.items(scene_pos):
            if isinstance(item, NodeItem) and item.scene_box().contains(scene_pos):
                return item
        return None

    def frame_header_at(self, scene_pos: QPointF) -> GroupFrame | None:
        """The expanded group whose header is under a scene point."""
        for item in self.items(scene_pos):
            if isinstance(item, GroupFrame) and item.header_hit(scene_pos):
                return item
        return None

    def level_at(self, scene_pos: QPointF) -> Graph:
        """The deepest level whose area holds a scene point (an expanded body, or the base)."""
        best, depth = self._graph, -1
        for group_id, frame in self._frames.items():
            node = self._level_of[group_id].nodes.get(group_id)
            if node is not None and node.body is not None and \
                    frame.scene_box().contains(scene_pos) and self._levels[node.body] > depth:
                best, depth = node.body, self._levels[node.body]
        return best

    def edge_near(self, scene_pos: QPointF) -> EdgeItem | None:
        """The wire passing under a scene point (within its hover width)."""
        for item in self.items(scene_pos):
            if isinstance(item, EdgeItem):
                return item
        return None

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        if self.show_grid:
            self._grid.paint(painter, rect, self.style)
        else:
            painter.fillRect(rect, self.style.brushes["background"])


def _slots(graph: Graph) -> dict[Edge, tuple[int, int]]:
    """Where each wire enters its port: index and count of the port's wires."""
    ports: dict[tuple[str, str], list[Edge]] = {}
    for edge in graph.edges:
        ports.setdefault((edge.target, edge.target_port), []).append(edge)
    return {edge: (index, len(edges)) for edges in ports.values()
            for index, edge in enumerate(edges)}


def set_items_cache(scene: QGraphicsScene, mode: QGraphicsItem.CacheMode) -> None:
    """Set the cache mode of every node item (rendering to a file uses no cache)."""
    for item in scene.items():
        if isinstance(item, NodeItem):
            item.setCacheMode(mode)

