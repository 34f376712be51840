"""The canvas, driven as a user drives it: real mouse, keyboard and drop events."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import (
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QHelpEvent,
)
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from netbuilder.core import commands
from netbuilder.core.graph import Edge, Graph
from netbuilder.ui.canvas import BLOCK_MIME, GraphView
from netbuilder.ui.editor import NetworkEditor
from tests.ui import canvas_graphs
from tests.ui.conftest import MakeView, drag, ids, node_point, port_point


def drop_block(view: GraphView, key: str, at: QPoint) -> None:
    """Drag a palette block over the viewport and drop it at ``at``."""
    mime = QMimeData()
    mime.setData(BLOCK_MIME, key.encode("utf-8"))
    copy = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    viewport = view.viewport()
    QApplication.sendEvent(viewport, QDragEnterEvent(at + QPoint(-30, -30), copy, mime,
                                                     buttons, mods))
    QApplication.sendEvent(viewport, QDragMoveEvent(at, copy, mime, buttons, mods))
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), copy, mime, buttons, mods))


def unwired() -> Graph:
    """input, conv1 and relu1 with no wires."""
    graph = Graph()
    graph.add("input", "input", pos=(0.0, 0.0), shape=(1, 28, 28))
    graph.add("conv2d", "conv1", pos=(0.0, 160.0), out_channels=6, kernel_size=5)
    graph.add("relu", "relu1", pos=(300.0, 160.0))
    return graph


def abc_chain() -> Graph:
    """Three convolutions a → b → c, a's input free."""
    graph = Graph()
    a = graph.add("conv2d", "a", pos=(0.0, 0.0))
    b = graph.add("conv2d", "b", pos=(0.0, 140.0), after=a)
    graph.add("conv2d", "c", pos=(0.0, 280.0), after=b)
    return graph


# -- mirroring the model ------------------------------------------------------------------
def test_items_show_names_key_parameters_and_shapes(chain_view: GraphView) -> None:
    scene, names = chain_view.graph_scene, ids(chain_view)
    assert len(scene.node_items()) == 4 and len(scene.edge_items()) == 3
    conv = scene.node_item(names["conv1"])
    assert conv is not None
    assert conv.look.label == "5×5, 6, s1 p2"
    assert conv.look.shape == "6×28×28"
    assert conv.look.title == "Conv 2D" and conv.look.params == "156 params"
    assert "conv1" in conv.tooltip()


def test_editing_a_parameter_changes_the_downstream_shape(chain_view: GraphView) -> None:
    names, scene = ids(chain_view), chain_view.graph_scene
    relu = scene.node_item(names["relu1"])
    assert relu is not None and relu.look.shape == "6×28×28"
    chain_view.document.push(commands.set_param(chain_view.current_graph, names["conv1"],
                                                "out_channels", 16))
    assert relu.look.shape == "16×28×28"
    chain_view.document.undo()
    assert relu.look.shape == "6×28×28"


def test_a_shape_error_shows_on_the_node(chain_view: GraphView) -> None:
    names, graph = ids(chain_view), chain_view.current_graph
    chain_view.document.push(commands.SetParams(graph, names["conv1"], {"padding": 0}))
    chain_view.document.push(commands.set_param(graph, names["input"], "shape", (1, 3, 3)))
    conv = chain_view.graph_scene.node_item(names["conv1"])
    assert conv is not None and conv.look.errors
    message = conv.look.errors[0]
    assert message.startswith("conv1:")
    assert message.split(": ", 1)[1].split(" (")[0] in conv.tooltip()
    blamed = [i for i in chain_view.graph_scene.edge_items() if i.error]
    issue_edges = [i.edge for i in chain_view.document.analysis.errors if i.edge]
    assert [i.edge for i in blamed] == issue_edges
    chain_view.document.undo()
    assert not conv.look.errors


