"""A split's output ports on the canvas follow its parameters, through edits and undo."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from netbuilder.core import commands
from netbuilder.core.graph import Graph
from netbuilder.ui.canvas import GraphView
from tests.ui.conftest import MakeView, drag, ids, port_point


def split_graph() -> Graph:
    """input 6×4×4 → split into 3 → a relu on each part."""
    graph = Graph()
    x = graph.add("input", "x", pos=(0.0, 0.0), shape=(6, 4, 4))
    split = graph.add("split", "split", pos=(0.0, 140.0), after=x, chunks=3)
    for index in range(3):
        relu = graph.add("relu", f"relu{index}", pos=(-200.0 + 200.0 * index, 300.0))
        graph.connect(split, relu, f"out{index}")
    return graph


def _ports(view: GraphView, node: str) -> list[str]:
    item = view.graph_scene.node_item(ids(view)[node])
    assert item is not None
    return [port.name for port in item.look.outputs]


def test_fewer_chunks_take_a_port_and_its_wire_away_and_undo_brings_them_back(
        make_view: MakeView, qtbot: QtBot) -> None:
    view = make_view(split_graph())
    scene, names = view.graph_scene, ids(view)
    assert _ports(view, "split") == ["out0", "out1", "out2"]
    assert len(scene.edge_items()) == 4
    view.document.push(commands.set_param(view.current_graph, names["split"], "chunks", 2))
    qtbot.waitUntil(lambda: _ports(view, "split") == ["out0", "out1"])
    qtbot.waitUntil(lambda: len(scene.edge_items()) == 3)
    view.document.undo()
    qtbot.waitUntil(lambda: _ports(view, "split") == ["out0", "out1", "out2"])
    qtbot.waitUntil(lambda: len(scene.edge_items()) == 4)


def test_a_wire_dragged_from_a_new_port_connects_it(make_view: MakeView, qtbot: QtBot) -> None:
    graph = split_graph()
    graph.add("relu", "extra", pos=(400.0, 300.0))
    view = make_view(graph)
    names = ids(view)
    view.document.push(commands.set_param(view.current_graph, names["split"], "chunks", 4))
    qtbot.waitUntil(lambda: _ports(view, "split") == ["out0", "out1", "out2", "out3"])
    drag(qtbot, view, port_point(view, names["split"], "out", "out3"),
         port_point(view, names["extra"], "in", "in"))
    edges = view.current_graph.in_edges(names["extra"])
    assert [(e.source, e.source_port) for e in edges] == [(names["split"], "out3")]


def test_parts_of_different_shapes_are_all_shown(make_view: MakeView, qtbot: QtBot) -> None:
    view = make_view(split_graph())
    names = ids(view)
    view.document.push(commands.set_param(view.current_graph, names["split"], "sizes",
                                          "1, 2, 3"))
    item = view.graph_scene.node_item(names["split"])
    assert item is not None
    qtbot.waitUntil(lambda: item.look.shape == "1×4×4 | 2×4×4 | 3×4×4")
    assert item.look.label == "1 | 2 | 3"
