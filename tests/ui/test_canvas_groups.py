"""Groups, layout, navigation, themes and the minimap of the canvas."""

from __future__ import annotations

from itertools import combinations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from netbuilder.core import commands
from netbuilder.core.graph import Edge
from netbuilder.ui.canvas import GraphView, Minimap
from netbuilder.ui.canvas.view import MIN_SCALE
from netbuilder.ui.editor import NetworkEditor
from tests.ui import canvas_graphs
from tests.ui.conftest import MakeEditor, MakeView, drag, ids, node_point


def overlaps(view: GraphView) -> list[tuple[str, str]]:
    items = view.graph_scene.node_items()
    return [(a.look.name, b.look.name) for a, b in combinations(items, 2)
            if a.scene_box().intersects(b.scene_box())]


# -- groups -------------------------------------------------------------------------------
def test_grouping_draws_one_box_with_ports_and_ungrouping_restores(
        chain_editor: NetworkEditor, qtbot: QtBot) -> None:
    chain_view = chain_editor.view
    names = ids(chain_view)
    chain_view.select([names["conv1"], names["relu1"]])
    qtbot.keyClick(chain_view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    group_id = next(n.id for n in chain_view.current_graph.nodes.values() if n.type == "group")
    scene = chain_view.graph_scene
    assert len(scene.node_items()) == 3 and len(scene.edge_items()) == 2
    group = scene.node_item(group_id)
    assert group is not None and group.look.group
    assert [p.name for p in group.look.inputs] == ["x"]
    assert [p.name for p in group.look.outputs] == ["out"]
    assert group.look.shape == "6×28×28" and group.look.label == "2 blocks"
    assert chain_view.selected_ids() == [group_id]
    qtbot.keyClick(chain_view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert len(scene.node_items()) == 4 and len(scene.edge_items()) == 3
    chain_view.document.undo()
    chain_view.document.undo()
    assert set(ids(chain_view)) == set(names)


def test_double_click_opens_a_group_and_close_goes_back(chain_editor: NetworkEditor,
                                                        qtbot: QtBot) -> None:
    chain_view = chain_editor.view
    names = ids(chain_view)
    chain_view.select([names["conv1"], names["relu1"]])
    group_id = chain_editor.group_selected()
    paths: list[list[str]] = []
    chain_view.currentGraphChanged.connect(paths.append)
    with qtbot.waitSignal(chain_view.nodeActivated) as signal:
        qtbot.mouseDClick(chain_view.viewport(), Qt.MouseButton.LeftButton,
                          pos=node_point(chain_view, group_id))
    assert signal.args == [group_id]
    body = chain_view.current_graph
    assert body.owner is not None and body.owner.id == group_id
    assert {i.look.name for i in chain_view.graph_scene.node_items()} == {
        "conv1", "relu1", "x", "out"}
    assert paths[-1] == ["group1"]
    conv = chain_view.graph_scene.node_item(names["conv1"])
    assert conv is not None and conv.look.shape == "6×28×28"
    assert chain_view.close_group()
    assert chain_view.current_graph is chain_view.document.graph
    assert chain_view.selected_ids() == [group_id]


def test_a_composite_block_shows_collapsed_and_opens_laid_out(make_view: MakeView) -> None:
    view = make_view(canvas_graphs.residual(1))
    node_id = view.edits.add_block("basic_block", QPointF(900.0, 0.0))
    item = view.graph_scene.node_item(node_id)
    assert item is not None and item.look.group
    assert item.look.title == "Residual Basic Block" and item.look.label == "64, s1"
    assert view.open_group(node_id)
    assert len(view.graph_scene.node_items()) > 4
    assert not overlaps(view)


def test_deleting_the_opened_group_goes_back_to_the_root(chain_editor: NetworkEditor,
                                                         qtbot: QtBot) -> None:
    chain_view = chain_editor.view
    names = ids(chain_view)
    chain_view.select([names["conv1"], names["relu1"]])
    group_id = chain_editor.group_selected()
    chain_view.open_group(group_id)
    with qtbot.waitSignal(chain_view.statusMessage):
        chain_view.document.undo()
    assert chain_view.current_graph is chain_view.document.graph
    assert len(chain_view.graph_scene.node_items()) == 4


def test_edits_inside_an_opened_group_update_the_group_outside(
        chain_editor: NetworkEditor) -> None:
    chain_view = chain_editor.view
    names = ids(chain_view)
    chain_view.select([names["conv1"], names["relu1"]])
    group_id = chain_editor.group_selected()
    chain_view.open_group(group_id)
    chain_view.document.push(commands.set_param(chain_view.current_graph, names["conv1"],
                                                "out_channels", 8))
    chain_view.close_group()
    group = chain_view.graph_scene.node_item(group_id)
    assert group is not None and group.look.shape == "8×28×28"


# -- layout ---------------------------------------------------------------------------------
def test_auto_layout_removes_overlaps_in_one_undo_step(make_view: MakeView) -> None:
    view = make_view(canvas_graphs.inception_like())
    graph = view.current_graph
    view.document.push(commands.MoveNodes(graph, {n: (10.0 * k, 5.0 * k) for k, n in
                                                  enumerate(graph.nodes)}))
    assert overlaps(view)
    steps = len(view.document.history)
    view.edits.auto_layout()
    assert not overlaps(view)
    assert len(view.document.history) == steps + 1
    branches = [n for n in graph.nodes.values() if n.name.startswith("branch")]
    assert len({n.pos[1] for n in branches}) == 1, "branches side by side"
    for edge in graph.edges:
        assert graph.nodes[edge.target].pos[1] > graph.nodes[edge.source].pos[1]
    view.document.undo()
    assert overlaps(view)


def test_a_long_shortcut_wire_bends_around_the_boxes(make_view: MakeView) -> None:
    view = make_view(canvas_graphs.residual(1))
    names = ids(view)
    wire = view.graph_scene.edge_item(Edge(names["stem_relu"], names["add1"]))
    assert wire is not None and wire.detoured
    boxes = [i.scene_box() for i in view.graph_scene.node_items()
             if i.look.name not in ("stem_relu", "add1")]
    middle = wire.path().pointAtPercent(0.5)
    assert not any(box.contains(middle) for box in boxes)


# -- navigation -----------------------------------------------------------------------------
def test_wheel_zooms_around_the_mouse(chain_view: GraphView) -> None:
    names = ids(chain_view)
    at = node_point(chain_view, names["conv1"])
    under = chain_view.mapToScene(at)
    event = QWheelEvent(QPointF(at), QPointF(chain_view.viewport().mapToGlobal(at)),
                        QPoint(), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(chain_view.viewport(), event)
    assert chain_view.zoom > 1.2
    after = chain_view.mapToScene(at)
    assert abs(after.x() - under.x()) < 3 and abs(after.y() - under.y()) < 3


def test_f_fits_the_whole_diagram(make_editor: MakeEditor, qtbot: QtBot) -> None:
    view = make_editor(canvas_graphs.residual(3)).view
    view.zoom_by(3.0)
    qtbot.keyClick(view, Qt.Key.Key_F)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.graph_scene.diagram_rect())
    assert view.zoom <= 1.0


def test_middle_drag_and_space_drag_pan(chain_view: GraphView, qtbot: QtBot) -> None:
    center = chain_view.viewport().rect().center()
    before = chain_view.mapToScene(center)
    drag(qtbot, chain_view, center, center + QPoint(100, 50), Qt.MouseButton.MiddleButton)
    moved = chain_view.mapToScene(center)
    assert abs((before - moved).x() - 100) < 2 and abs((before - moved).y() - 50) < 2
    steps = len(chain_view.document.history)
    qtbot.keyPress(chain_view, Qt.Key.Key_Space)
    drag(qtbot, chain_view, center, center + QPoint(-100, 0))
    qtbot.keyRelease(chain_view, Qt.Key.Key_Space)
    assert abs(chain_view.mapToScene(center).x() - moved.x() - 100) < 2
    assert len(chain_view.document.history) == steps


def test_minimap_shows_for_a_large_graph_and_steers_the_view(make_view: MakeView,
                                                             qtbot: QtBot) -> None:
    view = make_view(canvas_graphs.residual(6))
    view.resetTransform()
    minimap = Minimap(view)
    minimap.show()
    assert minimap.isVisible()
    assert not minimap.grab().isNull()
    before = view.mapToScene(view.viewport().rect().center())
    qtbot.mouseClick(minimap, Qt.MouseButton.LeftButton,
                     pos=QPoint(minimap.width() // 2, minimap.height() - 10))
    after = view.mapToScene(view.viewport().rect().center())
    assert after.y() > before.y() + 100
    view.fit(MIN_SCALE)  # the whole diagram, however small
    assert not minimap.isVisible()


# -- themes and lifetime ----------------------------------------------------------------
def test_dark_theme_repaints_the_canvas(chain_view: GraphView) -> None:
    light = chain_view.grab().toImage().pixelColor(5, 5)
    chain_view.set_dark(True)
    assert chain_view.graph_scene.style.dark
    dark = chain_view.grab().toImage().pixelColor(5, 5)
    assert dark.lightness() < light.lightness() - 100


def test_a_closed_view_stops_listening_to_the_document(chain_view: GraphView) -> None:
    document = chain_view.document
    chain_view.close()
    chain_view.deleteLater()
    QApplication.processEvents()
    document.push(commands.add_node(document.graph, "relu"))
    assert len(document.graph.nodes) == 5


def test_minimap_follows_the_theme(make_view: MakeView) -> None:
    view = make_view(canvas_graphs.residual(6))
    view.resetTransform()
    minimap = Minimap(view)
    minimap.show()
    light = minimap.grab().toImage().pixelColor(minimap.width() // 2, 3)
    view.set_dark(True)
    dark = minimap.grab().toImage().pixelColor(minimap.width() // 2, 3)
    assert dark.lightness() < light.lightness() - 60
