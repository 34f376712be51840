"""Strict reading of project files and clipboard fragments (used by :mod:`.serialize`).

Every check raises :class:`~netbuilder.core.errors.ProjectFileError` whose field is the
JSON path of the offending value (``graph.nodes[3].params.kernel_size``), so a person can
find and fix it in a text editor. The reader builds detached :class:`Graph` levels; the
caller moves them into a document.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from netbuilder.core.errors import GraphError, ProjectFileError
from netbuilder.core.graph import MAX_COORDINATE, Edge, Graph, Node
from netbuilder.core.names import NameIndex
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT, BlockSpec, PortSpec

PROJECT_FORMAT = "netbuilder-project"
FRAGMENT_FORMAT = "netbuilder-fragment"
#: The format version this code writes and the newest it reads.
FORMAT_VERSION = 1
#: Deepest nesting of groups inside groups.
MAX_GROUP_DEPTH = 64
#: Deepest nesting of JSON arrays and objects anywhere in a file.
MAX_JSON_DEPTH = 4 * MAX_GROUP_DEPTH + 64

TOP_KEYS = {
    PROJECT_FORMAT: ("format", "format_version", "graph", "training", "meta"),
    FRAGMENT_FORMAT: ("format", "format_version", "nodes", "edges"),
}
GRAPH_KEYS = ("nodes", "edges")
NODE_KEYS = ("id", "type", "name", "params", "pos", "frozen", "init", "collapsed", "body")
EDGE_KEYS = ("source", "target", "source_port", "target_port")


class _Rejected(ValueError):
    """A JSON value that parses but that a project file may not contain."""

    def __init__(self, message: str, token: str = "") -> None:
        super().__init__(message)
        self.token = token


def fail(path: str, message: str) -> NoReturn:
    """Raise the error for the value at JSON path ``path`` (one printable line)."""
    raise ProjectFileError(printable(message), printable(path))


def printable(text: str) -> str:
    """``text`` with line breaks and other control characters written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


# -- JSON ---------------------------------------------------------------------------------
def parse_json(text: str) -> Any:
    """Parse strict JSON: no NaN/Infinity, no duplicate keys, bounded nesting.

    Raises:
        ProjectFileError: with line and column for a syntax error.
    """
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                          parse_int=_bounded_int, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(_syntax_message(exc)) from None
    except _Rejected as exc:
        where = _locate(text, exc.token) if exc.token else ""
        raise ProjectFileError(printable(f"{exc}{where}")) from None
    except RecursionError:
        raise ProjectFileError("the file is nested too deeply") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise ProjectFileError(f"the file is nested more than {MAX_JSON_DEPTH} levels deep")
    return data


def _syntax_message(exc: json.JSONDecodeError) -> str:
    where = f"line {exc.lineno}, column {exc.colno}"
    if not exc.doc.strip():
        return "the file is empty"
    if exc.msg.startswith("Unterminated string"):
        return f"the file ends inside the text that starts at {where} (is it truncated?)"
    if exc.pos >= len(exc.doc.rstrip()):
        return f"the file ends too early at {where} (is it truncated?): {exc.msg}"
    return f"not valid JSON at {where}: {exc.msg}"


_STRING = r'"(?:\\.|[^"\\])*"'


def _locate(text: str, token: str) -> str:
    """Where ``token`` first appears outside a string, as `` at line L, column C``."""
    pattern = re.compile(f"{_STRING}|(?<![\\w.+-])({re.escape(token)})(?![\\w.])")
    for match in pattern.finditer(text):
        if match.group(1):
            line = text.count("\n", 0, match.start()) + 1
            column = match.start() - text.rfind("\n", 0, match.start())
            return f" at line {line}, column {column}"
    return ""