def test_heavy_is_relative_to_a_large_network_and_explained(make_view: MakeView) -> None:
    small = make_view(canvas_graphs.lenet5())
    assert not any(i.look.heavy for i in small.graph_scene.node_items()), \
        "in a network of five weighted layers nothing is singled out"
    graph = canvas_graphs.residual(4)
    commands.set_param(graph, graph.by_name("fc").id, "out_features", 1000).redo()
    view = make_view(graph)
    items = {i.look.name: i for i in view.graph_scene.node_items()}
    fc = items["fc"]
    assert fc.look.heavy_params and not items["stem_bn"].look.heavy
    assert "Heavy" in fc.tooltip() and "of its parameters" in fc.tooltip()
    texts = {t.text: t for t in fc.shown_texts(1.0)}
    assert texts[fc.look.params].pen == "text", "a heavy cost is not drawn as a warning"
    assert not any("▲" in t for t in texts)


def test_frozen_and_group_state_follow_the_model(chain_view: GraphView) -> None:
    names, graph = ids(chain_view), chain_view.current_graph
    chain_view.document.push(commands.SetAttribute(graph, names["conv1"], "frozen", True))
    item = chain_view.graph_scene.node_item(names["conv1"])
    assert item is not None and item.look.frozen and "frozen" in item.tooltip()


# -- adding blocks ----------------------------------------------------------------------
def test_dropping_a_palette_block_adds_it_where_dropped(make_view: MakeView) -> None:
    view = make_view(unwired())
    at = view.mapFromScene(QPointF(600.0, 40.0))
    drop_block(view, "maxpool2d", at)
    added = [n for n in view.current_graph.nodes.values() if n.type == "maxpool2d"]
    assert len(added) == 1
    item = view.graph_scene.node_item(added[0].id)
    assert item is not None and item.scene_box().contains(QPointF(600.0, 40.0))
    assert view.selected_ids() == [added[0].id]
    view.document.undo()
    assert not any(n.type == "maxpool2d" for n in view.current_graph.nodes.values())


def test_dropping_on_a_wire_inserts_the_block_in_one_step(chain_view: GraphView) -> None:
    names, graph = ids(chain_view), chain_view.current_graph
    wire = Edge(names["conv1"], names["relu1"])
    item = chain_view.graph_scene.edge_item(wire)
    assert item is not None
    middle = item.path().pointAtPercent(0.5)
    steps = len(chain_view.document.history)
    drop_block(chain_view, "batchnorm2d", chain_view.mapFromScene(middle))
    bn = next(n for n in graph.nodes.values() if n.type == "batchnorm2d")
    assert wire not in graph.edges
    assert Edge(names["conv1"], bn.id) in graph.edges
    assert Edge(bn.id, names["relu1"]) in graph.edges
    assert len(chain_view.document.history) == steps + 1
    assert chain_view.graph_scene.node_item(names["relu1"]).look.shape == "6×28×28"
    chain_view.document.undo()
    assert wire in graph.edges and bn.id not in graph.nodes
    assert len(chain_view.graph_scene.edge_items()) == 3


def test_an_unknown_block_is_refused_with_a_message(chain_view: GraphView,
                                                    qtbot: QtBot) -> None:
    with qtbot.waitSignal(chain_view.statusMessage) as signal:
        assert chain_view.edits.add_block("no_such_block") == ""
    assert "no_such_block" in signal.args[0]


def test_quick_add_with_tab_adds_the_typed_block(make_view: MakeView, qtbot: QtBot) -> None:
    view = make_view(unwired())
    view.select([])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    popup = view.quick_add_popup
    assert popup is not None and popup.isVisible()
    qtbot.keyClicks(popup.search, "maxpool2")
    assert popup.list.currentItem().text().startswith("Max Pool 2D")
    qtbot.keyClick(popup.search, Qt.Key.Key_Return)
    assert not popup.isVisible()
    assert any(n.type == "maxpool2d" for n in view.current_graph.nodes.values())


def test_double_click_on_empty_canvas_opens_quick_add(make_view: MakeView,
                                                      qtbot: QtBot) -> None:
    view = make_view(unwired())
    empty = view.mapFromScene(QPointF(700.0, 400.0))
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=empty)
    popup = view.quick_add_popup
    assert popup is not None and popup.isVisible()
    qtbot.keyClicks(popup.search, "relu")
    qtbot.keyClick(popup.search, Qt.Key.Key_Down)
    assert popup.list.currentRow() == 1
    qtbot.keyClick(popup.search, Qt.Key.Key_Escape)
    assert not popup.isVisible()
    assert len(view.current_graph.nodes) == 3


