"""Re-analysis after an edit equals a full analysis, and reuses what the edit left alone.

A document keeps one :class:`Analyzer` for its whole life: after each edit it re-analyses
only the group bodies that changed or are fed other shapes. Whatever the edits, its result
must equal (in every figure, issue and order) a fresh analysis of the same graph.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant

from netbuilder.core import commands
from netbuilder.core.analysis import Analysis, analyze
from netbuilder.core.document import Document
from netbuilder.core.errors import GraphError
from netbuilder.core.graph import Graph, Node
from netbuilder.templates import build_template
from tests.core.test_edit_fuzz import VALUES, EditorMachine


def assert_same(incremental: Analysis, full: Analysis) -> None:
    """Equal results, down to the order of nodes and issues."""
    assert list(incremental.nodes) == list(full.nodes)
    assert incremental.issues == full.issues
    assert incremental == full


def editable(graph: Graph) -> list[tuple[Graph, Node]]:
    """Every node (at any depth) that has parameters, groups aside."""
    return [(level, node) for level, node in graph.walk()
            if node.body is None and level.spec(node).params]


def random_edit(document: Document, rng: random.Random) -> bool:
    """Set one parameter of a random node to a random value; whether it was accepted."""
    level, node = rng.choice(editable(document.graph))
    param = rng.choice(level.spec(node).params)
    choices: tuple[Any, ...] = tuple(param.choices or VALUES.get(param.kind, (param.default,)))
    if param.kind == "int":
        choices = (*choices, 3, 32, 64)
    document.history.seal()
    try:
        document.push(commands.set_param(level, node.id, param.name, rng.choice(choices)))
    except GraphError:
        return False
    return True


@pytest.mark.parametrize("template", ["resnet18", "mobilenet_v2"])
@pytest.mark.parametrize("seed", range(3))
def test_random_parameter_edits_reanalyse_as_a_full_analysis(template: str, seed: int) -> None:
    rng = random.Random(seed)
    document = Document(build_template(template))
    assert_same(document.analysis, analyze(document.graph))
    accepted = 0
    for step in range(40):
        accepted += random_edit(document, rng)
        if step % 7 == 6:
            document.undo()
        assert_same(document.analysis, analyze(document.graph))
    assert accepted > 10


def test_inplace_edits_seen_across_group_boundaries() -> None:
    """Turning ``inplace`` on and off anywhere changes issues in other bodies as in full."""
    rng = random.Random(7)
    document = Document(build_template("resnet18"))
    switches = [(level, node) for level, node in document.graph.walk()
                if node.body is None and any(p.name == "inplace"
                                             for p in level.spec(node).params)]
    assert switches
    for _ in range(30):
        level, node = rng.choice(switches)
        document.history.seal()
        document.push(commands.set_param(level, node.id, "inplace", rng.random() < 0.7))
        assert_same(document.analysis, analyze(document.graph))


def test_edit_in_one_body_reuses_the_analysis_of_the_others() -> None:
    document = Document(build_template("resnet18"))
    before = document.analysis
    bodies = [node for _, node in document.graph.walk() if node.body is not None]
    first, last = bodies[1], bodies[-1]
    assert first.body is not None and last.body is not None
    level, conv = next((lv, n) for lv, n in first.body.walk() if n.type == "conv2d")
    document.push(commands.set_param(level, conv.id, "bias", not conv.resolved["bias"]))
    after = document.analysis
    assert_same(after, analyze(document.graph))
    assert after.info(conv.id) is not before.info(conv.id)
    assert after.info(conv.id).params != before.info(conv.id).params
    for _, node in last.body.walk():  # downstream, fed the same shapes: not analysed again
        assert after.info(node.id) is before.info(node.id)


def grouped_inplace_relu() -> tuple[Document, dict[str, Node]]:
    """input → conv → group ``head`` (an in-place relu and a dangling identity) → output."""
    graph = Graph()
    x = graph.add("input", "x", shape=(3, 8, 8))
    conv = graph.add("conv2d", "conv", after=x, out_channels=4)
    relu = graph.add("relu", "act", after=conv, inplace=True)
    spare = graph.add("identity", "spare", after=relu)
    pool = graph.add("global_avgpool", "pool", after=relu)
    graph.chain("flatten", "output", after=pool)
    commands.group_nodes(graph, [relu.id, spare.id], "head").redo()
    graph.add("relu", "side")
    nodes = {n.name: n for _, n in graph.walk()}
    return Document(graph), nodes


def messages(analysis: Analysis) -> list[str]:
    """Every issue's message."""
    return [issue.message for issue in analysis.issues]


def test_wire_outside_a_body_changes_the_inplace_check_inside() -> None:
    document, nodes = grouped_inplace_relu()
    assert not any("in-place" in m for m in messages(document.analysis))
    document.push(commands.connect(document.graph, nodes["conv"].id, nodes["side"].id))
    assert any(m.startswith("head.act: in-place operation would overwrite the output of conv")
               for m in messages(document.analysis))
    assert_same(document.analysis, analyze(document.graph))
    document.undo()
    assert_same(document.analysis, analyze(document.graph))
    assert not any("in-place" in m for m in messages(document.analysis))


def test_renames_reach_the_messages_of_an_unchanged_body() -> None:
    document, nodes = grouped_inplace_relu()
    assert "head.spare: its output is not used" in messages(document.analysis)
    document.push(commands.Rename(document.graph, nodes["head"].id, "stem"))
    assert "stem.spare: its output is not used" in messages(document.analysis)
    assert_same(document.analysis, analyze(document.graph))
    body = nodes["head"].body
    assert body is not None
    document.push(commands.Rename(body, nodes["spare"].id, "extra"))
    assert "stem.extra: its output is not used" in messages(document.analysis)
    assert_same(document.analysis, analyze(document.graph))


class IncrementalEditorMachine(EditorMachine):
    """Every edit the editor can make, with the document's analysis checked after each."""

    @invariant()
    def analysis_equals_a_full_one(self) -> None:
        assert_same(self.document.analysis, analyze(self.graph))


IncrementalEditorMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestIncrementalEditor = IncrementalEditorMachine.TestCase