def _reject_constant(name: str) -> Any:
    raise _Rejected(f"{name} is not allowed in a project file (numbers must be finite)", name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected(f"the number {text[:30]} is too large", text)
    return value


def _bounded_int(text: str) -> int:
    if len(text) > 400:
        raise _Rejected(f"the number {text[:30]}… has too many digits", text)
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Rejected(f'the key "{key}" appears twice in the same object')
        out[key] = value
    return out


def _depth(value: Any) -> int:
    """Nesting depth of arrays and objects, without recursion."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest, stack = 1, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = [c for c in (item.values() if isinstance(item, dict) else item)
                    if isinstance(c, (dict, list))]
        if children:
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in children)
    return deepest


# -- small checks -------------------------------------------------------------------------
def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _suggest(word: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(word, known, n=1)
    if close:
        return f' (did you mean "{close[0]}"?)'
    return f" (expected one of: {', '.join(known)})" if 0 < len(known) <= 12 else ""


def object_at(value: Any, path: str, keys: Sequence[str],
              unknown: str = "unknown key") -> dict[str, Any]:
    """``value`` checked to be an object whose keys are all among ``keys``."""
    if not isinstance(value, dict):
        fail(path, f"must be an object, not {_kind(value)}")
    for key in value:
        if key not in keys:
            fail(_join(path, key), unknown + _suggest(key, keys))
    return value


def list_at(value: Any, path: str) -> list[Any]:
    """``value`` checked to be a list."""
    if not isinstance(value, list):
        fail(path, f"must be a list, not {_kind(value)}")
    return value


def default_target_port(ports: Sequence[PortSpec], used: Iterable[str]) -> str | None:
    """The input port an edge without ``target_port`` goes to: the first free one."""
    taken = set(used)
    for port in ports:
        if port.multi or port.name not in taken:
            return port.name
    return ports[0].name if ports else None


@dataclass
class _Head:
    """The identity of a node being read: where it is, its data, id and block."""

    path: str
    data: dict[str, Any]
    id: str
    spec: BlockSpec


# -- the reader ------------------------------------------------------------------------------
class Reader:
    """Validates JSON data and builds detached graph levels from it.

    Args:
        registry: Blocks that node types refer to.
        ports_at_top: Whether ``group_input``/``group_output`` nodes may appear at the top
            level (true for clipboard fragments, which may be pasted into a group body).
    """

    def __init__(self, registry: BlockRegistry, ports_at_top: bool) -> None:
        self.registry = registry
        self.ports_at_top = ports_at_top
        #: Bodies generated for composite nodes written without one.
        self.generated: list[Graph] = []

    @staticmethod
    def top_object(data: Any, expected: str) -> dict[str, Any]:
        """The top-level object, checked for format, version and unknown keys."""
        if not isinstance(data, dict):
            fail("", f"the file must hold a JSON object, not {_kind(data)}")
        if "format" not in data:
            fail("format", f'missing (expected "{expected}"; is this a NetBuilder file?)')
        if data["format"] != expected:
            fail("format", f'expected "{expected}", got {json.dumps(data["format"])[:60]}')
        version = data.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            fail("format_version", "missing or not a positive integer" if version is None
                 else f"must be a positive integer, got {json.dumps(version)[:30]}")
        if version > FORMAT_VERSION:
            fail("format_version", f"the file was made by a newer NetBuilder (format version "
                                   f"{version}; this one reads up to {FORMAT_VERSION})")
        return object_at(data, "", TOP_KEYS[expected])

    @staticmethod
    def plain_object(value: Any, path: str) -> dict[str, Any]:
        """Free-form settings (``training``, ``meta``): any JSON object."""
        if not isinstance(value, dict):
            fail(path, f"must be an object, not {_kind(value)}")
        return value

    def level(self, data: Any, path: str, depth: int = 0) -> Graph:
        """A detached graph level built from ``{"nodes": [...], "edges": [...]}``."""
        if depth > MAX_GROUP_DEPTH:
            fail(path, f"groups are nested more than {MAX_GROUP_DEPTH} deep")
        obj = object_at(data, path, GRAPH_KEYS)
        nodes_path, edges_path = _join(path, "nodes"), _join(path, "edges")
        heads = self._heads(list_at(obj.get("nodes", []), nodes_path), nodes_path, depth)
        level = Graph(self.registry)
        for head, name in zip(heads, self._names(level, heads), strict=True):
            level.nodes[head.id] = self._node(head, name, depth)
        level.edges = _EdgeReader(level, edges_path).read(
            list_at(obj.get("edges", []), edges_path))
        return level

    # -- nodes ------------------------------------------------------------------------------
    def _heads(self, items: list[Any], path: str, depth: int) -> list[_Head]:
        heads: list[_Head] = []
        seen: dict[str, str] = {}
        for k, item in enumerate(items):
            here = f"{path}[{k}]"
            data = object_at(item, here, NODE_KEYS)
            node_id = self._id(data, here, seen)
            heads.append(_Head(here, data, node_id, self._spec(data, here, depth)))
        return heads

    @staticmethod
    def _id(data: dict[str, Any], path: str, seen: dict[str, str]) -> str:
        if "id" not in data:
            fail(path, 'missing "id"')
        node_id = data["id"]
        if not isinstance(node_id, str) or not node_id.strip() or len(node_id) > 200 \
                or not node_id.isprintable():
            fail(_join(path, "id"), "must be non-empty printable text of at most 200 "
                                    "characters")
        if node_id in seen:
            fail(_join(path, "id"), f'"{node_id}" is already the id of {seen[node_id]}')
        seen[node_id] = path
        return node_id

    def _spec(self, data: dict[str, Any], path: str, depth: int) -> BlockSpec:
        if "type" not in data:
            fail(path, 'missing "type"')
        key = data["type"]
        if not isinstance(key, str) or key not in self.registry:
            shown = json.dumps(key)[:60]
            fail(_join(path, "type"),
                 f"unknown block type {shown}" + _suggest(str(key), self.registry.keys()))
        spec = self.registry.get(key)
        if spec.key in (GROUP_INPUT, GROUP_OUTPUT) and depth == 0 and not self.ports_at_top:
            fail(_join(path, "type"), f"{spec.key} nodes belong inside a group body")
        return spec

    @staticmethod
    def _names(level: Graph, heads: list[_Head]) -> list[str]:
        """Each node's name: as written (legal, unique) or a fresh default."""
        given: dict[str, str] = {}
        for head in heads:
            if "name" in head.data:
                name, where = head.data["name"], _join(head.path, "name")
                if not isinstance(name, str):
                    fail(where, f"must be text, not {_kind(name)}")
                try:
                    level.check_name(name)
                except GraphError as exc:
                    fail(where, exc.message)
                if name in given:
                    fail(where, f'"{name}" is already the name of {given[name]}')
                given[name] = head.path
        taken = NameIndex(given)
        return [head.data.get("name") or taken.take(head.spec.default_name or head.spec.key)
                for head in heads]

    def _node(self, head: _Head, name: str, depth: int) -> Node:
        data, path, spec = head.data, head.path, head.spec
        resolved = _params(spec, data.get("params", {}), _join(path, "params"))
        node = Node(head.id, spec.key, name, {k: resolved[k] for k in data.get("params", {})},
                    pos=_pos(data.get("pos", [0, 0]), _join(path, "pos")),
                    frozen=_flag(data, "frozen", False, path),
                    init=_init(data.get("init"), _join(path, "init")),
                    collapsed=_flag(data, "collapsed", True, path), resolved=resolved)
        node.body = self._body(head, resolved, depth)
        return node

    def _body(self, head: _Head, resolved: dict[str, Any], depth: int) -> Graph | None:
        where, spec = _join(head.path, "body"), head.spec
        if "body" in head.data:
            if spec.key != GROUP and not spec.is_composite:
                fail(where, f"a {spec.key} node has no body (only groups and composite blocks)")
            return self.level(head.data["body"], where, depth + 1)
        if spec.key == GROUP:
            return Graph(self.registry)
        if not spec.is_composite:
            return None
        try:
            body = spec.body(resolved)
        except (GraphError, ValueError) as exc:
            fail(_join(head.path, "params"), f"cannot build the {spec.key} body: {exc}")
        self.generated.append(body)
        return body


def _params(spec: BlockSpec, value: Any, path: str) -> dict[str, Any]:
    """Every parameter of ``spec``, the file's values validated over the defaults."""
    given = object_at(value, path, [p.name for p in spec.params],
                      f"{spec.key} has no such parameter")
    full = spec.defaults()
    for name, raw in given.items():
        try:
            full[name] = spec.param(name).validate(raw, "")
        except GraphError as exc:
            why = exc.message.rsplit(": ", 1)[-1] if exc.message.startswith(name) else exc.message
            fail(_join(path, name), f"{why} (got {json.dumps(raw)[:60]})")
    try:
        spec.check(full, "")
    except GraphError as exc:
        fail(path, exc.message)
    return full


def _pos(value: Any, path: str) -> tuple[float, float]:
    ok = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool)
        and -MAX_COORDINATE <= v <= MAX_COORDINATE for v in value)
    if not ok:
        fail(path, f"must be [x, y] with two numbers between -{MAX_COORDINATE:.0e} and "
                   f"{MAX_COORDINATE:.0e}, got {json.dumps(value)[:60]}")
    return float(value[0]), float(value[1])