def test_quick_add_with_a_selected_node_wires_the_new_block_below(
        make_view: MakeView, qtbot: QtBot) -> None:
    view = make_view(unwired())
    names = ids(view)
    view.select([names["relu1"]])
    view.quick_add()
    popup = view.quick_add_popup
    assert popup is not None
    qtbot.keyClicks(popup.search, "dropout")
    popup.accept_current()
    new = view.selected_ids()[0]
    assert view.current_graph.nodes[new].type == "dropout"
    assert Edge(names["relu1"], new) in view.current_graph.edges
    assert view.current_graph.nodes[new].pos[1] > view.current_graph.nodes[names["relu1"]].pos[1]


# -- wiring -------------------------------------------------------------------------------
def test_dragging_from_an_output_to_an_input_connects(make_view: MakeView,
                                                      qtbot: QtBot) -> None:
    view = make_view(unwired())
    names = ids(view)
    drag(qtbot, view, port_point(view, names["input"], "out", "out"),
         port_point(view, names["conv1"], "in", "in"))
    assert Edge(names["input"], names["conv1"]) in view.current_graph.edges
    assert view.graph_scene.edge_item(Edge(names["input"], names["conv1"])) is not None
    assert view.graph_scene.node_item(names["conv1"]).look.shape == "6×24×24"
    assert view.document.history.undo_text.startswith("Connect")


def test_dropping_a_wire_on_a_node_body_uses_its_free_input(make_view: MakeView,
                                                            qtbot: QtBot) -> None:
    view = make_view(unwired())
    names = ids(view)
    drag(qtbot, view, port_point(view, names["conv1"], "out", "out"),
         node_point(view, names["relu1"]))
    assert Edge(names["conv1"], names["relu1"]) in view.current_graph.edges


def test_dragging_backwards_from_an_input_connects_too(make_view: MakeView,
                                                       qtbot: QtBot) -> None:
    view = make_view(unwired())
    names = ids(view)
    drag(qtbot, view, port_point(view, names["relu1"], "in", "in"),
         port_point(view, names["conv1"], "out", "out"))
    assert Edge(names["conv1"], names["relu1"]) in view.current_graph.edges


def test_a_cycle_is_refused_and_the_model_is_unchanged(make_view: MakeView,
                                                       qtbot: QtBot) -> None:
    view = make_view(abc_chain())
    names = ids(view)
    before = list(view.current_graph.edges)
    steps = len(view.document.history)
    with qtbot.waitSignal(view.statusMessage) as signal:
        drag(qtbot, view, port_point(view, names["c"], "out", "out"),
             port_point(view, names["a"], "in", "in"))
    assert signal.args == ["connecting c to a would make a cycle"]
    assert view.current_graph.edges == before
    assert len(view.document.history) == steps
    assert all(i.scene() is not None for i in view.graph_scene.edge_items())
    assert not any(i.hot_ports for i in view.graph_scene.node_items())


def test_compatible_ports_light_up_while_dragging(make_view: MakeView, qtbot: QtBot) -> None:
    view = make_view(abc_chain())
    names = ids(view)
    viewport = view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=port_point(
        view, names["b"], "out", "out"))
    qtbot.mouseMove(viewport, QPoint(10, 10))
    hot = {i.node_id: i.hot_ports for i in view.graph_scene.node_items() if i.hot_ports}
    assert set(hot) == set(), "a is upstream and c's input is taken"
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert len(view.current_graph.edges) == 2


def test_port_hints_follow_the_models_rule(make_view: MakeView, qtbot: QtBot) -> None:
    view = make_view(canvas_graphs.residual(2))
    names = ids(view)
    viewport = view.viewport()

    def lit_while_dragging_from(node: str, kind: str, port: str) -> set[str]:
        qtbot.mousePress(viewport, Qt.MouseButton.LeftButton,
                         pos=port_point(view, names[node], kind, port))
        qtbot.mouseMove(viewport, QPoint(10, 10))
        lit = {i.look.name for i in view.graph_scene.node_items() if i.hot_ports}
        qtbot.keyClick(view, Qt.Key.Key_Escape)
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
        return lit

    edges = list(view.current_graph.edges)
    assert lit_while_dragging_from("stem_relu", "out", "out") == {"add2"}, \
        "add1 already takes stem_relu: a second wire would duplicate it"
    assert lit_while_dragging_from("relu1", "in", "in") == {"relu1", "add2"}, \
        "the picked-up wire frees relu1's input"
    assert view.current_graph.edges == edges


