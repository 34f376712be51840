"""Layout that uses the window: folded columns, wires around boxes, room around groups."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import combinations
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QPoint, QRectF, QSettings, Qt
from pytestqt.qtbot import QtBot

from netbuilder.core.graph import Graph
from netbuilder.core.layout import FOLD_TOLERANCE, apply_layout
from netbuilder.templates import build_template
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.canvas.edge_item import EdgeItem
from netbuilder.ui.canvas.frame_item import GroupFrame
from netbuilder.ui.canvas.node_item import NodeItem
from netbuilder.ui.editor import READABLE_ZOOM
from netbuilder.ui.main_window import MainWindow
from tests.ui import canvas_graphs
from tests.ui.conftest import MakeEditor, MakeView, drag, node_point
from tests.ui.test_canvas_zoom import one_column


def crossed_boxes(view: GraphView, wire: EdgeItem) -> list[str]:
    """Names of the boxes the wire's path runs through (their inside, not their edge)."""
    path = wire.path()
    points = [path.pointAtPercent(k / 400) for k in range(401)]
    crossed = []
    for item in view.graph_scene.node_items():
        inside = item.scene_box().adjusted(2.0, 2.0, -2.0, -2.0)
        if any(inside.contains(p) for p in points):
            crossed.append(item.look.name)
    return crossed


def test_folded_columns_are_joined_by_wires_around_the_boxes(make_view: MakeView) -> None:
    view = make_view(canvas_graphs.residual(6))
    scene = view.graph_scene
    columns = {round(item.scene_box().left()) for item in scene.node_items()
               if item.look.name.startswith("relu") and item.look.name[4:].isdigit()}
    assert len(columns) > 1, "a long residual network is folded into columns"
    climbing = [w for w in scene.edge_items() if w.end_points()[1].y() < w.end_points()[0].y()]
    assert climbing
    for wire in scene.edge_items():
        assert crossed_boxes(view, wire) == [], wire.edge


def test_a_wire_dragged_upward_climbs_around_the_boxes(chain_view: GraphView,
                                                       qtbot: QtBot) -> None:
    graph = chain_view.current_graph
    output, inputs = graph.by_name("output"), graph.by_name("input")
    chain_view.fit()
    top = node_point(chain_view, inputs.id) - QPoint(0, 90)
    drag(qtbot, chain_view, node_point(chain_view, output.id), top)
    box = chain_view.graph_scene.node_item(output.id)
    assert box is not None and box.scene_box().bottom() < chain_view.graph_scene.node_item(
        inputs.id).scene_box().top()
    wire = chain_view.graph_scene.edge_item(graph.in_edges(output.id)[0])
    assert wire is not None and crossed_boxes(chain_view, wire) == []


# -- expanding and collapsing in place ------------------------------------------------------
def base_boxes(view: GraphView) -> dict[str, QRectF]:
    """Scene boxes of the shown level's nodes (frames for groups expanded in place)."""
    scene = view.graph_scene
    return {node.name: box.scene_box() for node in view.current_graph.nodes.values()
            if (box := scene.box(node.id)) is not None}


def assert_disjoint(view: GraphView) -> None:
    boxes = base_boxes(view)
    overlaps = [(a, b) for (a, ra), (b, rb) in combinations(boxes.items(), 2)
                if ra.intersects(rb)]
    assert overlaps == []


