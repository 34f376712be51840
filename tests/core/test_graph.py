"""The graph model refuses every illegal edit with a typed error naming the nodes."""

from __future__ import annotations

import pytest

from netbuilder.core.errors import (
    CycleError,
    DuplicateEdgeError,
    DuplicateNameError,
    InvalidNameError,
    ParameterValueError,
    PortOccupiedError,
    UnknownBlockError,
    UnknownParameterError,
    UnknownPortError,
)
from netbuilder.core.graph import Graph
from tests.core.toyblocks import toy_registry


@pytest.fixture
def graph() -> Graph:
    return Graph(toy_registry())


def test_nodes_get_unique_ids_and_names(graph: Graph) -> None:
    a = graph.add("dense")
    b = graph.add("dense")
    assert a.id != b.id
    assert (a.name, b.name) == ("dense1", "dense2")
    assert a.resolved["width"] == 4 and a.params == {}


def test_params_are_validated_and_normalised(graph: Graph) -> None:
    node = graph.add("dense", width=7.0)
    assert node.params == {"width": 7} and isinstance(node.params["width"], int)
    with pytest.raises(ParameterValueError, match="width=0: must be at least 1"):
        graph.add("dense", width=0)
    with pytest.raises(ParameterValueError, match="must be one of a, b"):
        graph.add("dense", mode="c")
    with pytest.raises(UnknownParameterError, match="has no parameter 'widht'"):
        graph.add("dense", widht=3)
    with pytest.raises(UnknownBlockError, match="unknown block type 'nope'"):
        graph.add("nope")


def test_names_must_be_module_names_and_unique(graph: Graph) -> None:
    graph.add("dense", "fc")
    with pytest.raises(DuplicateNameError) as info:
        graph.add("dense", "fc")
    assert info.value.nodes == (graph.by_name("fc").id,)
    with pytest.raises(InvalidNameError):
        graph.add("dense", "fc.1")


def test_cycle_is_refused_naming_both_ends(graph: Graph) -> None:
    a = graph.add("dense", "a")
    b = graph.add("dense", "b", after=a)
    c = graph.add("dense", "c", after=b)
    with pytest.raises(CycleError, match="connecting c to a would make a cycle") as info:
        graph.connect(c, a)
    assert set(info.value.nodes) == {a.id, c.id}
    with pytest.raises(CycleError):
        graph.connect(a, a)


def test_occupied_port_names_the_holder(graph: Graph) -> None:
    a, b, c = graph.add("dense", "a"), graph.add("dense", "b"), graph.add("dense", "c")
    graph.connect(a, c)
    with pytest.raises(PortOccupiedError, match="already connected to a"):
        graph.connect(b, c)


def test_multi_input_port_keeps_edge_order(graph: Graph) -> None:
    a, b, add = graph.add("dense", "a"), graph.add("dense", "b"), graph.add("add")
    graph.connect(b, add)
    graph.connect(a, add)
    assert [e.source for e in graph.in_edges(add.id)] == [b.id, a.id]
    with pytest.raises(DuplicateEdgeError):
        graph.connect(a, add)


def test_unknown_port(graph: Graph) -> None:
    a, b = graph.add("dense"), graph.add("dense")
    with pytest.raises(UnknownPortError):
        graph.connect(a, b, target_port="nope")
    out = graph.add("output")
    with pytest.raises(UnknownPortError, match="no output port"):
        graph.connect(out, b)


def test_topological_order_is_stable(graph: Graph) -> None:
    x = graph.add("input")
    late = graph.add("dense", "late")
    early = graph.add("dense", "early", after=x)
    graph.connect(early, late)
    assert graph.topological_order() == [x.id, early.id, late.id]


def test_find_reaches_nested_nodes(graph: Graph) -> None:
    group = graph.add("group")
    assert group.body is not None
    inner = group.body.add("dense", "inner")
    assert graph.find(inner.id) == (group.body, inner)
    assert group.body.path() == ("group1",)
    assert group.body.root is graph
