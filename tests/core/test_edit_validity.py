"""Edits found by fuzzing to leave a graph that saved but did not reopen (issues 13, 19).

Each test replays the shortest sequence of editor commands that broke, and checks that
the command now refuses with a typed error or keeps the graph valid, that the result
saves and reopens to the same text, and that undo restores the saved form exactly.
"""

from __future__ import annotations

import pytest

from netbuilder.core import commands, editing, serialize
from netbuilder.core.analysis import analyze
from netbuilder.core.document import Document
from netbuilder.core.errors import GroupError
from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT


def text_of(graph: Graph) -> str:
    return serialize.dumps(serialize.Project(graph))


def reopens(graph: Graph) -> bool:
    text = text_of(graph)
    return text_of(serialize.loads(text).graph) == text


def residual_net() -> tuple[Document, Node]:
    graph = Graph()
    x = graph.add("input", shape=(3, 8, 8))
    conv = graph.add("conv2d", after=x, out_channels=8, padding=1)
    block = graph.add("basic_block", after=conv, out_channels=8)
    graph.chain("global_avgpool", "flatten", "linear", "output", after=block)
    return Document(graph), block


def port(body: Graph, kind: str) -> Node:
    return next(n for n in body.nodes.values() if n.type == kind)


def test_parameter_change_after_renaming_a_composite_input_keeps_the_wire() -> None:
    """19.3: rename basic_block's group input to y, set out_channels 16."""
    document, block = residual_net()
    graph = document.graph
    start = text_of(graph)
    assert block.body is not None
    document.push(commands.Rename(block.body, port(block.body, GROUP_INPUT).id, "y"))
    renamed = text_of(graph)
    document.push(commands.set_param(graph, block.id, "out_channels", 16))
    assert [e.target_port for e in graph.in_edges(block.id)] == ["x"]
    assert not [i for i in analyze(graph).errors if "port" in i.message]
    assert reopens(graph)
    document.undo()
    assert text_of(graph) == renamed
    document.undo()
    assert text_of(graph) == start
    document.redo()
    document.redo()
    assert [e.target_port for e in graph.in_edges(block.id)] == ["x"]
    assert reopens(graph)


def test_parameter_change_drops_wires_of_ports_the_new_body_lacks() -> None:
    """A composite given a second input port loses the wire on it when it is rebuilt."""
    document, block = residual_net()
    graph = document.graph
    assert block.body is not None
    document.push(editing.add_command(block.body, GROUP_INPUT, (0.0, 0.0))[0])
    extra = next(p.name for p in graph.input_ports(block) if p.name != "x")
    (feeder,) = graph.in_edges(block.id)
    document.push(commands.connect(graph, feeder.source, block.id, target_port=extra))
    before = text_of(graph)
    document.push(commands.set_param(graph, block.id, "stride", 2))
    assert [e.target_port for e in graph.in_edges(block.id)] == ["x"]
    assert reopens(graph)
    document.undo()
    assert text_of(graph) == before


def test_parameter_edits_that_merge_undo_in_one_step() -> None:
    document, block = residual_net()
    graph = document.graph
    assert block.body is not None
    document.push(commands.Rename(block.body, port(block.body, GROUP_OUTPUT).id, "o"))
    before = text_of(graph)
    for width in (12, 16, 24):
        document.push(commands.set_param(graph, block.id, "out_channels", width))
    assert reopens(graph)
    document.undo()
    assert text_of(graph) == before


def test_analysis_reports_a_wire_to_a_missing_port_on_the_node() -> None:
    """19.3: the one-port shortcut of the analysis never checked the port's name."""
    _, block = residual_net()
    graph = block.body.parent  # type: ignore[union-attr]
    assert graph is not None
    (edge,) = graph.in_edges(block.id)
    graph._delete_edge(edge)
    graph._insert_edge(Edge(edge.source, edge.target, edge.source_port, "y"))
    issues = [i for i in analyze(graph).errors if i.node == block.id]
    assert issues and "'y'" in issues[0].message
    assert issues[0].edge == Edge(edge.source, edge.target, edge.source_port, "y")


def test_analysis_reports_a_wire_from_a_missing_output_port() -> None:
    _, block = residual_net()
    graph = block.body.parent  # type: ignore[union-attr]
    assert graph is not None
    (edge,) = graph.out_edges(block.id)
    graph._delete_edge(edge)
    graph._insert_edge(Edge(edge.source, edge.target, "gone", edge.target_port))
    issues = analyze(graph).errors
    assert any(i.node == edge.target and "'gone'" in i.message for i in issues)


@pytest.mark.parametrize("kind", [GROUP_INPUT, GROUP_OUTPUT])
def test_group_ports_cannot_be_added_at_the_top_level(kind: str) -> None:
    document, _ = residual_net()
    with pytest.raises(GroupError, match="inside a group body"):
        editing.add_command(document.graph, kind, (0.0, 0.0))


def test_pasting_a_body_at_the_top_level_leaves_its_ports_out() -> None:
    """13.1: copying a body with its port nodes and pasting at the top level."""
    document, block = residual_net()
    graph = document.graph
    assert block.body is not None
    text = serialize.fragment_to_text(block.body, list(block.body.nodes))
    nodes, edges = serialize.fragment_from_text(text, graph)
    document.push(commands.paste(graph, nodes, edges))
    assert not any(n.type in (GROUP_INPUT, GROUP_OUTPUT) for n in graph.nodes.values())
    assert reopens(graph)


def test_pasting_only_ports_at_the_top_level_is_refused() -> None:
    _, block = residual_net()
    graph = block.body.parent  # type: ignore[union-attr]
    assert graph is not None and block.body is not None
    text = serialize.fragment_to_text(block.body, [port(block.body, GROUP_INPUT).id])
    nodes, edges = serialize.fragment_from_text(text, graph)
    with pytest.raises(GroupError, match="only be pasted into a group"):
        commands.paste(graph, nodes, edges)


def test_pasting_ports_into_a_group_adds_ports_that_save() -> None:
    document, block = residual_net()
    assert block.body is not None
    text = serialize.fragment_to_text(block.body, [port(block.body, GROUP_INPUT).id])
    nodes, edges = serialize.fragment_from_text(text, block.body)
    document.push(commands.paste(block.body, nodes, edges))
    assert len(document.graph.input_ports(block)) == 2
    assert reopens(document.graph)
