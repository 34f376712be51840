"""The analysis flags graphs that compile but cannot train (issues 13.2 and 15.4).

torch checks both rules only in ``backward``; the analysis must say so on the node first.
``tests/compiler/test_autograd_rules.py`` checks the same rules against torch itself.
"""

from __future__ import annotations

from netbuilder.core import commands
from netbuilder.core.analysis import UNTRAINABLE, analyze
from netbuilder.core.graph import Graph, Node


def head(graph: Graph, last: Node) -> Node:
    """flatten → linear → output after ``last``; returns the output node."""
    return graph.chain("flatten", ("linear", "fc", {"out_features": 3}), "output", after=last)


def inplace_issues(graph: Graph, node: Node) -> list[str]:
    return [i.message for i in analyze(graph).errors if i.node == node.id]


def test_inplace_relu_after_sigmoid_is_an_error_on_the_relu() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    conv = graph.add("conv2d", after=x, out_channels=4, padding=1)
    sigmoid = graph.add("sigmoid", "sig", after=conv)
    relu = graph.add("relu", "act", after=sigmoid, inplace=True)
    head(graph, relu)
    assert inplace_issues(graph, relu) == [
        "act: in-place operation would overwrite the output of sig, which its backward "
        "pass needs (the gradient of sigmoid is computed from it); turn inplace off"]


def test_the_value_is_followed_through_views_and_groups() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    conv = graph.add("conv2d", after=x, out_channels=4, padding=1)
    tanh = graph.add("tanh", "t", after=conv)
    flat = graph.add("flatten", after=tanh)
    drop = graph.add("dropout", "drop", after=flat, inplace=True)
    graph.chain(("linear", "fc", {"out_features": 3}), "output", after=drop)
    commands.group_nodes(graph, [drop.id], "classifier").redo()
    issues = analyze(graph).errors
    assert [i.node for i in issues] == [drop.id]
    assert "the output of t, which its backward pass needs" in issues[0].message


def test_inplace_dropout_on_a_group_input_nothing_else_reads_is_allowed() -> None:
    """15.4: efficientnet_b0's ``classifier.0`` (in-place dropout) was refused."""
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    conv = graph.add("conv2d", after=x, out_channels=4, padding=1)
    pool = graph.add("global_avgpool", after=conv)
    flat = graph.add("flatten", after=pool)
    drop = graph.add("dropout", "d0", after=flat, inplace=True, p=0.2)
    fc = graph.add("linear", "l1", after=drop, out_features=3)
    graph.add("output", after=fc)
    commands.group_nodes(graph, [drop.id, fc.id], "classifier").redo()
    assert analyze(graph).ok


def test_inplace_on_a_group_input_that_another_node_reads_is_refused() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    conv = graph.add("conv2d", "c", after=x, out_channels=4, padding=1)
    relu = graph.add("relu", "r", after=conv, inplace=True)
    join = graph.add("add", "sum")
    graph.connect(relu, join)
    graph.connect(conv, join)
    head(graph, join)
    group = commands.group_nodes(graph, [relu.id], "g")
    group.redo()
    messages = [i.message for i in analyze(graph).errors]
    assert messages == ["g.r: in-place operation would overwrite the output of c, which "
                        "sum also read; turn inplace off"]


def test_inplace_after_a_residual_block_needs_its_last_relu() -> None:
    graph = Graph()
    x = graph.add("input", shape=(8, 8, 8))
    block = graph.add("basic_block", after=x, out_channels=8)
    relu = graph.add("relu", "after", after=block, inplace=True)
    head(graph, relu)
    (message,) = inplace_issues(graph, relu)
    assert "the output of relu2, which its backward pass needs" in message


def test_a_graph_without_trainable_parameters_warns_on_its_output() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    pool = graph.add("maxpool2d", after=x)
    out = graph.chain("flatten", "output", after=pool)
    analysis = analyze(graph)
    assert analysis.ok and not analysis.trainable
    (issue,) = analysis.warnings
    assert issue.node == out.id and issue.kind == UNTRAINABLE
    assert "no trainable parameter feeds this output" in issue.message


def test_frozen_layers_do_not_count_as_trainable() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    conv = graph.add("conv2d", after=x, out_channels=4)
    head_out = head(graph, conv)
    assert analyze(graph).trainable
    for node in (conv, graph.by_name("fc")):
        commands.SetAttribute(graph, node.id, "frozen", True).redo()
    assert not analyze(graph).trainable
    group = commands.group_nodes(graph, [conv.id], "features")
    group.redo()
    body = group.group.body  # type: ignore[attr-defined]
    commands.SetAttribute(body, conv.id, "frozen", False).redo()
    assert analyze(graph).trainable
    commands.SetAttribute(graph, group.group.id, "frozen", True).redo()  # type: ignore[attr-defined]
    assert [i.node for i in analyze(graph).warnings] == [head_out.id]


def test_a_parameter_only_off_the_path_to_the_output_does_not_count() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    graph.add("conv2d", "side", after=x)
    graph.chain("global_avgpool", "flatten", "output", after=x)
    assert not analyze(graph).trainable


def test_trainability_is_not_reported_on_top_of_errors() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    graph.chain("maxpool2d", ("conv2d", None, {"kernel_size": 20}), "output", after=x)
    analysis = analyze(graph)
    assert not analysis.ok
    assert not [i for i in analysis.issues if i.kind == UNTRAINABLE]


def test_weights_inside_a_composite_that_feeds_a_group_count() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    block = graph.add("conv_bn_relu", after=x, out_channels=4)
    relu = graph.add("relu", after=block)
    graph.chain("global_avgpool", "flatten", "output", after=relu)
    commands.group_nodes(graph, [relu.id], "g").redo()
    assert analyze(graph).trainable