def test_picking_a_wire_up_and_dropping_it_on_the_canvas_removes_it(
        chain_view: GraphView, qtbot: QtBot) -> None:
    names = ids(chain_view)
    drag(qtbot, chain_view, port_point(chain_view, names["relu1"], "in", "in"),
         port_point(chain_view, names["relu1"], "in", "in") + QPoint(250, 0))
    assert Edge(names["conv1"], names["relu1"]) not in chain_view.current_graph.edges
    chain_view.document.undo()
    assert Edge(names["conv1"], names["relu1"]) in chain_view.current_graph.edges


# -- moving and selecting ---------------------------------------------------------------
def test_dragging_a_node_moves_it_in_one_undo_step(chain_view: GraphView,
                                                   qtbot: QtBot) -> None:
    names = ids(chain_view)
    node = chain_view.current_graph.nodes[names["relu1"]]
    before = node.pos
    steps = len(chain_view.document.history)
    start = node_point(chain_view, names["relu1"])
    drag(qtbot, chain_view, start, start + QPoint(120, 40))
    assert node.pos == (before[0] + 120, before[1] + 40)
    assert len(chain_view.document.history) == steps + 1
    edge = chain_view.graph_scene.edge_item(Edge(names["conv1"], names["relu1"]))
    assert edge is not None
    end = edge.path().pointAtPercent(1.0)
    assert end == chain_view.graph_scene.node_item(names["relu1"]).port_pos("in", "in")
    chain_view.document.undo()
    assert node.pos == before
    item = chain_view.graph_scene.node_item(names["relu1"])
    assert (item.pos().x(), item.pos().y()) == before


def test_two_drags_are_two_undo_steps(chain_view: GraphView, qtbot: QtBot) -> None:
    names = ids(chain_view)
    steps = len(chain_view.document.history)
    for _ in range(2):
        start = node_point(chain_view, names["relu1"])
        drag(qtbot, chain_view, start, start + QPoint(30, 0))
    assert len(chain_view.document.history) == steps + 2


def test_rubber_band_selects_the_nodes_it_touches(chain_view: GraphView,
                                                  qtbot: QtBot) -> None:
    names = ids(chain_view)
    conv = chain_view.graph_scene.node_item(names["conv1"]).scene_box()
    relu = chain_view.graph_scene.node_item(names["relu1"]).scene_box()
    start = chain_view.mapFromScene(QPointF(conv.left() - 60, conv.top() + 10))
    end = chain_view.mapFromScene(QPointF(relu.right() + 60, relu.top() + 10))
    emitted: list[list[str]] = []
    chain_view.selectionChanged.connect(emitted.append)
    drag(qtbot, chain_view, start, end)
    assert chain_view.selected_ids() == [names["conv1"], names["relu1"]]
    assert emitted[-1] == [names["conv1"], names["relu1"]]
    assert not any(type(i).__name__ == "RubberBand" for i in chain_view.graph_scene.items())


