"""Analysis reports shapes, costs and receptive fields, and every error on its node."""

from __future__ import annotations

from netbuilder.core import commands as cmd
from netbuilder.core.analysis import Analyzer, analyze, format_shape
from netbuilder.core.graph import Graph
from netbuilder.core.history import History
from tests.core.toyblocks import toy_registry


def chain() -> Graph:
    graph = Graph(toy_registry())
    x = graph.add("input", "x", shape=(10,))
    a = graph.add("dense", "a", after=x, width=6, kernel=3, stride=2)
    b = graph.add("dense", "b", after=a, width=5, kernel=3)
    graph.add("output", "out", after=b)
    return graph


def test_shapes_costs_and_receptive_field() -> None:
    graph = chain()
    result = analyze(graph)
    a, b = (result.info(graph.by_name(n).id) for n in "ab")
    assert a.shape == (6,) and b.shape == (5,)
    assert (a.params, a.macs) == (10 * 6 + 6, 60)
    assert result.total_params == 66 + 35 and result.total_macs == 60 + 30
    assert (a.rf, a.jump) == (3, 2)
    assert (b.rf, b.jump) == (3 + 2 * 2, 2)
    assert result.ok and not result.issues


def test_mismatch_names_both_producers_and_rest_is_still_analysed() -> None:
    graph = Graph(toy_registry())
    x = graph.add("input", "x", shape=(8,))
    a = graph.add("dense", "conv3", after=x, width=64)
    b = graph.add("dense", "shortcut", after=x, width=128)
    add = graph.add("add", "add1")
    graph.connect(a, add)
    graph.connect(b, add)
    tail = graph.add("dense", "tail", after=x, width=2)
    graph.add("output", "out", after=add)
    result = analyze(graph)
    (issue,) = result.errors
    assert issue.node == add.id
    assert issue.message == "add1: inputs differ (conv3 gives 64, shortcut gives 128)"
    assert set(issue.nodes) == {add.id, a.id, b.id}
    assert result.info(tail.id).shape == (2,)
    assert any(w.node == tail.id and "not used" in w.message for w in result.warnings)


def test_disconnected_input_and_missing_io() -> None:
    graph = Graph(toy_registry())
    lone = graph.add("dense", "lone")
    result = analyze(graph)
    messages = [i.message for i in result.issues]
    assert "lone: the input of lone is not connected" in messages
    assert "the graph has no input node" in messages
    assert result.info(lone.id).shape is None


def test_cycles_from_files_are_reported_not_fatal() -> None:
    graph = chain()
    a, b = graph.by_name("a"), graph.by_name("b")
    graph._delete_edge(graph.in_edges(a.id)[0])
    from netbuilder.core.graph import Edge
    graph._insert_edge(Edge(b.id, a.id))
    result = analyze(graph)
    cyclic = {i.node for i in result.errors if "cycle" in i.message}
    assert {a.id, b.id} <= cyclic


def test_groups_flow_shapes_through_bodies() -> None:
    graph = chain()
    history = History()
    history.push(cmd.group_nodes(graph, [graph.by_name("a").id, graph.by_name("b").id], "blk"))
    result = analyze(graph)
    group = graph.by_name("blk")
    info = result.info(group.id)
    assert info.inputs == ((10,),) and info.shape == (5,)
    assert info.params == 66 + 35
    assert result.total_params == 66 + 35  # the body is not counted twice
    assert result.info(graph.by_name("out").id).shape == (5,)


def test_incremental_reanalysis_reinfers_only_what_changed() -> None:
    graph = chain()
    analyzer = Analyzer(graph)
    analyzer.run()
    calls: list[str] = []
    spec = graph.registry.get("dense")
    original = type(spec).infer

    def counting(self, params, inputs):  # type: ignore[no-untyped-def]
        calls.append(params["width"])
        return original(self, params, inputs)

    type(spec).infer = counting  # type: ignore[method-assign]
    try:
        analyzer.run()
        assert calls == []
        graph._set_params(graph.by_name("b").id, {"width": 9})
        assert analyzer.run().info(graph.by_name("out").id).shape == (9,)
        assert calls == [9]
    finally:
        type(spec).infer = original  # type: ignore[method-assign]


def test_format_shape() -> None:
    assert format_shape((3, 32, 32)) == "3×32×32"
    assert format_shape(None) == "?"


def test_inplace_block_must_not_overwrite_a_shared_value() -> None:
    from netbuilder.core.graph import Graph as RealGraph

    graph = RealGraph()
    x = graph.add("input", "x", shape=(4, 8, 8))
    bn = graph.add("batchnorm2d", "bn", after=x)
    relu = graph.add("relu", "relu", after=bn, inplace=True)
    graph.add("output", "out", after=relu)
    assert analyze(graph).ok  # bn's output feeds only the ReLU: safe, as torchvision does
    side = graph.add("sigmoid", "side", after=bn)
    add = graph.add("add", "sum")
    graph.connect(relu, add)
    graph.connect(side, add)
    graph._delete_edge(graph.in_edges(graph.by_name("out").id)[0])
    graph.connect(add, graph.by_name("out"))
    (issue,) = analyze(graph).errors
    assert issue.message == ("relu: in-place operation would overwrite the output of bn, "
                             "which side also read; turn inplace off")
    assert set(issue.nodes) == {relu.id, bn.id, side.id}
    direct = graph.add("relu", "direct", after=x, inplace=True)
    messages = [i.message for i in analyze(graph).errors if i.node == direct.id]
    assert messages == ["direct: in-place operation would overwrite the input x; turn inplace off"]
