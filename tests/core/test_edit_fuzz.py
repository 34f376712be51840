"""Every state the editor can reach saves and reopens to an equal graph.

A hypothesis state machine drives the editor's commands at random — add a block, delete,
connect, disconnect, set parameters (including those that rebuild a composite's body),
group, ungroup, copy and paste (group port nodes included, into any level), rename, move,
freeze — with undo and redo at random points, through a :class:`Document` as the editor
does. After every step the graph must be consistent, analyse without an exception, and
save and reopen to the same text; at the end, undoing everything gives back the initial
file and redoing everything the final one.

CI runs a bounded number of examples. A longer run::

    NETBUILDER_FUZZ_EXAMPLES=2000 NETBUILDER_FUZZ_STEPS=150 \\
        .venv/bin/python -m pytest -q tests/core/test_edit_fuzz.py
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from netbuilder.core import commands, editing, serialize
from netbuilder.core.analysis import analyze
from netbuilder.core.document import Document
from netbuilder.core.errors import GraphError, ProjectFileError
from netbuilder.core.graph import Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT

EXAMPLES = int(os.environ.get("NETBUILDER_FUZZ_EXAMPLES", "40"))
STEPS = int(os.environ.get("NETBUILDER_FUZZ_STEPS", "40"))

#: Blocks the machine adds: layers, merges, the graph's ends, group ports (refused at the
#: top level) and composites whose parameters rebuild their bodies.
BLOCKS = ("conv2d", "relu", "sigmoid", "add", "concat", "batchnorm2d", "maxpool2d",
          "flatten", "linear", "identity", "dropout", "input", "output", GROUP_INPUT,
          GROUP_OUTPUT, "basic_block", "bottleneck", "conv_bn_relu", "dense_block",
          "se_block")
#: Names a rename picks from: port names of composites, block default names, and fresh.
NAMES = ("x", "y", "out", "relu1", "conv1", "bn1", "add", "input1", "b", "c")
#: Values tried per parameter kind (some are refused by validation, which is fine).
VALUES: dict[str, tuple[Any, ...]] = {
    "int": (1, 2, 4, 8, 16, 0),
    "float": (0.0, 0.1, 0.5),
    "bool": (True, False),
    "ints": (1, 2, 3),
    "padding": (0, 1, "same"),
    "shape": ((3, 8, 8), (1, 8, 8), (4, 6, 6)),
}


def start_graph() -> Graph:
    """input → conv → basic_block → user group (two ports) → pool → flatten → fc → output."""
    graph = Graph()
    x = graph.add("input", shape=(3, 8, 8), pos=(0, 0))
    conv = graph.add("conv2d", after=x, out_channels=8, padding=1, pos=(0, 100))
    block = graph.add("basic_block", after=conv, out_channels=8, pos=(0, 200))
    relu = graph.add("relu", after=block, pos=(0, 300))
    graph.chain("global_avgpool", "flatten", ("linear", None, {"out_features": 4}),
                "output", after=relu)
    commands.group_nodes(graph, [relu.id], "head").redo()
    return graph


def levels(graph: Graph) -> list[Graph]:
    """The document's graph levels: the top and every body, parents first."""
    return [graph] + [n.body for _, n in graph.walk() if n.body is not None]


def text_of(graph: Graph) -> str:
    """The saved form of ``graph``."""
    return serialize.dumps(serialize.Project(graph))


def check_consistent(graph: Graph) -> None:
    """The model's own invariants: the id index, owners, and every edge's ports."""
    index = dict(graph._index)
    for level in levels(graph):
        for node in level.nodes.values():
            assert index.pop(node.id)[1] is node, f"index of {node.id} is stale"
            if node.body is not None:
                assert node.body.owner is node and node.body.parent is level
        used: set[tuple[str, str]] = set()
        for edge in level.edges:
            source, target = level.nodes[edge.source], level.nodes[edge.target]
            assert edge.source_port in level.output_ports(source), edge
            ports = {p.name: p for p in level.input_ports(target)}
            assert edge.target_port in ports, edge
            if not ports[edge.target_port].multi:
                assert (edge.target, edge.target_port) not in used, edge
                used.add((edge.target, edge.target_port))
        if level.owner is None:
            assert not any(n.type in (GROUP_INPUT, GROUP_OUTPUT) for n in level.nodes.values())
    assert not index, f"index holds removed nodes {sorted(index)}"