def test_click_selects_and_ctrl_a_selects_all(chain_editor: NetworkEditor,
                                              qtbot: QtBot) -> None:
    chain_view = chain_editor.view
    names = ids(chain_view)
    qtbot.mouseClick(chain_view.viewport(), Qt.MouseButton.LeftButton,
                     pos=node_point(chain_view, names["conv1"]))
    assert chain_view.selected_ids() == [names["conv1"]]
    qtbot.keyClick(chain_view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(chain_view.selected_ids()) == 4
    qtbot.keyClick(chain_view, Qt.Key.Key_Escape)
    assert chain_view.selected_ids() == []


def test_delete_key_removes_the_selection_and_undo_restores_it(chain_editor: NetworkEditor,
                                                               qtbot: QtBot) -> None:
    chain_view = chain_editor.view
    names, graph = ids(chain_view), chain_view.current_graph
    chain_view.select([names["conv1"]])
    qtbot.keyClick(chain_view, Qt.Key.Key_Delete)
    assert names["conv1"] not in graph.nodes and len(graph.edges) == 1
    assert chain_view.graph_scene.node_item(names["conv1"]) is None
    assert len(chain_view.graph_scene.edge_items()) == 1
    chain_view.document.undo()
    assert names["conv1"] in graph.nodes and len(graph.edges) == 3
    assert len(chain_view.graph_scene.edge_items()) == 3


def test_a_selected_wire_can_be_deleted(chain_editor: NetworkEditor, qtbot: QtBot) -> None:
    chain_view = chain_editor.view
    names = ids(chain_view)
    wire = chain_view.graph_scene.edge_item(Edge(names["conv1"], names["relu1"]))
    assert wire is not None
    qtbot.mouseClick(chain_view.viewport(), Qt.MouseButton.LeftButton,
                     pos=chain_view.mapFromScene(wire.path().pointAtPercent(0.5)))
    assert wire.isSelected()
    qtbot.keyClick(chain_view, Qt.Key.Key_Delete)
    assert Edge(names["conv1"], names["relu1"]) not in chain_view.current_graph.edges
    assert len(chain_view.current_graph.nodes) == 4


def test_context_menu_request_carries_the_clicked_node(chain_view: GraphView,
                                                       qtbot: QtBot) -> None:
    names = ids(chain_view)
    at = node_point(chain_view, names["relu1"])
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at,
                              chain_view.viewport().mapToGlobal(at))
    with qtbot.waitSignal(chain_view.contextMenuRequested) as signal:
        QApplication.sendEvent(chain_view.viewport(), event)
    assert signal.args[0] == [names["relu1"]]
    assert chain_view.selected_ids() == [names["relu1"]]


def test_hovering_a_node_or_a_blamed_wire_shows_its_problem(make_view: MakeView,
                                                           qtbot: QtBot) -> None:
    graph = Graph()
    graph.chain(("input", "input", {"shape": (3, 8, 8)}),
                ("conv2d", "a", {"out_channels": 4, "kernel_size": 1}))
    b = graph.add("conv2d", "b", pos=(400.0, 0.0), out_channels=6, kernel_size=1)
    graph.connect(graph.by_name("input"), b)
    add = graph.add("add", "sum", pos=(200.0, 300.0))
    graph.connect(graph.by_name("a"), add)
    graph.connect(b, add)
    view = make_view(graph)
    issue = next(i for i in view.document.analysis.errors if i.edge is not None)
    wire = view.graph_scene.edge_item(issue.edge)
    assert wire is not None and wire.error == issue.message

    def tip_at(point: QPoint) -> str:
        QToolTip.hideText()
        event = QHelpEvent(QEvent.Type.ToolTip, point, view.viewport().mapToGlobal(point))
        QApplication.sendEvent(view.viewport(), event)
        return QToolTip.text()

    assert issue.message in tip_at(view.mapFromScene(wire.path().pointAtPercent(0.4)))
    tip = tip_at(node_point(view, add.id))
    assert "sum" in tip and "Add" in tip


def test_a_shape_mismatch_connects_and_turns_the_wire_red(make_view: MakeView,
                                                          qtbot: QtBot) -> None:
    graph = Graph()
    graph.chain(("input", "input", {"shape": (3, 8, 8)}),
                ("conv2d", "a", {"out_channels": 4, "kernel_size": 1}))
    b = graph.add("conv2d", "b", pos=(400.0, 0.0), out_channels=6, kernel_size=1)
    graph.connect(graph.by_name("input"), b)
    add = graph.add("add", "sum", pos=(200.0, 300.0))
    graph.connect(graph.by_name("a"), add)
    view = make_view(graph)
    drag(qtbot, view, port_point(view, b.id, "out", "out"), port_point(view, add.id, "in", "in"))
    assert Edge(b.id, add.id) in view.current_graph.edges
    item = view.graph_scene.node_item(add.id)
    assert item is not None and item.look.errors
    blamed = [w for w in view.graph_scene.edge_items() if w.error]
    assert [w.edge for w in blamed] == [Edge(b.id, add.id)]
