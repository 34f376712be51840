"""The layered layout: top to bottom, no overlaps, branches side by side, deterministic."""

from __future__ import annotations

import random
from itertools import combinations, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.graph import Graph
from netbuilder.core.layout import (
    LayoutOptions,
    apply_layout,
    estimate_size,
    layered_layout,
    needs_layout,
)
from tests.core.toyblocks import toy_registry

Rect = tuple[float, float, float, float]


def rects(graph: Graph, positions: dict[str, tuple[float, float]]) -> dict[str, Rect]:
    out = {}
    for node_id, (x, y) in positions.items():
        w, h = estimate_size(graph, graph.nodes[node_id])
        out[node_id] = (x, y, x + w, y + h)
    return out


def overlapping(boxes: dict[str, Rect]) -> list[tuple[str, str]]:
    return [(a, b) for (a, ra), (b, rb) in combinations(boxes.items(), 2)
            if ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]]


def residual_graph() -> tuple[Graph, dict[str, str]]:
    graph = Graph(toy_registry())
    x = graph.add("input", "x")
    a = graph.chain("dense", "dense", "dense", after=x)
    add = graph.add("add", "add")
    graph.connect(a, add)
    graph.connect(x, add)
    out = graph.add("output", "out", after=add)
    return graph, {"x": x.id, "a": a.id, "add": add.id, "out": out.id}


def branches_graph(count: int = 3) -> tuple[Graph, list[str], str, str]:
    graph = Graph(toy_registry())
    x = graph.add("input", "x")
    merge = graph.add("add", "merge")
    branches = []
    for k in range(count):
        node = graph.add("dense", f"b{k}", after=x)
        graph.connect(node, merge)
        branches.append(node.id)
    graph.add("output", "out", after=merge)
    return graph, branches, x.id, merge.id


def random_dag(seed: int, size: int) -> Graph:
    rng = random.Random(seed)
    graph = Graph(toy_registry())
    ids = [graph.add("input").id]
    for _ in range(size):
        kind = rng.choice(["dense", "dense", "add"])
        node = graph.add(kind)
        sources = rng.sample(ids, k=min(len(ids), 2 if kind == "add" else 1))
        for source in sources:
            graph.connect(source, node.id)
        ids.append(node.id)
    return graph


def test_every_edge_goes_downward_and_nothing_overlaps() -> None:
    graph, _ = residual_graph()
    positions = layered_layout(graph)
    boxes = rects(graph, positions)
    assert not overlapping(boxes)
    for edge in graph.edges:
        assert boxes[edge.target][1] >= boxes[edge.source][3] + 1


def test_a_chain_is_a_straight_column() -> None:
    graph = Graph(toy_registry())
    graph.chain("input", "dense", "dense", "dense", "output")
    xs = {x for x, _ in layered_layout(graph).values()}
    assert len(xs) == 1


def test_branches_sit_side_by_side_centred_under_their_fork() -> None:
    graph, branches, fork, merge = branches_graph(3)
    positions = layered_layout(graph)
    ys = {positions[b][1] for b in branches}
    assert len(ys) == 1, "parallel branches share one row"
    xs = sorted(positions[b][0] for b in branches)
    width = estimate_size(graph, graph.nodes[branches[0]])[0]
    assert all(b - a >= width for a, b in pairwise(xs))
    middle = positions[branches[1]][0]
    assert positions[fork][0] == pytest.approx(middle, abs=1)
    assert positions[merge][0] == pytest.approx(middle, abs=1)


def test_a_skip_connection_keeps_the_main_chain_straight() -> None:
    graph, _ids = residual_graph()
    positions = layered_layout(graph)
    main = {positions[n][0] for n in graph.nodes if graph.nodes[n].type != "output"}
    assert len(main) == 1, "the shortcut gets a lane of its own beside the chain"


def test_layout_is_deterministic() -> None:
    first = layered_layout(random_dag(7, 40))
    second = layered_layout(random_dag(7, 40))
    assert first == second


def test_options_set_the_origin_and_gaps() -> None:
    graph = Graph(toy_registry())
    graph.chain("input", "dense")
    positions = list(layered_layout(graph, options=LayoutOptions(
        layer_gap=100.0, origin=(10.0, 20.0))).values())
    assert positions[0] == (10.0, 20.0)
    first_height = estimate_size(graph, next(iter(graph.nodes.values())))[1]
    assert positions[1][1] == 20.0 + first_height + 100.0


def test_given_sizes_are_respected() -> None:
    graph, branches, _, _ = branches_graph(2)
    sizes = {b: (400.0, 60.0) for b in branches}
    positions = layered_layout(graph, sizes)
    left, right = sorted(positions[b][0] for b in branches)
    assert right - left >= 400.0


def test_apply_layout_places_a_fresh_graph_and_its_bodies() -> None:
    graph = Graph(toy_registry())
    graph.chain("input", "dense", "output")
    assert needs_layout(graph)
    apply_layout(graph)
    assert not needs_layout(graph)
    assert len({n.pos for n in graph.nodes.values()}) == 3


def test_disconnected_nodes_and_cycles_do_not_break_the_layout() -> None:
    graph = Graph(toy_registry())
    graph.add("dense")
    graph.add("dense")
    a, b = graph.add("dense"), graph.add("dense")
    graph.edges.append(graph.default_edge(a.id, b.id))
    graph.edges.append(graph.default_edge(b.id, a.id))  # a hand-written file's cycle
    graph._touch()
    positions = layered_layout(graph)
    assert set(positions) == set(graph.nodes)
    assert not overlapping(rects(graph, positions))


@settings(max_examples=25)
@given(st.integers(0, 10_000), st.integers(2, 30))
def test_random_graphs_lay_out_without_overlap_and_downward(seed: int, size: int) -> None:
    graph = random_dag(seed, size)
    positions = layered_layout(graph)
    boxes = rects(graph, positions)
    assert not overlapping(boxes)
    for edge in graph.edges:
        assert boxes[edge.target][1] > boxes[edge.source][1]


def test_five_hundred_nodes_lay_out_quickly() -> None:
    import time

    graph = random_dag(3, 500)
    start = time.perf_counter()
    layered_layout(graph)
    assert time.perf_counter() - start < 2.0
