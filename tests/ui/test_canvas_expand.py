"""Groups expanded in place: drawn as frames holding their bodies, editable where they are."""

from __future__ import annotations

from itertools import combinations

from PySide6.QtCore import QPoint, QPointF, Qt
from pytestqt.qtbot import QtBot

from netbuilder.core import commands
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layout import apply_layout
from netbuilder.ui.canvas import GraphView
from tests.ui.conftest import MakeEditor, MakeView, drag, node_point, port_point
from tests.ui.test_canvas import drop_block


def with_block() -> Graph:
    """input → conv1 → block1 (a residual basic block) → output."""
    graph = Graph()
    graph.chain(("input", "input", {"shape": (3, 16, 16)}),
                ("conv2d", "conv1", {"out_channels": 8, "kernel_size": 3, "padding": 1}),
                ("basic_block", "block1", {"out_channels": 8}), ("output", "output", {}))
    apply_layout(graph)
    return graph


def expanded_view(make_view: MakeView) -> tuple[GraphView, str, Graph]:
    view = make_view(with_block())
    block = view.current_graph.by_name("block1")
    assert view.edits.set_expanded(block.id, True)
    assert block.body is not None
    view.centerOn(view.graph_scene.diagram_rect().center())
    return view, block.id, block.body


def inner(body: Graph, name: str) -> str:
    return body.by_name(name).id


def test_expanding_draws_a_frame_around_the_body(make_view: MakeView) -> None:
    view, block_id, body = expanded_view(make_view)
    scene = view.graph_scene
    frame = scene.frame_item(block_id)
    assert frame is not None and scene.node_item(block_id) is None
    assert frame.look.title == "Residual Basic Block"
    for node_id in body.nodes:
        box = scene.node_item(node_id)
        assert box is not None and frame.scene_box().contains(box.scene_box())
    outer_in = scene.edge_item(view.current_graph.in_edges(block_id)[0])
    assert outer_in is not None and outer_in.target.node_id == inner(body, "x")
    outer_out = scene.edge_item(view.current_graph.out_edges(block_id)[0])
    assert outer_out is not None and outer_out.source.node_id == inner(body, "out")
    assert scene.node_item(inner(body, "conv1")).look.shape == "8×16×16"
    view.document.undo()
    assert scene.frame_item(block_id) is None and scene.node_item(block_id) is not None
    assert len(scene.node_items()) == 4


