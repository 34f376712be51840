"""The layered layout: top to bottom, no overlaps, branches side by side, deterministic."""

from __future__ import annotations

import random
from itertools import combinations, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.graph import Graph
from netbuilder.core.layout import (
    FOLD_AREA,
    NODE_WIDTH,
    LayoutOptions,
    apply_layout,
    estimate_size,
    layered_layout,
    make_room,
    needs_layout,
    overlapping_pairs,
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


def test_five_hundred_nodes_lay_out_without_overlap() -> None:
    """(Its time is measured by bench/bench_canvas.py's load row, not asserted here.)"""
    graph = random_dag(3, 500)
    boxes = rects(graph, layered_layout(graph))
    assert not overlapping(boxes)


# -- folding long chains into columns ----------------------------------------------------
def long_chain(length: int) -> Graph:
    graph = Graph(toy_registry())
    graph.chain("input", *["dense"] * length, "output")
    return graph


def residual_chain(blocks: int) -> Graph:
    """input, then ``blocks`` residual blocks (dense, dense, add with a skip, dense)."""
    graph = Graph(toy_registry())
    last = graph.add("input", "x")
    for _ in range(blocks):
        body = graph.chain("dense", "dense", after=last)
        add = graph.add("add")
        graph.connect(body, add)
        graph.connect(last, add)
        last = graph.add("dense", after=add)
    graph.add("output", after=last)
    return graph


def columns_of(positions: dict[str, tuple[float, float]]) -> dict[float, list[str]]:
    columns: dict[float, list[str]] = {}
    for node_id, (x, _y) in sorted(positions.items(), key=lambda kv: kv[1]):
        columns.setdefault(x, []).append(node_id)
    return columns


def extent(boxes: dict[str, Rect]) -> tuple[float, float]:
    return (max(b[2] for b in boxes.values()) - min(b[0] for b in boxes.values()),
            max(b[3] for b in boxes.values()) - min(b[1] for b in boxes.values()))


def test_a_long_chain_folds_into_columns_that_fit_the_area() -> None:
    graph = long_chain(20)
    flat = rects(graph, layered_layout(graph))
    positions = layered_layout(graph, options=LayoutOptions(fold=(1000.0, 700.0)))
    boxes = rects(graph, positions)
    assert not overlapping(boxes)
    columns = columns_of(positions)
    assert len(columns) > 1, "a chain 20 boxes long is folded"
    width, height = extent(boxes)
    flat_width, flat_height = extent(flat)
    scale = min(1.0, 1000.0 / width, 700.0 / height)
    assert scale > 0.9, "fits the area at nearly 100 %"
    assert scale > 2 * min(1000.0 / flat_width, 700.0 / flat_height)
    lefts = sorted(columns)
    for left, right in pairwise(lefts):
        assert right - left >= NODE_WIDTH + LayoutOptions().column_gap - 1


def test_each_column_reads_downward_and_continues_at_the_top_of_the_next() -> None:
    graph = long_chain(20)
    positions = layered_layout(graph, options=LayoutOptions(fold=(1000.0, 700.0)))
    columns = columns_of(positions)
    lefts = sorted(columns)
    tops = {x: min(positions[n][1] for n in columns[x]) for x in lefts}
    bottoms = {x: max(positions[n][1] for n in columns[x]) for x in lefts}
    for edge in graph.edges:
        (sx, sy), (tx, ty) = positions[edge.source], positions[edge.target]
        if sx == tx:
            assert ty > sy
        else:  # the one wire between two columns: foot of one, head of the next
            assert lefts.index(tx) == lefts.index(sx) + 1
            assert sy == bottoms[sx] and ty == tops[tx]


def test_folds_fall_between_blocks_never_through_a_branch() -> None:
    graph = residual_chain(12)
    positions = layered_layout(graph, options=LayoutOptions(fold=(1200.0, 800.0)))
    boxes = rects(graph, positions)
    assert not overlapping(boxes)
    upward = [e for e in graph.edges if positions[e.target][1] < positions[e.source][1]]
    assert upward, "twelve residual blocks do not fit 800 px in one column"
    for edge in upward:
        assert graph.nodes[edge.source].type == "add", "columns break after a merge"
        assert len(graph.out_edges(edge.source)) == 1
    crossing = [e for e in graph.edges if positions[e.source][0] != positions[e.target][0]]
    skips = [e for e in crossing if e not in upward]
    assert all(positions[e.target][1] > positions[e.source][1] for e in skips)
    assert not any(abs(positions[e.target][0] - positions[e.source][0]) > 400
                   for e in skips), "no skip connection crosses from one column to another"


def test_a_chain_that_fits_is_not_folded_and_apply_layout_folds_by_default() -> None:
    short = long_chain(3)
    assert len(columns_of(layered_layout(short, options=LayoutOptions(fold=FOLD_AREA)))) == 1
    graph = long_chain(30)
    apply_layout(graph)
    assert len({n.pos[0] for n in graph.nodes.values()}) > 1
    assert len(columns_of(layered_layout(graph))) == 1, "no fold unless asked"


@settings(max_examples=25)
@given(st.integers(0, 10_000), st.integers(2, 60))
def test_random_folded_layouts_have_no_overlap(seed: int, size: int) -> None:
    graph = random_dag(seed, size)
    positions = layered_layout(graph, options=LayoutOptions(fold=(900.0, 500.0)))
    assert set(positions) == set(graph.nodes)
    assert not overlapping(rects(graph, positions))


# -- making room around a box that grows or shrinks ---------------------------------------
def column(count: int, x: float = 0.0) -> dict[str, Rect]:
    return {f"n{x:g}_{k}": (x, k * 100.0, 196.0, 72.0) for k in range(count)}


def test_a_growing_box_pushes_the_boxes_below_and_beside_it() -> None:
    boxes = {**column(5), **column(5, 300.0)}
    grown = boxes.pop("n0_1")
    new = (grown[0], grown[1], 260.0, 500.0)
    moves = make_room(boxes, grown, new)
    assert set(moves) >= {"n0_2", "n0_3", "n0_4"} and "n0_0" not in moves
    assert all(moves[f"n0_{k}"][1] == boxes[f"n0_{k}"][1] + 428.0 for k in (2, 3, 4))
    assert all(moves[f"n300_{k}"][0] == 364.0 for k in range(5))
    after = {k: (*moves.get(k, v[:2]), v[2], v[3]) for k, v in boxes.items()}
    assert not overlapping_pairs({**after, "grown": new})


def test_a_shrinking_box_closes_the_gap_it_leaves() -> None:
    boxes = column(8)
    region = (0.0, 100.0, 196.0, 372.0)  # n0_1 .. n0_4, about to become one group box
    rest = {k: v for k, v in boxes.items() if k not in {"n0_1", "n0_2", "n0_3", "n0_4"}}
    moves = make_room(rest, region, (0.0, 100.0, 196.0, 72.0))
    assert moves == {"n0_5": (0.0, 200.0), "n0_6": (0.0, 300.0), "n0_7": (0.0, 400.0)}


def test_overlapping_pairs_finds_exactly_the_overlaps() -> None:
    boxes = {"a": (0.0, 0.0, 10.0, 10.0), "b": (10.0, 0.0, 10.0, 10.0),
             "c": (5.0, 5.0, 10.0, 10.0)}
    assert sorted(overlapping_pairs(boxes)) == [("a", "c"), ("c", "b")]
