"""The ``.nbproj`` project format: plain JSON in, plain JSON out, validated field by field.

A project file is::

    {"format": "netbuilder-project", "format_version": 1,
     "graph": {"nodes": [...], "edges": [...]}, "training": {...}, "meta": {...}}

Node ids are unique within one graph level (a group body is its own level); the model makes
them unique across the document when the graph is built. Reading validates everything and
raises :class:`~netbuilder.core.errors.ProjectFileError` naming the offending field, e.g.
``graph.nodes[3].params.kernel_size: must be at least 1 (got 0)``. Nothing in a file is
ever executed or unpickled. Writing is stable and omits values equal to their defaults, so
files stay short enough to write by hand. ``docs/file-format.md`` documents every field.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from netbuilder.core.errors import GraphError, ProjectFileError
from netbuilder.core.fileio import atomic_write
from netbuilder.core.gc_pause import paused_gc
from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.project_reader import (
    FORMAT_VERSION,
    FRAGMENT_FORMAT,
    PROJECT_FORMAT,
    Reader,
    default_target_port,
    parse_json,
)
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import GROUP

__all__ = [
    "FORMAT_VERSION", "FRAGMENT_FORMAT", "MAX_FILE_BYTES", "PROJECT_FORMAT", "Project",
    "dumps", "fragment_from_dict", "fragment_from_text", "fragment_to_dict",
    "fragment_to_text", "graph_from_dict", "graph_to_dict", "load", "loads", "save",
]

#: Files larger than this are refused before they are parsed.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Keys whose lists are written one element per line.
_EXPANDED = frozenset({"graph", "body", "nodes", "edges"})
_WIDTH = 100


@dataclass
class Project:
    """Everything a project file holds.

    Attributes:
        graph: The network.
        training: Training settings (data set, optimiser, epochs...), as plain JSON data.
        meta: Free-form information (title, description, author...), as plain JSON data.
    """

    graph: Graph
    training: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


# -- reading ----------------------------------------------------------------------------
def load(path: str | os.PathLike[str], registry: BlockRegistry | None = None) -> Project:
    """Read a project file.

    Raises:
        ProjectFileError: when the file cannot be read or is not a valid project.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProjectFileError(f"cannot read the file: {exc.strerror or exc}") from None
    _check_size(len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ProjectFileError(f"the file is not UTF-8 text (bad byte 0x{data[exc.start]:02x} "
                               f"at line {line})") from None
    return loads(text, registry)


@paused_gc()
def loads(text: str, registry: BlockRegistry | None = None) -> Project:
    """Read a project from the text of a project file.

    Raises:
        ProjectFileError: when the text is not a valid project.
    """
    _check_size(len(text))
    document = Reader.top_object(parse_json(text), PROJECT_FORMAT)
    graph = Graph(registry)
    reader = Reader(graph.registry, ports_at_top=False)
    level = reader.level(document.get("graph", {}), "graph")
    training = Reader.plain_object(document.get("training", {}), "training")
    meta = Reader.plain_object(document.get("meta", {}), "meta")
    _fill(graph, level, reader.generated)
    return Project(graph, training, meta)


@paused_gc()
def graph_from_dict(data: Any, registry: BlockRegistry | None = None) -> Graph:
    """Build a graph from the ``"graph"`` object of a project file.

    Raises:
        ProjectFileError: naming the first invalid field (paths start with ``graph``).
    """
    graph = Graph(registry)
    reader = Reader(graph.registry, ports_at_top=False)
    _fill(graph, reader.level(data, "graph"), reader.generated)
    return graph


def fragment_from_dict(data: Any, graph: Graph) -> tuple[list[Node], list[Edge]]:
    """Fresh nodes and the edges among them, from clipboard data, for ``commands.paste``.

    Raises:
        ProjectFileError: when the data is not a valid fragment.
    """
    document = Reader.top_object(data, FRAGMENT_FORMAT)
    reader = Reader(graph.registry, ports_at_top=True)
    level = reader.level({k: v for k, v in document.items() if k in ("nodes", "edges")}, "")
    nodes = list(level.nodes.values())
    _separate_ids(nodes, reader.generated)
    return nodes, list(level.edges)


def fragment_from_text(text: str, graph: Graph) -> tuple[list[Node], list[Edge]]:
    """:func:`fragment_from_dict` of clipboard text (parsed as strictly as a file)."""
    _check_size(len(text))
    return fragment_from_dict(parse_json(text), graph)


def _check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise ProjectFileError(
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")


def _fill(graph: Graph, level: Graph, generated: Sequence[Graph]) -> None:
    """Move a detached, validated level into the empty ``graph`` as one batch of events."""
    nodes = list(level.nodes.values())
    _separate_ids(nodes, generated)
    with graph.batch():
        for node in nodes:
            graph._insert_node(node)
        for edge in level.edges:
            graph._insert_edge(edge)


def _separate_ids(nodes: Sequence[Node], generated: Sequence[Graph] = ()) -> None:
    """Renumber nested nodes whose id repeats one of an outer or earlier level.

    Ids in a file are unique per level only; the model needs them unique in the document.
    Levels written in the file are visited outermost first, then the bodies generated for
    composite blocks, so that every id the file spells out is kept where it can be.
    """
    taken = {n.id for n in nodes}
    fresh = (f"n{k}" for k in count(1))
    made = {id(body) for body in generated}
    pending = deque(n.body for n in nodes if n.body is not None)
    postponed: deque[Graph] = deque()
    for queue in (pending, postponed):
        while queue:
            body = queue.popleft()
            if queue is pending and id(body) in made:
                postponed.append(body)
                continue
            _claim_ids(body, taken, fresh)
            queue.extend(n.body for n in body.nodes.values() if n.body is not None)


def _claim_ids(body: Graph, taken: set[str], fresh: Iterator[str]) -> None:
    """Keep ``body``'s ids that are free; give the others fresh ones."""
    own = set(body.nodes)
    renames: dict[str, str] = {}
    for old in body.nodes:
        if old in taken:
            renames[old] = next(i for i in fresh if i not in taken and i not in own)
            taken.add(renames[old])
    taken |= own - set(renames)
    if renames:
        _rename_ids(body, renames)


def _rename_ids(body: Graph, renames: dict[str, str]) -> None:
    for old, new in renames.items():
        body.nodes[old].id = new
    body.nodes = {n.id: n for n in body.nodes.values()}
    body.edges = [Edge(renames.get(e.source, e.source), renames.get(e.target, e.target),
                       e.source_port, e.target_port) for e in body.edges]
    body._touch()


# -- writing ----------------------------------------------------------------------------
def save(project: Project, path: str | os.PathLike[str]) -> None:
    """Write ``project`` atomically: the file is either the old one or the new one.

    The text goes to a temporary file in the same folder, is flushed to disk, then
    replaces ``path`` in one step; on any failure the temporary file is removed and the
    old file is left as it was.

    Raises:
        OSError: when the file cannot be written.
    """
    atomic_write(path, dumps(project).encode("utf-8"))


@paused_gc()
def dumps(project: Project) -> str:
    """The text of a project file: stable, 2-space indented, defaults omitted."""
    document: dict[str, Any] = {
        "format": PROJECT_FORMAT,
        "format_version": FORMAT_VERSION,
        "graph": graph_to_dict(project.graph),
    }
    if project.training:
        document["training"] = project.training
    if project.meta:
        document["meta"] = project.meta
    return _render(document, 0, True) + "\n"


@paused_gc()
def graph_to_dict(graph: Graph) -> dict[str, Any]:
    """One graph level (and, inside it, every group body) as plain JSON data."""
    return _Writer().level(graph)[0]


def fragment_to_dict(graph: Graph, node_ids: Iterable[str]) -> dict[str, Any]:
    """Clipboard data for nodes of one graph level and the edges among them.

    Args:
        graph: Any graph of the document holding the nodes.
        node_ids: Nodes to copy; they are written in the order of their graph.

    Raises:
        GraphError: when the nodes are not all in the same graph level.
    """
    wanted = set(node_ids)
    levels = {id(graph.find(nid)[0]): graph.find(nid)[0] for nid in wanted}
    if len(levels) > 1:
        raise GraphError("copy nodes of one graph level at a time", tuple(wanted))
    level = next(iter(levels.values()), graph)
    edges = [e for e in level.edges if e.source in wanted and e.target in wanted]
    writer = _Writer()
    return {
        "format": FRAGMENT_FORMAT,
        "format_version": FORMAT_VERSION,
        "nodes": [writer.node(level, n, k)[0] for k, n in enumerate(level.nodes.values())
                  if n.id in wanted],
        "edges": _edges_to_dicts(level, edges),
    }


def fragment_to_text(graph: Graph, node_ids: Iterable[str]) -> str:
    """:func:`fragment_to_dict` as text for the clipboard."""
    return _render(fragment_to_dict(graph, node_ids), 0, True) + "\n"


#: A level's structure with node ids replaced by positions, to compare bodies by.
_Structure = tuple[list[dict[str, Any]], list[tuple[Any, ...]]]


class _Writer:
    """Writes graph levels as JSON data, each level once, so saving is linear in size.

    A composite's body is left out where the reader would rebuild it as it is: its
    structure (ids replaced by positions) equals that of the body its parameters generate.
    Structures are built bottom-up with the data, and a generated body's structure once
    per block type and parameters.
    """

    def __init__(self) -> None:
        self._generated: dict[tuple[str, str], _Structure] = {}

    def level(self, graph: Graph) -> tuple[dict[str, Any], _Structure]:
        """A level's JSON data and its structure."""
        position = {nid: k for k, nid in enumerate(graph.nodes)}
        pairs = [self.node(graph, node, position[node.id]) for node in graph.nodes.values()]
        edges = _edges_to_dicts(graph, graph.edges)
        structure = ([shape for _, shape in pairs],
                     [(position[e["source"]], position[e["target"]], e.get("source_port"),
                       e.get("target_port")) for e in edges])
        return {"nodes": [data for data, _ in pairs], "edges": edges}, structure

    def node(self, graph: Graph, node: Node, index: int) -> tuple[dict[str, Any], Any]:
        """A node's JSON data and its structure (``index``: its position in its level)."""
        out = _node_fields(graph, node)
        shape = {**out, "id": index}
        if node.body is not None:
            body, body_shape = self.level(node.body)
            if not self._is_default(graph, node, body_shape):
                out["body"], shape["body"] = body, body_shape
        return out, shape

    def _is_default(self, graph: Graph, node: Node, structure: _Structure) -> bool:
        """Whether the reader would rebuild ``node.body`` (of ``structure``) as it is."""
        assert node.body is not None
        if node.type == GROUP:
            return not node.body.nodes
        spec = graph.spec(node)
        if not spec.is_composite:
            return False
        key = (node.type, repr(sorted(node.resolved.items())))
        if key not in self._generated:
            self._generated[key] = self.level(spec.body(node.resolved))[1]
        return structure == self._generated[key]


def _node_fields(graph: Graph, node: Node) -> dict[str, Any]:
    """A node's JSON data, its body left out."""
    spec = graph.spec(node)
    out: dict[str, Any] = {"id": node.id, "type": node.type, "name": node.name}
    if node.params:
        order = [p.name for p in spec.params]
        out["params"] = {k: node.params[k] for k in sorted(
            node.params, key=lambda k: order.index(k) if k in order else len(order))}
    if node.pos != (0.0, 0.0):
        out["pos"] = [_number(node.pos[0]), _number(node.pos[1])]
    if node.frozen:
        out["frozen"] = True
    if node.init is not None:
        out["init"] = node.init
    if not node.collapsed:
        out["collapsed"] = False
    return out


def _number(value: float) -> int | float:
    """Whole coordinates are written without ``.0`` (read back as the same float)."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def _edges_to_dicts(graph: Graph, edges: Iterable[Edge]) -> list[dict[str, Any]]:
    """Edges in order, each port left out where the reader would choose the same one."""
    used: dict[str, set[str]] = {}
    out = []
    for edge in edges:
        item = {"source": edge.source, "target": edge.target}
        outputs = graph.output_ports(graph.nodes[edge.source])
        if not outputs or edge.source_port != outputs[0]:
            item["source_port"] = edge.source_port
        taken = used.setdefault(edge.target, set())
        inputs = graph.input_ports(graph.nodes[edge.target])
        if edge.target_port != default_target_port(inputs, taken):
            item["target_port"] = edge.target_port
        taken.add(edge.target_port)
        out.append(item)
    return out


def _render(value: Any, indent: int, expand: bool, lead: int = 0) -> str:
    """JSON text of ``value`` starting ``lead`` characters after ``indent`` spaces.

    Containers go on one line where that line fits in the width; the structure of a
    graph (levels, node and edge lists, nodes with a body) is always laid out one item
    per line.
    """
    if not expand and not (isinstance(value, dict) and "body" in value):
        flat = json.dumps(value, ensure_ascii=False, allow_nan=False)
        if not isinstance(value, (dict, list, tuple)) or indent + lead + len(flat) < _WIDTH:
            return flat
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            name = json.dumps(str(key), ensure_ascii=False) + ": "
            items.append(inner + name + _render(item, indent + 2, key in _EXPANDED, len(name)))
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [inner + _render(item, indent + 2, False) for item in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"
