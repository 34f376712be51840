"""Saving and loading do work in proportion to the file, not to its nesting (issue 19).

Counted in steps, not timed: how often a composite's default body is generated to decide
whether a body can be left out of the file (exponential in the nesting depth before), and
how many names are tried for nameless nodes (quadratic in their number before). The
figures in seconds are ``bench/bench_files.py``'s.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise

import pytest

from netbuilder.core import serialize
from netbuilder.core.graph import Graph
from netbuilder.core.spec import BlockSpec


def nested_blocks(depth: int) -> Graph:
    """A basic_block whose body holds a basic_block whose body holds ... ``depth`` deep."""
    graph = Graph()
    x = graph.add("input", shape=(8, 8, 8))
    level = graph.add("basic_block", after=x, out_channels=8).body
    for _ in range(depth - 1):
        assert level is not None
        level = level.add("basic_block", out_channels=8).body
    return graph


@pytest.fixture
def generations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every default body generated while the test runs, by block type."""
    made: list[str] = []
    spec = Graph().registry.get("basic_block")
    original = type(spec).body

    def counting(self: BlockSpec, params: dict) -> Graph:  # type: ignore[type-arg]
        made.append(self.key)
        return original(self, params)

    monkeypatch.setattr(type(spec), "body", counting)
    yield made


@pytest.mark.parametrize("depth", [6, 12])
def test_saving_nested_edited_composites_generates_each_default_body_once(
        depth: int, generations: list[str]) -> None:
    graph = nested_blocks(depth)
    generations.clear()
    text = serialize.dumps(serialize.Project(graph))
    assert len(generations) <= 1
    assert text.count('"body"') == depth - 1
    reopened = serialize.loads(text).graph
    assert serialize.dumps(serialize.Project(reopened)) == text


def test_copy_of_nested_composites_writes_each_body_once(generations: list[str]) -> None:
    graph = nested_blocks(10)
    generations.clear()
    data = serialize.fragment_to_dict(graph, list(graph.nodes))
    assert len(generations) <= 1
    assert json.dumps(data).count('"body"') == 9


def test_loading_nameless_nodes_tries_each_name_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from netbuilder.core import names

    tried: list[object] = []

    class CountingCounter(Counter):  # type: ignore[type-arg]
        def __contains__(self, name: object) -> bool:
            tried.append(name)
            return super().__contains__(name)

    count = 400
    nodes = [{"id": "in", "type": "input"}] + [{"id": f"r{k}", "type": "relu"}
                                               for k in range(count)]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in pairwise(nodes)]
    text = json.dumps({"format": "netbuilder-project", "format_version": 1,
                       "graph": {"nodes": nodes, "edges": edges}})
    monkeypatch.setattr(names, "Counter", CountingCounter)
    graph = serialize.loads(text).graph
    assert [n.name for n in graph.nodes.values()][:3] == ["input1", "relu1", "relu2"]
    assert graph.nodes[f"r{count - 1}"].name == f"relu{count}"
    assert len(tried) < 10 * count
