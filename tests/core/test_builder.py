"""The graph builder: steps in a row, groups between ports, columns and rows."""

from __future__ import annotations

from netbuilder.core.builder import (
    COLUMN,
    ROW,
    Step,
    add,
    arrange_rows,
    chain,
    group,
    group_of,
)
from netbuilder.core.graph import Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT
from tests.core.toyblocks import toy_registry


def names(graph: Graph) -> list[str]:
    return [node.name for node in graph.nodes.values()]


def wires(graph: Graph) -> list[tuple[str, str]]:
    return [(graph.nodes[e.source].name, graph.nodes[e.target].name) for e in graph.edges]


def test_chain_wires_steps_in_a_row_and_names_the_unnamed() -> None:
    graph = Graph(toy_registry())
    steps: list[Step] = [("input", "x", {"shape": (4,)}), ("dense", None, {"width": 3}),
                         ("dense", "fc", {})]
    last = chain(graph, None, steps)
    assert last is graph.by_name("fc") and names(graph) == ["x", "dense1", "fc"]
    assert wires(graph) == [("x", "dense1"), ("dense1", "fc")]
    assert graph.by_name("dense1").params == {"width": 3}
    assert chain(graph, last, []) is last


def test_add_wires_every_source_in_order_in_its_column() -> None:
    graph = Graph(toy_registry())
    a, b = graph.add("input", "a"), graph.add("input", "b")
    total = add(graph, "add", "sum", b, a, column=1.5)
    assert wires(graph) == [("b", "sum"), ("a", "sum")] and total.pos == (1.5 * COLUMN, 0.0)


def test_a_group_has_its_ports_around_its_body() -> None:
    graph = Graph(toy_registry())
    x = graph.add("input", "input")

    def fill(body: Graph, inp: Node) -> Node:
        return chain(body, inp, [("dense", "a", {}), ("dense", "b", {})], column=2)

    node = group(graph, x, "block", fill, column=-1)
    assert wires(graph) == [("input", "block")] and node.pos == (-COLUMN, 0.0)
    assert node.body is not None
    assert [(n.name, n.type) for n in node.body.nodes.values()] == [
        ("x", GROUP_INPUT), ("a", "dense"), ("b", "dense"), ("out", GROUP_OUTPUT)]
    assert wires(node.body) == [("x", "a"), ("a", "b"), ("b", "out")]
    assert node.body.by_name("out").pos[0] == 2 * COLUMN
    same = group_of(graph, x, "same", [("dense", "a", {}), ("dense", "b", {})])
    assert same.body is not None and wires(same.body) == wires(node.body)


def test_rows_follow_depth_in_every_body() -> None:
    graph = Graph(toy_registry())
    x = graph.add("input", "input")
    left = chain(graph, x, [("dense", "l1", {}), ("dense", "l2", {})], column=-1)
    node = group_of(graph, x, "right", [("dense", "r1", {})], column=1)
    add(graph, "add", "sum", left, node)
    arrange_rows(graph)
    rows = {n.name: n.pos[1] / ROW for n in graph.nodes.values()}
    assert rows == {"input": 0, "l1": 1, "l2": 2, "right": 1, "sum": 3}
    assert node.body is not None
    assert [n.pos for n in node.body.nodes.values()] == [
        (0.0, 0.0), (0.0, ROW), (0.0, 2 * ROW)]
    assert graph.by_name("l1").pos[0] == -COLUMN
