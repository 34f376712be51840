"""The split and reshape blocks in a graph: per-port shapes, errors, edits, files, compiling.

A split's output ports follow its parameters (``out0``… one per part); the analysis gives
each port its own shape, an edit that takes ports away drops their wires in the same undo
step, and a project with a split saves and reopens with its wires.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from netbuilder.compiler import compile_graph
from netbuilder.core import commands as cmd
from netbuilder.core import serialize
from netbuilder.core.analysis import analyze
from netbuilder.core.errors import GraphError, ParameterValueError
from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.history import History
from netbuilder.core.serialize import Project
from tests.compiler.test_autograd_rules import _compile_anyway
from tests.core.toyblocks import snapshot


def split_graph(**params: object) -> tuple[Graph, Node]:
    """input 6×4×4 → split → relu on every part → concat → output."""
    graph = Graph()
    x = graph.add("input", "x", shape=(6, 4, 4))
    split = graph.add("split", "split", after=x, **params)
    cat = graph.add("concat", "cat")
    for index, port in enumerate(graph.output_ports(split)):
        relu = graph.add("relu", f"relu{index}")
        graph.connect(split, relu, port)
        graph.connect(relu, cat)
    graph.add("output", "out", after=cat)
    return graph, split


def test_each_port_has_its_own_shape() -> None:
    graph, split = split_graph(sizes="1, 2, 3")
    analysis = analyze(graph)
    assert analysis.ok
    assert graph.output_ports(split) == ("out0", "out1", "out2")
    assert analysis.info(split.id).outputs == {"out0": (1, 4, 4), "out1": (2, 4, 4),
                                               "out2": (3, 4, 4)}
    relu2 = graph.by_name("relu2")
    assert analysis.info(relu2.id).inputs == ((3, 4, 4),)
    assert analysis.info(split.id).formulas[0] == "dim 1: 1 + 2 + 3 = 6"


def test_chunks_follow_torch_chunk_with_a_shorter_last_part() -> None:
    graph, split = split_graph(chunks=4, dim=-1)
    cmd.set_param(graph, graph.by_name("cat").id, "dim", -1).redo()
    analysis = analyze(graph)
    assert analysis.ok
    # 4 along the width into 4 chunks of 1; compare with torch on the same input
    sample = torch.randn(2, 6, 4, 4)
    assert [tuple(p.shape[1:]) for p in torch.chunk(sample, 4, -1)] == list(
        analysis.info(split.id).outputs.values())
    uneven = Graph()
    x = uneven.add("input", shape=(7, 2))
    node = uneven.add("split", after=x, chunks=3)
    shapes = analyze(uneven).info(node.id).outputs
    assert list(shapes.values()) == [(3, 2), (3, 2), (1, 2)]


def test_shape_errors_name_the_node_and_its_producer() -> None:
    graph, split = split_graph(sizes="2, 2")
    errors = analyze(graph).errors
    assert any(e.node == split.id and e.message.startswith("split: sizes 2, 2 add up to 4, "
                                                           "but the input has 6 along dim 1")
               and "x gives 6×4×4" in e.message for e in errors)
    fewer = Graph()
    x = fewer.add("input", "x", shape=(6, 3))
    node = fewer.add("split", "cut", after=x, chunks=4)
    fewer.add("output", after=node)
    message = next(e.message for e in analyze(fewer).errors if e.node == node.id)
    assert message.startswith("cut: 6 along dim 1 does not make 4 chunks")


def test_a_wire_from_a_part_names_the_port_in_messages() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(4, 3))
    split = graph.add("split", "split", after=x)
    add = graph.add("add", "add")
    graph.connect(x, add)
    graph.connect(split, add, "out1")
    graph.add("output", after=add)
    message = next(e.message for e in analyze(graph).errors if e.node == add.id)
    assert "x gives 4×3, split.out1 gives 2×3" in message


def test_bad_parameters_are_refused() -> None:
    graph = Graph()
    with pytest.raises(ParameterValueError, match="2 to 64 positive sizes"):
        graph.add("split", sizes="5")
    with pytest.raises(ParameterValueError, match="whole numbers"):
        graph.add("split", sizes="a, b")
    with pytest.raises(ParameterValueError, match="one of them may be -1"):
        graph.add("reshape", shape="-1, -1")
    with pytest.raises(ParameterValueError, match="one of them may be -1"):
        graph.add("reshape", shape="0, 4")


def test_fewer_chunks_drop_the_wires_of_lost_ports_in_one_undo_step() -> None:
    graph, split = split_graph(chunks=3)
    before = snapshot(graph)
    lost = next(e for e in graph.out_edges(split.id) if e.source_port == "out2")
    history = History()
    history.push(cmd.set_param(graph, split.id, "chunks", 2))
    assert graph.output_ports(split) == ("out0", "out1")
    assert lost not in graph.edges
    assert {e.source_port for e in graph.out_edges(split.id)} == {"out0", "out1"}
    analysis = analyze(graph)
    assert not any("no longer exists" in i.message for i in analysis.issues)
    assert len(history) == 1
    history.undo()
    assert snapshot(graph) == before
    assert analyze(graph).ok
    history.redo()
    assert lost not in graph.edges


def test_a_wire_to_a_missing_port_is_refused() -> None:
    graph, split = split_graph()
    relu = graph.add("relu", "extra")
    with pytest.raises(GraphError):
        graph.connect(split, relu, "out2")
    assert not graph.can_connect(Edge(split.id, relu.id, "out5", "in"))


def test_a_project_with_a_split_saves_and_reopens(tmp_path: Path) -> None:
    graph, _split = split_graph(sizes="2, 4", dim=1)
    path = tmp_path / "split.nbproj"
    serialize.save(Project(graph), path)
    loaded = serialize.load(path).graph
    assert snapshot(loaded) == snapshot(graph)
    split = loaded.by_name("split")
    assert loaded.output_ports(split) == ("out0", "out1")
    assert analyze(loaded).info(split.id).outputs == {"out0": (2, 4, 4), "out1": (4, 4, 4)}


def test_compiled_split_equals_torch() -> None:
    graph, _split = split_graph(sizes="1, 5")
    module = compile_graph(graph).eval()
    sample = torch.randn(2, 6, 4, 4)
    first, second = torch.split(sample, [1, 5], dim=1)
    expected = torch.cat([first.relu(), second.relu()], dim=1)
    torch.testing.assert_close(module(sample), expected)


def test_reshape_fills_its_minus_one_and_checks_the_element_count() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(4, 3, 2))
    reshape = graph.add("reshape", "rows", after=x, shape="6, -1")
    graph.add("output", after=reshape)
    analysis = analyze(graph)
    assert analysis.info(reshape.id).outputs == {"out": (6, 4)}
    assert analysis.info(reshape.id).formulas == (
        "elements: 4·3·2 = 24; -1: 24 / 6 = 4", "4×3×2 → 6×4")
    cmd.set_param(graph, reshape.id, "shape", "5, -1").redo()
    message = next(e.message for e in analyze(graph).errors if e.node == reshape.id)
    assert message.startswith("rows: a 4×3×2 (C×H×W) image has 24 elements, not a multiple "
                              "of 5")
    cmd.set_param(graph, reshape.id, "shape", "5, 5").redo()
    message = next(e.message for e in analyze(graph).errors if e.node == reshape.id)
    assert "shape 5, 5 has 25" in message
    cmd.set_param(graph, reshape.id, "shape", "2, 12").redo()
    sample = torch.randn(3, 4, 3, 2)
    torch.testing.assert_close(compile_graph(graph)(sample), sample.reshape(3, 2, 12))


def test_an_in_place_block_on_a_part_is_refused_as_torch_refuses_it() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(4, 3, 3))
    conv = graph.add("conv2d", "conv", after=x, out_channels=4, kernel_size=1)
    split = graph.add("split", "split", after=conv)
    relu = graph.add("relu", "act", inplace=True)
    graph.connect(split, relu, "out1")
    flat = graph.add("flatten", "flat", after=relu)
    graph.add("output", after=flat)
    (error,) = analyze(graph).errors
    assert error.node == relu.id and "a part of split" in error.message
    with pytest.raises(RuntimeError, match="modified inplace"):
        _compile_anyway(graph).train()(torch.randn(2, 4, 3, 3))
    cmd.set_param(graph, relu.id, "inplace", False).redo()
    assert analyze(graph).ok
    compile_graph(graph).train()(torch.randn(2, 4, 3, 3)).sum().backward()


def test_a_group_keeps_its_wires_when_its_parameters_are_set() -> None:
    graph, split = split_graph()
    relus = [graph.by_name(f"relu{i}").id for i in range(2)]
    cmd.group_nodes(graph, [split.id, *relus], name="parts").redo()
    group = graph.by_name("parts")
    before = list(graph.edges)
    cmd.SetParams(graph, group.id, {}).redo()
    assert graph.edges == before
