"""Fixtures of the canvas tests: a shown view (or editor) over a document, gesture helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from pytestqt.qtbot import QtBot

from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.editor import NetworkEditor
from tests.ui import canvas_graphs

MakeView = Callable[[Graph], GraphView]
MakeEditor = Callable[[Graph], NetworkEditor]


@pytest.fixture(scope="session", autouse=True)
def _clear_clipboard_at_exit() -> Iterator[None]:
    """Empty the clipboard before the interpreter exits.

    With PySide6 6.11 a ``QMimeData`` left on the clipboard is destroyed by a Qt exit
    handler after Python has finalised, and the process dies with a segmentation fault
    (an 8-line script that sets clipboard data reproduces it).
    """
    yield
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()


@pytest.fixture
def make_view(qtbot: QtBot) -> Iterator[MakeView]:
    """Build, show and return a view over a new document of ``graph`` (at 100 %).

    The fixture keeps the views alive until teardown and then drops them outside of any
    event processing: a shown top-level widget reachable only through a reference cycle
    (a test frame held by a traceback, say) would otherwise be collected by the garbage
    collector in the middle of its own paint event, which crashes Qt.
    """
    views: list[GraphView] = []

    def make(graph: Graph) -> GraphView:
        view = GraphView(Document(graph))
        views.append(view)
        qtbot.addWidget(view)
        view.resize(900, 700)
        view.show()
        qtbot.waitExposed(view)
        view.set_dark(False)
        view.centerOn(view.graph_scene.diagram_rect().center())
        return view

    yield make
    for view in views:
        view.close()
    views.clear()


@pytest.fixture
def chain_view(make_view: MakeView) -> GraphView:
    """input → conv1 → relu1 → output."""
    return make_view(canvas_graphs.small_chain())


@pytest.fixture
def make_editor(qtbot: QtBot) -> Iterator[MakeEditor]:
    """Build, show and return an editor over a new document of ``graph`` (canvas at 100 %).

    The editor's actions are live: keys pressed on ``editor.view`` run them as they do in
    the main window. Teardown as in :func:`make_view`.
    """
    editors: list[NetworkEditor] = []

    def make(graph: Graph) -> NetworkEditor:
        editor = NetworkEditor(Document(graph))
        editors.append(editor)
        qtbot.addWidget(editor)
        editor.resize(900, 700)
        editor.show()
        qtbot.waitExposed(editor)
        editor.set_dark(False)
        editor.view.centerOn(editor.view.graph_scene.diagram_rect().center())
        editor.activateWindow()
        editor.view.setFocus()
        qtbot.waitUntil(editor.view.hasFocus, timeout=3000)  # shortcuts need the focus
        return editor

    yield make
    for editor in editors:
        editor.close()
    editors.clear()


@pytest.fixture
def chain_editor(make_editor: MakeEditor) -> NetworkEditor:
    """An editor over input → conv1 → relu1 → output."""
    return make_editor(canvas_graphs.small_chain())


def ids(view: GraphView) -> dict[str, str]:
    """Node name → id of the shown graph level."""
    return {n.name: n.id for n in view.current_graph.nodes.values()}


def port_point(view: GraphView, node_id: str, kind: str, name: str) -> QPoint:
    """Viewport position of a port."""
    item = view.graph_scene.node_item(node_id)
    assert item is not None
    return view.mapFromScene(item.port_pos(kind, name))


def node_point(view: GraphView, node_id: str) -> QPoint:
    """Viewport position of a node's centre."""
    item = view.graph_scene.node_item(node_id)
    assert item is not None
    return view.mapFromScene(item.scene_box().center())


def drag(qtbot: QtBot, view: GraphView, start: QPoint, end: QPoint,
         button: Qt.MouseButton = Qt.MouseButton.LeftButton,
         modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Press at ``start``, move in steps to ``end`` and release there."""
    viewport = view.viewport()
    qtbot.mousePress(viewport, button, modifiers, start)
    for k in range(1, 5):
        point = QPointF(start) + (QPointF(end) - QPointF(start)) * (k / 4)
        qtbot.mouseMove(viewport, point.toPoint())
    qtbot.mouseRelease(viewport, button, modifiers, end)