def click_chevron(view: GraphView, qtbot: QtBot, box: NodeItem | GroupFrame) -> None:
    rect = box._toggle_rect()
    view.ensureVisible(box.mapRectToScene(rect), 40, 40)
    at = view.mapFromScene(box.mapToScene(rect.center()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)


@pytest.fixture(params=["folded", "one column"])
def resnet50(make_view: MakeView, request: pytest.FixtureRequest) -> GraphView:
    """ResNet-50 with its stages collapsed: folded, and in one column (layer2... below)."""
    graph = build_template("resnet50")
    for node in graph.nodes.values():  # the template opens its stages expanded in place
        node.collapsed = True
    apply_layout(graph, deep=False)
    view = make_view(graph if request.param == "folded" else one_column(graph))
    view.resize(1100, 900)
    view.fit()
    return view


def test_expanding_a_group_in_place_makes_room_in_one_step(resnet50: GraphView,
                                                           qtbot: QtBot) -> None:
    view, scene = resnet50, resnet50.graph_scene
    before = {n.name: n.pos for n in view.current_graph.nodes.values()}
    steps = len(view.document.history)
    layer1 = view.current_graph.by_name("layer1")
    box = scene.node_item(layer1.id)
    assert box is not None
    click_chevron(view, qtbot, box)
    frame = scene.frame_item(layer1.id)
    assert frame is not None, "the chevron expands layer1 in place"
    assert len(view.document.history) == steps + 1
    assert_disjoint(view)
    for name in ("layer2", "layer3", "layer4", "avgpool"):
        assert not frame.scene_box().intersects(base_boxes(view)[name]), name
    view.document.undo()
    assert scene.frame_item(layer1.id) is None
    assert {n.name: n.pos for n in view.current_graph.nodes.values()} == before
    view.document.redo()
    frame = scene.frame_item(layer1.id)
    assert frame is not None
    assert_disjoint(view)
    click_chevron(view, qtbot, frame)
    assert scene.frame_item(layer1.id) is None
    assert {n.name: n.pos for n in view.current_graph.nodes.values()} == before, \
        "collapsing closes the room it made: no gap is left"


def test_expanding_inside_an_expanded_group_makes_room_on_both_levels(
        resnet50: GraphView, qtbot: QtBot) -> None:
    view, scene = resnet50, resnet50.graph_scene
    layer2 = view.current_graph.by_name("layer2")
    assert view.edits.set_expanded(layer2.id, True)
    assert layer2.body is not None
    block = layer2.body.by_name("0")
    box = scene.node_item(block.id)
    assert box is not None
    click_chevron(view, qtbot, box)
    assert scene.frame_item(block.id) is not None
    assert_disjoint(view)
    inner = {n.name: scene.box(n.id).scene_box() for n in layer2.body.nodes.values()}
    assert not any(a.intersects(b) for a, b in combinations(inner.values(), 2))
    outer = scene.frame_item(layer2.id)
    assert outer is not None
    assert all(outer.scene_box().contains(r) for r in inner.values())


# -- grouping ---------------------------------------------------------------------------------
def test_grouping_leaves_no_gap(make_editor: MakeEditor, qtbot: QtBot) -> None:
    editor = make_editor(one_column(canvas_graphs.lenet5()))
    view, graph = editor.view, editor.view.current_graph
    names = ("c3", "act2", "s4")
    view.select([graph.by_name(n).id for n in names])
    below = graph.by_name("flatten")
    column_gap = below.pos[1] - graph.by_name("s4").pos[1] - view.graph_scene.box(
        graph.by_name("s4").id).size[1]
    before = {n.name: n.pos for n in graph.nodes.values()}
    steps = len(editor.document.history)
    qtbot.keyClick(view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    group = next(n for n in graph.nodes.values() if n.body is not None)
    assert len(editor.document.history) == steps + 1
    group_box = view.graph_scene.box(group.id)
    assert group_box is not None
    gap = view.graph_scene.box(below.id).scene_box().top() - group_box.scene_box().bottom()
    assert gap == pytest.approx(column_gap), "the nodes below move up to the group"
    assert_disjoint(view)
    editor.document.undo()
    assert {n.name: n.pos for n in graph.nodes.values()} == before


# -- the fold option --------------------------------------------------------------------------
@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path) -> Iterator[Callable[[], MainWindow]]:
    """Shown main windows on the start example sharing settings in ``tmp_path``."""
    made: list[MainWindow] = []

    def make() -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks")
        made.append(window)
        window.resize(1400, 900)
        with qtbot.waitExposed(window):
            window.show()
        return window

    yield make
    for window in made:
        if shiboken6.isValid(window):  # not closed (and deleted) by the test
            window.document.history.set_clean()
            window.close()


def columns(graph: Graph) -> set[float]:
    return {node.pos[0] for node in graph.nodes.values()}


def test_the_start_example_uses_the_window_and_fold_is_a_persisted_view_option(
        make_window: Callable[[], MainWindow], qtbot: QtBot) -> None:
    window = make_window()
    graph = window.view.current_graph
    assert len(columns(graph)) > 1, "LeNet-5 opens folded into columns"
    view = window.view
    qtbot.waitUntil(lambda: view.mapToScene(view.viewport().rect()).boundingRect().contains(
        view.graph_scene.diagram_rect()))  # the start view: all of it
    assert view.zoom >= READABLE_ZOOM
    fold = window.act["fold_columns"]
    assert fold.isCheckable() and fold.isChecked()
    steps = len(window.document.history)
    fold.trigger()
    assert not fold.isChecked() and len(columns(graph)) == 1
    assert len(window.document.history) == steps + 1, "applied as one undo step"
    window.document.undo()
    assert len(columns(graph)) > 1
    window.document.history.set_clean()
    window.close()
    again = make_window()
    assert not again.act["fold_columns"].isChecked(), "the choice is remembered"
    again.act["auto_layout"].trigger()
    assert len(columns(again.view.current_graph)) == 1
    again.act["fold_columns"].trigger()
    assert len(columns(again.view.current_graph)) > 1


def test_auto_layout_folds_to_the_view(make_editor: MakeEditor, qtbot: QtBot) -> None:
    editor = make_editor(one_column(canvas_graphs.lenet5()))
    editor.resize(1200, 500)
    qtbot.waitUntil(lambda: editor.view.viewport().height() < 520)
    qtbot.keyClick(editor.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    view = editor.view
    assert len(columns(view.current_graph)) > 2
    assert view.zoom >= FOLD_TOLERANCE, "folded to the short, wide view: all, near 100 %"
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.graph_scene.diagram_rect())
    assert_disjoint(view)