class EditorMachine(RuleBasedStateMachine):
    """The editor's commands at random, checked after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.document = Document(start_graph())
        self.initial = text_of(self.document.graph)
        self.refused = 0

    # -- helpers ------------------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        return self.document.graph

    def _level(self, data: st.DataObject) -> Graph:
        return data.draw(st.sampled_from(levels(self.graph)), label="level")

    def _node(self, data: st.DataObject, level: Graph) -> Node | None:
        if not level.nodes:
            return None
        return data.draw(st.sampled_from(list(level.nodes.values())), label="node")

    def _composites(self) -> list[tuple[Graph, Node]]:
        return [(level, node) for level in levels(self.graph) for node in level.nodes.values()
                if level.spec(node).is_composite]

    def _push(self, build: Any) -> None:
        """Build a command (a refusal is a typed GraphError) and push it."""
        try:
            command = build()
        except GraphError:
            self.refused += 1
            return
        if command is not None:
            self.document.push(command)

    # -- rules --------------------------------------------------------------------------
    @rule(data=st.data(), key=st.sampled_from(BLOCKS))
    def add_block(self, data: st.DataObject, key: str) -> None:
        level = self._level(data)
        spot = data.draw(st.tuples(st.integers(-500, 500), st.integers(-500, 500)))
        wire = data.draw(st.sampled_from([None, *level.edges]), label="wire")
        self._push(lambda: editing.add_command(level, key, spot, wire)[0])

    @rule(data=st.data(), key=st.sampled_from(BLOCKS))
    def add_block_after(self, data: st.DataObject, key: str) -> None:
        level = self._level(data)
        node = self._node(data, level)
        if node is not None:
            self._push(lambda: editing.add_after_command(level, key, node.id)[0])

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        level = self._level(data)
        ids = data.draw(st.lists(st.sampled_from(list(level.nodes) or [""]), max_size=3))
        edges = data.draw(st.lists(st.sampled_from(level.edges or [None]), max_size=2))
        ids = [i for i in ids if i]
        self._push(lambda: editing.delete_command(level, ids, [e for e in edges if e]))

    @rule(data=st.data())
    def connect(self, data: st.DataObject) -> None:
        level = self._level(data)
        source, target = self._node(data, level), self._node(data, level)
        if source is not None and target is not None:
            self._push(lambda: commands.AddEdge(level, level.default_edge(source.id, target.id)))

    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        level = self._level(data)
        if level.edges:
            edge = data.draw(st.sampled_from(level.edges), label="edge")
            self._push(lambda: commands.RemoveEdge(level, edge))

    @rule(data=st.data())
    def set_param(self, data: st.DataObject) -> None:
        level = self._level(data)
        node = self._node(data, level)
        if node is None or not level.spec(node).params:
            return
        param = data.draw(st.sampled_from(level.spec(node).params), label="param")
        choices = param.choices or VALUES.get(param.kind, (param.default,))
        value = data.draw(st.sampled_from(tuple(choices)), label="value")
        self._push(lambda: commands.set_param(level, node.id, param.name, value))

    @rule(data=st.data())
    def group(self, data: st.DataObject) -> None:
        level = self._level(data)
        ids = data.draw(st.lists(st.sampled_from(list(level.nodes) or [""]), min_size=1,
                                 max_size=3))
        self._push(lambda: commands.group_nodes(level, [i for i in ids if i]))

    @rule(data=st.data())
    def ungroup(self, data: st.DataObject) -> None:
        level = self._level(data)
        groups = [n for n in level.nodes.values() if n.body is not None]
        if groups:
            node = data.draw(st.sampled_from(groups), label="group")
            self._push(lambda: commands.ungroup(level, node.id))

    @rule(data=st.data())
    def copy_paste(self, data: st.DataObject) -> None:
        source = self._level(data)
        ids = data.draw(st.lists(st.sampled_from(list(source.nodes) or [""]), max_size=4))
        ids = [i for i in ids if i]
        if not ids:
            return
        text = serialize.fragment_to_text(source, ids)
        target = self._level(data)
        try:
            nodes, edges = serialize.fragment_from_text(text, target)
        except ProjectFileError as error:  # pragma: no cover - a copy always reads back
            raise AssertionError(f"a copied fragment does not read back: {error}") from None
        self._push(lambda: commands.paste(target, nodes, edges, (40.0, 40.0)))

    @rule(data=st.data())
    def set_composite_param(self, data: st.DataObject) -> None:
        """A parameter of a composite block: its body is rebuilt (ports may change)."""
        composites = self._composites()
        if composites:
            level, node = data.draw(st.sampled_from(composites), label="composite")
            param = data.draw(st.sampled_from(level.spec(node).params), label="param")
            value = data.draw(st.sampled_from(param.choices or VALUES.get(param.kind, (1,))))
            self._push(lambda: commands.set_param(level, node.id, param.name, value))

    @rule(data=st.data(), name=st.sampled_from(NAMES))
    def edit_composite_port(self, data: st.DataObject, name: str) -> None:
        """Rename a composite's port, or give it another input wired from outside."""
        composites = self._composites()
        if not composites:
            return
        level, node = data.draw(st.sampled_from(composites), label="composite")
        body = node.body
        assert body is not None
        ports = [n for n in body.nodes.values() if n.type in (GROUP_INPUT, GROUP_OUTPUT)]
        if ports and data.draw(st.booleans()):
            port = data.draw(st.sampled_from(ports), label="port")
            self._push(lambda: commands.Rename(body, port.id, name))
            return
        self._push(lambda: editing.add_command(body, GROUP_INPUT, (0.0, -200.0))[0])
        source = self._node(data, level)
        extra = [p.name for p in level.input_ports(node)][-1:]
        if source is not None and extra:
            self._push(lambda: commands.connect(level, source.id, node.id,
                                                target_port=extra[0]))

    @rule(data=st.data())
    def paste_ports(self, data: st.DataObject) -> None:
        """Copy a body's port nodes (with a neighbour or alone) and paste them anywhere."""
        bodies = [level for level in levels(self.graph) if level.owner is not None]
        if not bodies:
            return
        body = data.draw(st.sampled_from(bodies), label="body")
        ports = [n.id for n in body.nodes.values() if n.type in (GROUP_INPUT, GROUP_OUTPUT)]
        others = [n for n in body.nodes if n not in ports]
        if not ports:
            return
        ids = ports[:1] + data.draw(st.lists(st.sampled_from(others or ports), max_size=2))
        text = serialize.fragment_to_text(body, ids)
        target = self._level(data)
        nodes, edges = serialize.fragment_from_text(text, target)
        self._push(lambda: commands.paste(target, nodes, edges, (40.0, 40.0)))

    @rule(data=st.data(), name=st.sampled_from(NAMES))
    def rename(self, data: st.DataObject, name: str) -> None:
        level = self._level(data)
        node = self._node(data, level)
        if node is not None:
            self._push(lambda: commands.Rename(level, node.id, name))

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        level = self._level(data)
        node = self._node(data, level)
        if node is not None:
            spot = data.draw(st.tuples(st.integers(-900, 900), st.integers(-900, 900)))
            self._push(lambda: commands.MoveNodes(level, {node.id: spot}))

    @rule(data=st.data(), attr=st.sampled_from(("frozen", "collapsed")))
    def toggle(self, data: st.DataObject, attr: str) -> None:
        level = self._level(data)
        node = self._node(data, level)
        if node is not None:
            value = not getattr(node, attr)
            self._push(lambda: commands.SetAttribute(level, node.id, attr, value))

    @rule(steps=st.integers(1, 4))
    def undo(self, steps: int) -> None:
        for _ in range(steps):
            self.document.undo()

    @rule(steps=st.integers(1, 4))
    def redo(self, steps: int) -> None:
        for _ in range(steps):
            self.document.redo()

    @rule()
    def seal(self) -> None:
        self.document.history.seal()

    # -- checks -------------------------------------------------------------------------
    @invariant()
    def saves_and_reopens_equal(self) -> None:
        check_consistent(self.graph)
        analyze(self.graph)
        text = text_of(self.graph)
        try:
            reopened = serialize.loads(text).graph
        except ProjectFileError as error:
            raise AssertionError(f"saved a project that does not reopen: {error}") from None
        assert text_of(reopened) == text

    def teardown(self) -> None:
        final, applied = text_of(self.graph), self.document.history.index
        while self.document.undo():
            pass
        check_consistent(self.graph)
        assert text_of(self.graph) == self.initial, "undo-all did not restore the start"
        for _ in range(applied):
            self.document.redo()
        check_consistent(self.graph)
        assert text_of(self.graph) == final, "redo-all did not reach the same end"


EditorMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
test_editor_states_save_and_reopen = EditorMachine.TestCase