def _flag(data: dict[str, Any], key: str, default: bool, path: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        fail(_join(path, key), f"must be true or false, not {_kind(value)}")
    return value


def _init(value: Any, path: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        fail(path, f'must be an object such as {{"scheme": "normal", "std": 0.01}}, '
                   f"not {_kind(value)}")
    return value


class _EdgeReader:
    """Reads the edges of one level: nodes exist, ports exist, single inputs used once."""

    def __init__(self, level: Graph, path: str) -> None:
        self.level, self.path = level, path
        self.used: dict[str, dict[str, str]] = {}
        self.seen: dict[Edge, str] = {}

    def read(self, items: list[Any]) -> list[Edge]:
        """The edges, in file order (the input order of multi-input blocks)."""
        return [self._edge(item, f"{self.path}[{k}]") for k, item in enumerate(items)]

    def _edge(self, item: Any, path: str) -> Edge:
        data = object_at(item, path, EDGE_KEYS)
        source = self._node(data, "source", path)
        target = self._node(data, "target", path)
        edge = Edge(source.id, target.id, self._source_port(data, source, path),
                    self._target_port(data, target, path))
        if edge in self.seen:
            fail(path, f"the same connection is already listed at {self.seen[edge]}")
        self.seen[edge] = path
        self.used.setdefault(target.id, {})[edge.target_port] = source.id
        return edge

    def _node(self, data: dict[str, Any], key: str, path: str) -> Node:
        if key not in data:
            fail(path, f'missing "{key}"')
        node_id = data[key]
        if not isinstance(node_id, str) or node_id not in self.level.nodes:
            fail(_join(path, key), f"no node {json.dumps(node_id)[:60]} in this graph")
        return self.level.nodes[node_id]

    def _port(self, data: dict[str, Any], key: str, path: str, default: str | None) -> str:
        port = data.get(key, default)
        if port is not None and not isinstance(port, str):
            fail(_join(path, key), f"must be text, not {_kind(port)}")
        return port or ""

    def _source_port(self, data: dict[str, Any], node: Node, path: str) -> str:
        ports = self.level.output_ports(node)
        if not ports:
            fail(_join(path, "source"), f'node "{node.id}" ({node.type}) has no outputs')
        port = self._port(data, "source_port", path, ports[0])
        if port not in ports:
            fail(_join(path, "source_port"), f'node "{node.id}" has no output "{port}"'
                 + _suggest(port, ports))
        return port

    def _target_port(self, data: dict[str, Any], node: Node, path: str) -> str:
        ports = self.level.input_ports(node)
        if not ports:
            fail(_join(path, "target"), f'node "{node.id}" ({node.type}) has no inputs')
        used = self.used.get(node.id, {})
        port = self._port(data, "target_port", path, default_target_port(ports, used))
        spec = {p.name: p for p in ports}.get(port)
        if spec is None:
            fail(_join(path, "target_port"), f'node "{node.id}" has no input "{port}"'
                 + _suggest(port, [p.name for p in ports]))
        if not spec.multi and port in used:
            fail(_join(path, "target_port" if "target_port" in data else "target"),
                 f'input "{port}" of node "{node.id}" is already connected to '
                 f'node "{used[port]}"')
        return port
