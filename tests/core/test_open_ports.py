"""``Graph.open_ports`` gives, in one pass, what ``Graph.can_connect`` says port by port.

The canvas lights the ports a dragged wire may join with ``open_ports``; the rule itself
lives in ``check_edge``. Random graphs (with multi-input merges and a wire being moved)
check that the two never disagree.
"""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.errors import GraphError
from netbuilder.core.graph import Edge, Graph

KINDS = ("relu", "conv2d", "add", "concat", "identity")


def random_graph(draw: st.DrawFn) -> Graph:
    graph = Graph()
    ids = [graph.add("input", shape=(3, 8, 8)).id]
    for kind in draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=8)):
        ids.append(graph.add(kind).id)
    for _ in range(draw(st.integers(0, 14))):
        source, target = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
        with contextlib.suppress(GraphError):
            graph.connect(source, target)
    return graph


@st.composite
def drags(draw: st.DrawFn) -> tuple[Graph, str, str, bool, Edge | None]:
    graph = random_graph(draw)
    node = draw(st.sampled_from(list(graph.nodes.values())))
    forward = draw(st.booleans())
    ports = graph.output_ports(node) if forward else \
        tuple(p.name for p in graph.input_ports(node))
    port = draw(st.sampled_from(ports)) if ports else "out"
    ignore = draw(st.sampled_from([None, *graph.edges]))
    return graph, node.id, port, forward, ignore


def brute_force(graph: Graph, node_id: str, port: str, forward: bool,
                ignore: Edge | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for other in graph.nodes.values():
        if forward:
            candidates = [(Edge(node_id, other.id, port, p.name), p.name)
                          for p in graph.input_ports(other)]
        else:
            candidates = [(Edge(other.id, node_id, o, port), o)
                          for o in graph.output_ports(other)]
        ports = [name for edge, name in candidates if graph.can_connect(edge, ignore=ignore)]
        if ports:
            out[other.id] = ports
    return out


@settings(max_examples=300, deadline=None)
@given(drags())
def test_open_ports_agrees_with_can_connect(drag: tuple[Graph, str, str, bool, Edge | None]
                                            ) -> None:
    graph, node_id, port, forward, ignore = drag
    assert graph.open_ports(node_id, port, forward=forward, ignore=ignore) == \
        brute_force(graph, node_id, port, forward, ignore)


def test_a_taken_single_input_is_open_only_to_the_wire_being_moved() -> None:
    graph = Graph()
    a = graph.add("input", shape=(3, 8, 8))
    b, c = graph.add("relu"), graph.add("relu")
    wire = graph.connect(a, b)
    out = graph.output_ports(c)[0]
    assert b.id not in graph.open_ports(c.id, out, forward=True)
    assert graph.open_ports(c.id, out, forward=True, ignore=wire)[b.id] == [wire.target_port]
