"""``Graph.copy``: the same graph as the file format sees it, sharing nothing mutable."""

from __future__ import annotations

from netbuilder.core.events import Event
from netbuilder.core.graph import Graph
from netbuilder.core.serialize import graph_to_dict
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT


def nested_graph() -> Graph:
    """Input → conv → residual block (a generated body) → group (an edited body) → output."""
    graph = Graph()
    last = graph.chain(("input", "input", {"shape": (3, 16, 16)}),
                       ("conv2d", "conv", {"out_channels": 8, "padding": 1}),
                       ("basic_block", "block", {"out_channels": 8}))
    group = graph.add(GROUP, "head", pos=(10.0, 20.0))
    assert group.body is not None
    x = group.body.add(GROUP_INPUT, "x")
    fc = group.body.chain(("flatten", "flatten", {}), ("linear", "fc", {"out_features": 4}),
                          after=x)
    group.body.add(GROUP_OUTPUT, "out", after=fc)
    graph.connect(last, group)
    graph.add("output", "output", after=group)
    fc.init = {"scheme": "normal", "std": 0.1}
    fc.frozen = True
    group.collapsed = False
    block = graph.by_name("block").body
    assert block is not None
    block.by_name("conv1").init = {"scheme": "checkpoint", "file": "w.pt", "key": "b.conv1"}
    return graph


def test_a_copy_has_the_same_serialised_form_and_ids() -> None:
    graph = nested_graph()
    copy = graph.copy()
    assert graph_to_dict(copy) == graph_to_dict(graph)
    assert [node.id for _, node in copy.walk()] == [node.id for _, node in graph.walk()]
    for level, node in graph.walk():
        copy_level, copy_node = copy.find(node.id)
        assert copy_level.path() == level.path() and copy_node.resolved == node.resolved
    assert copy.new_id() == graph.new_id()


def test_a_copy_shares_no_mutable_state() -> None:
    graph = nested_graph()
    copy = graph.copy()
    for (level, node), (copy_level, copy_node) in zip(graph.walk(), copy.walk(), strict=True):
        assert copy_level is not level and copy_level.edges is not level.edges
        assert copy_node is not node
        assert copy_node.params is not node.params
        assert copy_node.resolved is not node.resolved
        assert node.init is None or copy_node.init is not node.init
        assert node.body is None or copy_node.body is not node.body
    assert copy.registry is graph.registry


def test_editing_a_copy_leaves_the_original_alone() -> None:
    graph = nested_graph()
    before = graph_to_dict(graph)
    heard: list[Event] = []
    graph.events.connect(heard.extend)
    copy = graph.copy()
    head = copy.by_name("head").body
    assert head is not None
    head.by_name("fc").init["std"] = 1.0  # type: ignore[index]
    head.by_name("fc").params["out_features"] = 9
    head.add("relu", "extra")
    copy.add("relu", "extra")
    copy.connect(copy.by_name("input"), copy.by_name("extra"))
    assert graph_to_dict(graph) == before
    assert heard == []
