"""Fresh names: the same names as counting up from 1, kept in step with every edit."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core import commands
from netbuilder.core.errors import InvalidNameError
from netbuilder.core.graph import Graph
from netbuilder.core.names import NameIndex
from tests.core.toyblocks import toy_registry

PREFIXES = ("dense", "dense1", "add", "x", "a b")


def counted(names: set[str], prefix: str) -> str:
    """The name as it was chosen before the index: count up from 1 over a fresh set."""
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", prefix) or "node"
    k = 1
    while f"{prefix}{k}" in names:
        k += 1
    return f"{prefix}{k}"


edits = st.lists(st.tuples(st.sampled_from(("add", "remove", "rename", "undo")),
                           st.sampled_from(PREFIXES), st.integers(0, 30)), max_size=60)


@settings(max_examples=150)
@given(edits)
def test_unique_name_is_the_smallest_free_number_after_any_edits(steps: list) -> None:
    graph = Graph(toy_registry())
    done: list[commands.Command] = []
    for action, prefix, pick in steps:
        ids = list(graph.nodes)
        if action == "add":
            command: commands.Command = commands.add_node(graph, "dense")
        elif action == "remove" and ids:
            command = commands.remove_nodes(graph, [ids[pick % len(ids)]])
        elif action == "rename" and ids:
            name = graph.unique_name(prefix) if pick % 3 else f"{prefix.replace(' ', '_')}{pick}"
            if name in {n.name for n in graph.nodes.values()}:
                continue
            command = commands.Rename(graph, ids[pick % len(ids)], name)
        elif action == "undo" and done:
            done.pop().undo()
            continue
        else:
            continue
        command.redo()
        done.append(command)
        names = {n.name for n in graph.nodes.values()}
        for each in PREFIXES:
            assert graph.unique_name(each) == counted(names, each)
            assert graph.unique_name(each, {counted(names, each)}) == counted(
                names | {counted(names, each)}, each)


def test_a_name_index_takes_names_in_order_and_reuses_freed_numbers() -> None:
    index = NameIndex(["conv1", "conv3", "conv13"])
    assert [index.take("conv") for _ in range(3)] == ["conv2", "conv4", "conv5"]
    assert index.take("conv1") == "conv11"
    index.remove("conv2")
    index.remove("conv13")
    assert index.free("conv") == "conv2"
    assert index.free("conv1") == "conv12"
    assert index.free("conv", {"conv2"}) == "conv6"


def test_names_that_end_in_a_newline_are_refused() -> None:
    graph = Graph(toy_registry())
    graph.add("input", "x")
    with pytest.raises(InvalidNameError):
        graph.check_name("x\n")
