"""Project files: lossless round trips, strict reading with clear messages, atomic saving."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netbuilder.core import commands as cmd
from netbuilder.core import serialize
from netbuilder.core.analysis import analyze
from netbuilder.core.errors import GraphError, ProjectFileError
from netbuilder.core.events import EventHub
from netbuilder.core.graph import Graph
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.serialize import Project
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, BlockSpec, Params, ParamSpec
from tests.core.toyblocks import snapshot, toy_registry

BROKEN = Path(__file__).parent.parent / "data" / "broken"
EXAMPLE = Path(__file__).parents[2] / "resources" / "examples" / "lenet5.nbproj"


class Pair(BlockSpec):
    """A toy composite: two dense layers of ``width`` between a group input and output."""

    @property
    def is_composite(self) -> bool:
        return True

    def body(self, params: Params) -> Graph:
        body = Graph(REGISTRY)
        x = body.add(GROUP_INPUT, "x", pos=(0, 0))
        a = body.add("dense", "a", after=x, width=params["width"], pos=(0, 100))
        b = body.add("dense", "b", after=a, width=params["width"], pos=(0, 200))
        body.add(GROUP_OUTPUT, "out", after=b, pos=(0, 300))
        return body


def _registry() -> BlockRegistry:
    registry = toy_registry()
    registry.register(Pair("pair", "Pair", "Toy", default_name="pair", params=(
        ParamSpec("width", "int", 4, minimum=1, maximum=64),)))
    return registry


REGISTRY = _registry()


def build() -> Graph:
    """A graph with every feature the format stores."""
    graph = Graph(REGISTRY)
    x = graph.add("input", "x", shape=(16,))
    a = graph.add("dense", "a", after=x, width=6, rate=0.1, pos=(0.25, 120))
    b = graph.add("dense", "b", after=a, mode="b", pos=(-3e-7, 240))
    c = graph.add("pair", "c", after=x, width=5, pos=(300, 120))
    d = graph.add("pair", "d", after=x, pos=(600, 120))
    total = graph.add("add", "total", pos=(0, 360))
    for node in (b, c, d):
        graph.connect(node, total)
    graph.add("output", "out", after=total, pos=(0, 480))
    graph._set_attr(a.id, "frozen", True)
    graph._set_attr(b.id, "init", {"scheme": "normal", "std": 0.01})
    graph._set_attr(c.id, "collapsed", False)
    assert d.body is not None
    inner = d.body.by_name("a")
    d.body._set_pos(inner.id, (40, 100))  # an edited composite body is kept
    cmd.group_nodes(graph, [a.id, b.id], name="stem").redo()
    return graph


def structure(graph: Graph, keep_ids: bool = True) -> dict[str, Any]:
    """Like ``snapshot``, but a composite's body is compared without its ids (a generated
    body is not written to the file, and gets fresh ids when it is generated again)."""
    ids = {nid: nid if keep_ids else k for k, nid in enumerate(graph.nodes)}
    return {
        "nodes": [(ids[n.id], n.type, n.name, dict(n.params), n.pos, n.frozen, n.init,
                   n.collapsed, None if n.body is None
                   else structure(n.body, keep_ids and n.type != "pair"))
                  for n in graph.nodes.values()],
        "edges": [(ids[e.source], ids[e.target], e.source_port, e.target_port)
                  for e in graph.edges],
    }


def round_trip(graph: Graph, **extra: dict[str, Any]) -> tuple[str, Project]:
    text = serialize.dumps(Project(graph, **extra))
    loaded = serialize.loads(text, REGISTRY)
    assert serialize.dumps(loaded) == text
    assert structure(loaded.graph) == structure(graph)
    return text, loaded


# -- round trips ------------------------------------------------------------------------
def test_hand_built_graph_round_trips_exactly() -> None:
    graph = build()
    text, loaded = round_trip(graph, training={"epochs": 3, "lr": 0.1},
                              meta={"title": "Toy", "tags": ["a", "b"]})
    assert snapshot(loaded.graph)["nodes"][:2] == snapshot(graph)["nodes"][:2]
    assert [n.id for _, n in loaded.graph.walk()] == [n.id for _, n in graph.walk()]
    assert loaded.training == {"epochs": 3, "lr": 0.1}
    assert loaded.meta == {"title": "Toy", "tags": ["a", "b"]}
    assert text.endswith("}\n") and "\n  \"graph\": {\n" in text


def test_defaults_are_left_out_and_layout_is_readable() -> None:
    data = json.loads(serialize.dumps(Project(build())))
    nodes = {n["name"]: n for n in data["graph"]["nodes"]}
    assert nodes["x"] == {"id": "n1", "type": "input", "name": "x", "params": {"shape": [16]}}
    assert "body" not in nodes["c"] and nodes["c"]["collapsed"] is False
    assert "body" in nodes["d"] and "body" in nodes["stem"]
    assert all("source_port" not in e and "target_port" not in e
               for e in data["graph"]["edges"])
    assert list(data) == ["format", "format_version", "graph"]
    lines = serialize.dumps(Project(build())).splitlines()
    assert max(len(line) for line in lines) <= 100
    assert '      {"id": "n1", "type": "input", "name": "x", "params": {"shape": [16]}},' in lines


def test_floats_are_exact() -> None:
    graph = Graph(REGISTRY)
    rates = [0.1, 1 / 3, 5e-324, 0.30000000000000004]
    for rate in rates:
        graph.add("dense", rate=rate, pos=(1 / 7, -999_999_999.5))
    loaded = serialize.loads(serialize.dumps(Project(graph)), REGISTRY).graph
    assert [n.params["rate"] for n in loaded.nodes.values()] == rates
    assert {n.pos for n in loaded.nodes.values()} == {(1 / 7, -999_999_999.5)}


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
COORDS = st.floats(min_value=-1e9, max_value=1e9)


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """Random valid graphs: chains, multi-input adds, composites, groups, flags."""
    graph = Graph(REGISTRY)
    live = [graph.add("input", shape=draw(st.lists(st.integers(1, 64), min_size=1,
                                                            max_size=4)))]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["dense", "add", "pair", "output"]))
        params: dict[str, Any] = {}
        if kind == "dense":
            params = draw(st.fixed_dictionaries({}, optional={
                "width": st.integers(1, 1000), "mode": st.sampled_from(["a", "b"]),
                "rate": st.floats(0, 1)}))
        name = draw(NAMES)
        node = graph.add(kind, name if name not in {n.name for n in graph.nodes.values()}
                         else None, pos=(draw(COORDS), draw(COORDS)), **params)
        sources = draw(st.lists(st.sampled_from(live), min_size=1, max_size=3, unique=True))
        for source in sources if kind == "add" else sources[:1]:
            graph.connect(source, node)
        graph._set_attr(node.id, "frozen", draw(st.booleans()))
        graph._set_attr(node.id, "collapsed", draw(st.booleans()))
        if draw(st.booleans()):
            graph._set_attr(node.id, "init", {"scheme": "normal", "std": draw(COORDS)})
        if kind != "output":
            live.append(node)
    pairs = [n for n in graph.nodes.values() if n.body is not None]
    if pairs and draw(st.booleans()):  # an edited composite body is written out
        body = pairs[0].body
        assert body is not None
        body._set_pos(next(iter(body.nodes)), (draw(COORDS), draw(COORDS)))
    picks = draw(st.lists(st.sampled_from(list(graph.nodes)), max_size=3, unique=True))
    with contextlib.suppress(GraphError):
        cmd.group_nodes(graph, picks).redo()
    return graph


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_graphs_round_trip(graph: Graph) -> None:
    round_trip(graph)


# -- hand-written files ---------------------------------------------------------------------
def document(nodes: list[Any], edges: Sequence[Any] = ()) -> str:
    return json.dumps({"format": "netbuilder-project", "format_version": 1,
                       "graph": {"nodes": nodes, "edges": list(edges)}})


def test_hand_written_file_gets_defaults() -> None:
    text = document(
        [{"id": "in", "type": "input"}, {"id": "a", "type": "dense"},
         {"id": "b", "type": "dense", "name": "dense1"}, {"id": "sum", "type": "add"},
         {"id": "p", "type": "pair", "params": {"width": 3}}],
        [{"source": "in", "target": "a"}, {"source": "in", "target": "b"},
         {"source": "a", "target": "sum"}, {"source": "b", "target": "sum"},
         {"source": "sum", "target": "p"}])
    graph = serialize.loads(text, REGISTRY).graph
    names = [n.name for n in graph.nodes.values()]
    assert names == ["input1", "dense2", "dense1", "add1", "pair1"]
    assert [(e.source, e.target_port) for e in graph.in_edges("sum")] == [("a", "in"),
                                                                         ("b", "in")]
    body = graph.nodes["p"].body
    assert body is not None and [n.resolved["width"] for n in body.nodes.values()
                                 if n.type == "dense"] == [3, 3]
    assert graph.nodes["a"].resolved["width"] == 4 and graph.nodes["a"].params == {}


def test_ids_repeating_across_levels_are_renumbered_inside() -> None:
    body = {"nodes": [{"id": "x", "type": "group_input", "name": "x"},
                      {"id": "in", "type": "dense"}, {"id": "y", "type": "group_output"}],
            "edges": [{"source": "x", "target": "in"}, {"source": "in", "target": "y"}]}
    text = document([{"id": "in", "type": "input"}, {"id": "g", "type": "group", "body": body},
                     {"id": "x", "type": "output"}],
                    [{"source": "in", "target": "g", "target_port": "x"},
                     {"source": "g", "target": "x"}])
    graph = serialize.loads(text, REGISTRY).graph
    assert list(graph.nodes) == ["in", "g", "x"]
    inner = graph.nodes["g"].body
    assert inner is not None and len({n.id for _, n in graph.walk()}) == 6
    assert [inner.nodes[e.source].type for e in inner.edges] == [GROUP_INPUT, "dense"]
    assert graph.find(next(iter(inner.nodes)))[0] is inner


def test_cycles_are_loaded_for_the_analysis_to_report() -> None:
    text = document([{"id": "a", "type": "dense"}, {"id": "b", "type": "dense"}],
                    [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}])
    graph = serialize.loads(text, REGISTRY).graph
    assert len(graph.edges) == 2 and set(graph.cycle_nodes()) == {"a", "b"}


def test_loading_sends_one_batch_of_events(monkeypatch: pytest.MonkeyPatch) -> None:
    batches: dict[int, list[int]] = {}
    original = EventHub.__init__

    def recording_init(hub: EventHub) -> None:
        original(hub)
        hub.connect(lambda events: batches.setdefault(id(hub), []).append(len(events)))

    monkeypatch.setattr(EventHub, "__init__", recording_init)
    loaded = serialize.loads(serialize.dumps(Project(build())), REGISTRY)
    (count,) = batches[id(loaded.graph.events)]
    assert count == len(loaded.graph.nodes) + len(loaded.graph.edges)


def test_graph_dict_functions_round_trip() -> None:
    graph = build()
    data = serialize.graph_to_dict(graph)
    assert snapshot(serialize.graph_from_dict(data, REGISTRY)) == snapshot(graph)
    with pytest.raises(ProjectFileError, match=r"^graph\.nodes\[0\]\.type: unknown"):
        serialize.graph_from_dict({"nodes": [{"id": "a", "type": "nope"}]}, REGISTRY)


# -- broken files -----------------------------------------------------------------------------
BROKEN_FILES = {
    "truncated": "the file ends inside the text that starts at line 7, column 38 (is it trunc",
    "invalid_json": "not valid JSON at line 4, column 3: Expecting ',' delimiter",
    "empty": "the file is empty",
    "top_level_list": "the file must hold a JSON object, not a list",
    "wrong_format": 'format: expected "netbuilder-project", got "keras-model"',
    "missing_format": "format: missing",
    "newer_version": "format_version: the file was made by a newer NetBuilder (format version 7",
    "version_not_integer": "format_version: must be a positive integer",
    "missing_id": 'graph.nodes[1]: missing "id"',
    "duplicate_id": 'graph.nodes[2].id: "c1" is already the id of graph.nodes[1]',
    "unknown_type": 'graph.nodes[1].type: unknown block type "conv2" (did you mean "conv2d"?)',
    "unknown_param": "graph.nodes[1].params.kernal_size: conv2d has no such parameter (did you "
                     'mean "kernel_size"?)',
    "param_out_of_range": "graph.nodes[1].params.kernel_size: must be at least 1 (got 0)",
    "param_wrong_type": 'graph.nodes[1].params.out_channels: must be an integer (got "six")',
    "bad_pos": "graph.nodes[1].pos: must be [x, y] with two numbers",
    "edge_to_missing_node": 'graph.edges[1].target: no node "c9" in this graph',
    "edge_to_unknown_port": 'graph.edges[0].target_port: node "c1" has no input "x"',
    "edge_from_output_node": 'graph.edges[1].source: node "output" (output) has no outputs',
    "port_occupied": 'graph.edges[1].target: input "in" of node "c1" is already connected to '
                     'node "input"',
    "duplicate_edge": "graph.edges[1]: the same connection is already listed at graph.edges[0]",
    "unknown_node_key": 'graph.nodes[1].parms: unknown key (did you mean "params"?)',
    "unknown_edge_key": "graph.edges[0].to: unknown key",
    "nan": "NaN is not allowed in a project file (numbers must be finite) at line 7, column 44",
    "huge_number": "the number 1e999 is too large at line 7, column 55",
    "bad_name": "graph.nodes[1].name: name 'relu 1' may only contain letters",
    "duplicate_name": 'graph.nodes[1].name: "r" is already the name of graph.nodes[0]',
    "body_on_plain_block": "graph.nodes[1].body: a relu node has no body",
    "nested_error": "graph.nodes[1].body.nodes[1].params.out_features: must be at least 1",
    "group_input_at_top": "graph.nodes[0].type: group_input nodes belong inside a group body",
    "frozen_not_bool": "graph.nodes[1].frozen: must be true or false",
    "duplicate_key": 'the key "type" appears twice in the same object',
    "edges_not_list": "graph.edges: must be a list, not an object",
    "training_not_object": "training: must be an object, not a list",
    "not_utf8": "the file is not UTF-8 text (bad byte 0xe9 at line 7)",
}


def test_every_broken_file_has_an_expectation() -> None:
    assert {p.stem for p in BROKEN.glob("*.nbproj")} == set(BROKEN_FILES)


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_file_gives_a_clear_error(name: str) -> None:
    with pytest.raises(ProjectFileError) as caught:
        serialize.load(BROKEN / f"{name}.nbproj")
    assert BROKEN_FILES[name] in str(caught.value)
    assert "\n" not in str(caught.value)


def test_file_that_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="cannot read the file: No such file"):
        serialize.load(tmp_path / "missing.nbproj")
    with pytest.raises(ProjectFileError, match="cannot read the file"):
        serialize.load(tmp_path)


def test_oversized_file_is_refused_unread(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serialize, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.nbproj"
    path.write_text(" " * 1001)
    with pytest.raises(ProjectFileError, match="larger than"):
        serialize.load(path)


def nested_groups(depth: int) -> dict[str, Any]:
    level: dict[str, Any] = {"nodes": [{"id": "a", "type": "dense"}]}
    for _ in range(depth):
        level = {"nodes": [{"id": "g", "type": "group", "body": level}]}
    return level


def test_nesting_is_bounded() -> None:
    ok = json.dumps({"format": "netbuilder-project", "format_version": 1,
                     "graph": nested_groups(64)})
    assert len(list(serialize.loads(ok, REGISTRY).graph.walk())) == 65
    deep = ok.replace('"graph": ', '"graph": {"nodes": [{"id": "g", "type": "group", "body": ')
    with pytest.raises(ProjectFileError, match=r"graph(\.nodes\[0\]\.body){65}: groups are "
                                               r"nested more than 64 deep"):
        serialize.loads(deep[:-1] + "}]}}", REGISTRY)
    for text in ("[" * 100_000 + "]" * 100_000, '{"format": ' + "[" * 1000 + "]" * 1000 + "}"):
        with pytest.raises(ProjectFileError, match="nested"):
            serialize.loads(text, REGISTRY)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_garbage_only_ever_raises_project_file_error(data: bytes) -> None:
    with contextlib.suppress(ProjectFileError):
        serialize.loads(data.decode("utf-8", "replace"), REGISTRY)


def test_edits_of_a_valid_file_only_ever_raise_project_file_error() -> None:
    text = serialize.dumps(Project(build()))
    for cut in range(0, len(text), 7):
        for mutated in (text[:cut], text[:cut] + text[cut + 1:], text[:cut] + "0" + text[cut:]):
            with contextlib.suppress(ProjectFileError):
                serialize.loads(mutated, REGISTRY)


# -- saving -----------------------------------------------------------------------------------
def test_save_then_load(tmp_path: Path) -> None:
    path = tmp_path / "net.nbproj"
    serialize.save(Project(build(), meta={"title": "Toy ✓"}), path)
    loaded = serialize.load(path, REGISTRY)
    assert structure(loaded.graph) == structure(build()) and loaded.meta["title"] == "Toy ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["net.nbproj"]


def test_failed_save_leaves_the_old_file(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "net.nbproj"
    path.write_text("old contents")
    path.chmod(0o640)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        serialize.save(Project(build()), path)
    assert path.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["net.nbproj"]
    monkeypatch.undo()
    serialize.save(Project(build()), path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_save_that_cannot_serialise_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "net.nbproj"
    path.write_text("old contents")
    with pytest.raises(ValueError):
        serialize.save(Project(build(), meta={"bad": float("nan")}), path)
    assert path.read_text() == "old contents"
    assert len(list(tmp_path.iterdir())) == 1


# -- clipboard fragments ----------------------------------------------------------------------
def paste_text(text: str, target: Graph) -> list[str]:
    nodes, edges = serialize.fragment_from_text(text, target)
    macro = cmd.paste(target, nodes, edges, offset=(10, 10))
    macro.redo()
    assert len({n.id for _, n in target.walk()}) == len(list(target.walk()))
    return list(macro.pasted)  # type: ignore[attr-defined]


def test_copy_paste_between_documents() -> None:
    source = build()
    picked = [source.by_name(n).id for n in ("out", "total", "x")]
    text = serialize.fragment_to_text(source, picked)
    assert [n["name"] for n in json.loads(text)["nodes"]] == ["x", "total", "out"]
    target = Graph(REGISTRY)
    target.add("dense", "x")
    pasted = [target.nodes[i] for i in paste_text(text, target)]
    assert [n.name for n in pasted] == ["x1", "total", "out"]
    assert pasted[0].pos == (10, 10) and pasted[2].pos == (10, 490)
    assert [(e.source, e.target) for e in target.edges] == [(pasted[1].id, pasted[2].id)]


def test_copy_paste_of_one_group() -> None:
    source = build()
    text = serialize.fragment_to_text(source, [source.by_name("stem").id])
    target = source
    (pasted,) = paste_text(text, target)
    copy, original = target.nodes[pasted], target.by_name("stem")
    assert copy.name == "stem1" and copy.body is not None and original.body is not None
    assert structure(copy.body, False) == structure(original.body, False)


def test_copy_paste_of_a_group_and_more() -> None:
    source = build()
    text = serialize.fragment_to_text(source, [source.by_name(n).id for n in ("c", "total")])
    target = Graph(REGISTRY)
    target.add("dense", "c")
    pasted = paste_text(text, target)
    assert [target.nodes[i].name for i in pasted] == ["c1", "total"]


def test_fragment_from_inside_a_group() -> None:
    graph = build()
    stem = graph.by_name("stem")
    assert stem.body is not None
    port = next(n.id for n in stem.body.nodes.values() if n.type == GROUP_INPUT)
    inner = stem.body.by_name("a").id
    data = serialize.fragment_to_dict(graph, [port, inner])
    assert data["format"] == "netbuilder-fragment" and len(data["edges"]) == 1
    nodes, _ = serialize.fragment_from_dict(data, graph)
    assert [n.type for n in nodes] == ["dense", GROUP_INPUT]
    with pytest.raises(GraphError, match="one graph level"):
        serialize.fragment_to_dict(graph, [inner, graph.by_name("x").id])
    with pytest.raises(ProjectFileError, match='format: expected "netbuilder-fragment"'):
        serialize.fragment_from_dict(json.loads(serialize.dumps(Project(graph))), graph)


# -- the bundled example ----------------------------------------------------------------------
def test_bundled_example_is_in_canonical_form() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    project = serialize.loads(text)
    assert serialize.dumps(project) == text
    assert [n.name for n in project.graph.nodes.values()][:3] == ["input", "c1", "act1"]


def test_example_in_the_format_documentation_loads_cleanly() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "file-format.md").read_text(encoding="utf-8")
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    graph = serialize.loads(example).graph
    assert analyze(graph).ok
    assert [n.name for n in graph.nodes.values()][:4] == ["input1", "conv1", "block1", "mix"]
