"""Every edit is a command; undo restores the graph exactly and redo replays it."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core import commands as cmd
from netbuilder.core.errors import GraphError, GroupError
from netbuilder.core.graph import Graph
from netbuilder.core.history import History
from tests.core.toyblocks import snapshot, toy_registry


def diamond() -> tuple[Graph, dict[str, str]]:
    graph = Graph(toy_registry())
    x = graph.add("input", "x")
    a = graph.add("dense", "a", after=x)
    b = graph.add("dense", "b", after=a)
    c = graph.add("dense", "c", after=x)
    add = graph.add("add", "add")
    graph.connect(b, add)
    graph.connect(c, add)
    out = graph.add("output", "out", after=add)
    return graph, {n.name: n.id for n in (x, a, b, c, add, out)}


def test_add_and_remove_with_edges_undo_exactly() -> None:
    graph, ids = diamond()
    before = snapshot(graph)
    history = History()
    history.push(cmd.remove_nodes(graph, [ids["b"]]))
    assert ids["b"] not in graph.nodes
    assert all(ids["b"] not in (e.source, e.target) for e in graph.edges)
    assert history.undo_text == "Delete b"
    history.undo()
    assert snapshot(graph) == before
    history.redo()
    assert ids["b"] not in graph.nodes


def test_param_edits_merge_and_moves_merge() -> None:
    graph, ids = diamond()
    history = History()
    for width in (1, 12, 128):
        history.push(cmd.set_param(graph, ids["a"], "width", width))
    assert len(history) == 1 and graph.nodes[ids["a"]].resolved["width"] == 128
    for x in range(5):
        history.push(cmd.MoveNodes(graph, {ids["a"]: (x, x)}))
    assert len(history) == 2
    history.seal()
    history.push(cmd.MoveNodes(graph, {ids["a"]: (9, 9)}))
    assert len(history) == 3
    history.undo()
    history.undo()
    assert graph.nodes[ids["a"]].pos == (0.0, 0.0)
    history.undo()
    assert graph.nodes[ids["a"]].params == {}


def test_invalid_command_changes_nothing() -> None:
    graph, ids = diamond()
    before = snapshot(graph)
    with pytest.raises(GraphError):
        cmd.connect(graph, ids["add"], ids["a"])
    with pytest.raises(GraphError):
        cmd.set_param(graph, ids["a"], "width", -1)
    with pytest.raises(GraphError):
        cmd.Rename(graph, ids["a"], "b")
    assert snapshot(graph) == before


def test_group_then_ungroup_and_undo() -> None:
    graph, ids = diamond()
    before = snapshot(graph)
    history = History()
    macro = history.push(cmd.group_nodes(graph, [ids["a"], ids["b"]], "branch"))
    group = graph.by_name("branch")
    assert group.body is not None
    assert [p.name for p in graph.input_ports(group)] == ["x"]
    assert graph.output_ports(group) == ("out",)
    add_inputs = [e.source for e in graph.in_edges(ids["add"])]
    assert add_inputs == [group.id, ids["c"]]  # multi-input order kept
    assert macro.text == "Group 2 nodes as branch"
    history.undo()
    assert snapshot(graph) == before
    history.redo()
    history.push(cmd.ungroup(graph, group.id))
    assert {n.name for n in graph.nodes.values()} == {"x", "a", "b", "c", "add", "out"}
    assert [graph.nodes[e.source].name for e in graph.in_edges(ids["add"])] == ["b", "c"]
    history.undo()
    history.undo()
    assert snapshot(graph) == before


def test_group_refuses_non_convex_selection() -> None:
    graph, ids = diamond()
    with pytest.raises(GroupError, match="leaves the selection"):
        cmd.group_nodes(graph, [ids["x"], ids["add"]])


def test_ungroup_renames_clashing_names() -> None:
    graph, ids = diamond()
    history = History()
    history.push(cmd.group_nodes(graph, [ids["a"]], "g"))
    graph.add("dense", "a")
    history.push(cmd.ungroup(graph, graph.by_name("g").id))
    names = sorted(n.name for n in graph.nodes.values())
    assert len(names) == len(set(names))


def test_paste_gives_fresh_ids_and_names() -> None:
    graph, ids = diamond()
    from netbuilder.core.graph import Edge, Node
    nodes = [Node(ids["a"], "dense", "a", {"width": 3}), Node(ids["b"], "dense", "b")]
    edges = [Edge(ids["a"], ids["b"])]
    history = History()
    macro = history.push(cmd.paste(graph, nodes, edges, offset=(10, 10)))
    pasted = macro.pasted
    assert len(set(pasted) & set(ids.values())) == 0
    assert len({n.name for n in graph.nodes.values()}) == len(graph.nodes)
    history.undo()
    assert all(p not in graph.nodes for p in pasted)


def test_history_clean_state_and_texts() -> None:
    graph, ids = diamond()
    history = History()
    assert history.is_clean and not history.can_undo
    history.push(cmd.Rename(graph, ids["a"], "first"))
    assert not history.is_clean and history.undo_text == "Rename a to first"
    history.set_clean()
    assert history.is_clean
    history.undo()
    assert not history.is_clean and history.redo_text == "Rename a to first"


def test_events_are_batched_for_compound_edits() -> None:
    graph, ids = diamond()
    batches: list[int] = []
    graph.events.connect(lambda events: batches.append(len(events)))
    History().push(cmd.remove_nodes(graph, [ids["add"]]))
    assert batches == [4]  # three edges and the node, delivered once


def random_command(graph: Graph, rng: random.Random) -> cmd.Command | None:
    """One random, possibly illegal, edit of a graph level chosen at random."""
    levels = [graph] + [n.body for _, n in graph.walk() if n.body is not None]
    level = rng.choice(levels)
    ids = list(level.nodes)
    pick = rng.randrange(9)
    if pick == 0 or not ids:
        return cmd.add_node(level, rng.choice(["dense", "add"]),
                            pos=(rng.random(), rng.random()))
    a, b = rng.choice(ids), rng.choice(ids)
    makers = {
        1: lambda: cmd.connect(level, a, b),
        2: lambda: cmd.remove_nodes(level, [a]),
        3: lambda: cmd.set_param(level, a, "width", rng.randint(1, 50)),
        4: lambda: cmd.MoveNodes(level, {a: (rng.random(), rng.random())}),
        5: lambda: cmd.Rename(level, a, f"r{rng.randint(0, 20)}"),
        6: lambda: cmd.group_nodes(level, rng.sample(ids, min(len(ids), rng.randint(1, 3)))),
        7: lambda: cmd.ungroup(level, a),
        8: lambda: cmd.RemoveEdge(level, rng.choice(level.edges)) if level.edges else None,
    }
    try:
        return makers[pick]()
    except GraphError:
        return None


def assert_consistent(graph: Graph) -> None:
    """Every wire at every level joins existing ports; the id index matches the tree."""
    levels = [graph] + [n.body for _, n in graph.walk() if n.body is not None]
    for level in levels:
        for edge in level.edges:
            assert edge.source_port in level.output_ports(level.nodes[edge.source])
            ports = [p.name for p in level.input_ports(level.nodes[edge.target])]
            assert edge.target_port in ports
    assert set(graph._index) == {n.id for _, n in graph.walk()}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 40))
def test_random_edits_undo_all_and_redo_all(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    graph, _ = diamond()
    original = snapshot(graph)
    history = History()
    for _ in range(steps):
        command = random_command(graph, rng)
        if command is not None:
            history.push(command)
            history.seal()
            assert_consistent(graph)
    edited = snapshot(graph)
    while history.undo():
        pass
    assert snapshot(graph) == original
    while history.redo():
        pass
    assert snapshot(graph) == edited
    for level, node in graph.walk():
        assert graph.find(node.id) == (level, node)
    assert set(graph._index) == {n.id for _, n in graph.walk()}


def test_random_edits_exercise_grouping() -> None:
    """The random sequences above really do group and ungroup (the test can fail)."""
    rng = random.Random(7)
    graph, _ = diamond()
    kinds: set[str] = set()
    history = History()
    for _ in range(300):
        command = random_command(graph, rng)
        if command is not None:
            history.push(command)
            kinds.add(command.text.split()[0])
    assert {"Group", "Ungroup", "Connect", "Delete", "Set", "Move", "Rename"} <= kinds