def test_the_chevrons_expand_and_collapse(make_view: MakeView, qtbot: QtBot) -> None:
    view = make_view(with_block())
    block = view.current_graph.by_name("block1")
    box = view.graph_scene.node_item(block.id)
    assert box is not None
    chevron = view.mapFromScene(box.scene_box().topLeft() + QPointF(12.0, 12.0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=chevron)
    assert not block.collapsed
    frame = view.graph_scene.frame_item(block.id)
    assert frame is not None
    view.centerOn(frame.scene_box().topLeft())
    chevron = view.mapFromScene(frame.scene_box().topLeft() + QPointF(14.0, 15.0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=chevron)
    assert block.collapsed and view.graph_scene.frame_item(block.id) is None


def test_moving_a_body_node_moves_it_in_the_body(make_view: MakeView, qtbot: QtBot) -> None:
    view, _block_id, body = expanded_view(make_view)
    relu = body.node(inner(body, "relu2"))
    before, steps = relu.pos, len(view.document.history)
    start = node_point(view, relu.id)
    drag(qtbot, view, start, start + QPoint(60, 0))
    assert relu.pos == (before[0] + 60, before[1])
    assert len(view.document.history) == steps + 1
    view.document.undo()
    assert relu.pos == before


def test_moving_a_body_node_past_the_corner_keeps_the_rest_still(make_view: MakeView,
                                                                 qtbot: QtBot) -> None:
    view, block_id, body = expanded_view(make_view)
    conv = view.graph_scene.node_item(inner(body, "conv1"))
    anchor = view.graph_scene.node_item(inner(body, "x"))
    assert conv is not None and anchor is not None
    still = anchor.scene_box().topLeft()
    start = node_point(view, conv.node_id)
    drag(qtbot, view, start, start + QPoint(-150, 0))
    assert anchor.scene_box().topLeft() == still
    assert view.graph_scene.frame_item(block_id).scene_box().contains(conv.scene_box())
    assert view.document.history.undo_text.startswith("Move")


def test_dragging_the_header_moves_the_group_and_its_body(make_view: MakeView,
                                                          qtbot: QtBot) -> None:
    view, block_id, body = expanded_view(make_view)
    frame = view.graph_scene.frame_item(block_id)
    conv = view.graph_scene.node_item(inner(body, "conv1"))
    assert frame is not None and conv is not None
    group = view.current_graph.nodes[block_id]
    before, conv_before = group.pos, conv.scene_box().topLeft()
    inside = body.node(conv.node_id).pos
    header = view.mapFromScene(frame.scene_box().topLeft() + QPointF(120.0, 12.0))
    drag(qtbot, view, header, header + QPoint(80, 30))
    assert group.pos == (before[0] + 80, before[1] + 30)
    assert conv.scene_box().topLeft() == conv_before + QPointF(80, 30)
    assert body.node(conv.node_id).pos == inside, "body coordinates do not change"


def test_wiring_inside_a_body_and_refusing_across_levels(make_view: MakeView,
                                                         qtbot: QtBot) -> None:
    view, _block_id, body = expanded_view(make_view)
    relu2 = inner(body, "relu2")
    bn2, add = inner(body, "bn2"), inner(body, "add")
    view.document.push(commands.RemoveEdge(body, Edge(bn2, add)))
    drag(qtbot, view, port_point(view, bn2, "out", "out"), port_point(view, add, "in", "in"))
    assert Edge(bn2, add) in body.edges
    outer = view.current_graph.by_name("output").id
    with qtbot.waitSignal(view.statusMessage) as signal:
        drag(qtbot, view, port_point(view, relu2, "out", "out"),
             node_point(view, outer))
    assert "different groups" in signal.args[0]


def test_editing_deleting_and_dropping_inside_a_frame(make_editor: MakeEditor,
                                                      qtbot: QtBot) -> None:
    view, block_id, body = expanded_view(lambda graph: make_editor(graph).view)
    conv2 = inner(body, "conv2")
    view.document.push(commands.set_param(body, inner(body, "conv1"), "stride", 2))
    assert view.graph_scene.node_item(conv2).look.shape == "8×8×8"
    view.document.undo()
    view.select([inner(body, "relu1")])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert inner(body, "conv2") in body.nodes and "relu1" not in {
        n.name for n in body.nodes.values()}
    view.document.undo()
    frame = view.graph_scene.frame_item(block_id)
    assert frame is not None
    spot = frame.scene_box().bottomRight() - QPointF(60.0, 60.0)
    drop_block(view, "dropout", view.mapFromScene(spot))
    assert any(n.type == "dropout" for n in body.nodes.values())
    assert not any(n.type == "dropout" for n in view.current_graph.nodes.values())


def test_layout_with_an_expanded_group_has_no_overlaps(make_view: MakeView) -> None:
    view, _block_id, _ = expanded_view(make_view)
    view.edits.auto_layout()
    scene = view.graph_scene
    boxes = [scene.box(n).scene_box() for n in view.current_graph.nodes]
    assert not any(a.intersects(b) for a, b in combinations(boxes, 2))


def test_selection_and_ids_span_levels(make_view: MakeView) -> None:
    view, block_id, body = expanded_view(make_view)
    ids = [block_id, inner(body, "conv1")]
    view.select(ids)
    assert set(view.selected_ids()) == set(ids)
    assert view.graph_scene.level_of(ids[1]) is body
    assert view.open_group(block_id)
    assert view.current_graph is body
