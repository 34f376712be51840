"""Building the graph of a classified trace: one group per module call, nested as the model.

Every traced node carries the stack of module calls it was made in (``torch.fx``'s
``nn_module_stack``). :class:`GraphBuilder` gives each call a *level*: the root graph for
the model itself, a ``group`` node (named by the module's attribute name) whose body is a
graph for every other call, nested as the calls were. Blocks go into the level of the call
they belong to; a tensor made in one level and used in another travels through group
ports, created as they are needed: ``group_output`` nodes (``out``, ``out_1``...) up to
the closest level holding both, then ``group_input`` nodes (``x``, ``x_1``...) down.

Module nodes keep their module's name, so the compiled graph's ``state_dict`` keys are the
model's. Names a graph refuses (``_fc``, ``type``...) are changed and the key mapping
records it. Other nodes take the name of their call (``add``, ``cat``, ``flatten``),
numbered within their level, never taking a name a module of that level needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torch import fx, nn

from netbuilder.compiler.build import RESERVED_NAMES as MODULE_RESERVED
from netbuilder.compiler.fx_import import Plan
from netbuilder.compiler.module_map import BlockCall
from netbuilder.core.graph import RESERVED_NAMES, Graph, Node
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT

#: A value as seen in one level: the node providing it and its output port.
Handle = tuple[str, str]
_INVALID = re.compile(r"[^A-Za-z0-9_]")
_NUMBERED = re.compile(r"_\d+$")


def valid_name(name: str) -> bool:
    """Whether ``name`` can name a node: the graph's and the compiler's rules."""
    return (bool(name) and not _INVALID.search(name) and not name.startswith("_")
            and name not in RESERVED_NAMES and name not in MODULE_RESERVED)


def legal_name(name: str) -> str:
    """``name`` made legal: ``layer.0`` → ``layer_0``, ``_fc`` → ``m_fc``, ``type`` → ``type_``."""
    name = _INVALID.sub("_", name) or "node"
    if name.startswith("_"):
        name = "m" + name
    return name if valid_name(name) else name + "_"


@dataclass
class Level:
    """One graph level under construction: the root or the body of a module call's group.

    Attributes:
        graph: The graph of the level.
        key: The module-call keys from the root down to this call.
        path: Qualified name of the module called ("" for the model).
        names: Node names of the groups from the root down to this level.
        parent: The enclosing level.
        group: This level's group node in the parent.
        reserved: Names the module's children need (kept for their nodes).
        values: Where each traced value is available in this level.
        exports: Output port of this level's group carrying each exported value.
    """

    graph: Graph
    key: tuple[str, ...]
    path: str
    names: tuple[str, ...] = ()
    parent: Level | None = None
    group: Node | None = None
    reserved: set[str] = field(default_factory=set)
    values: dict[fx.Node, Handle] = field(default_factory=dict)
    exports: dict[fx.Node, str] = field(default_factory=dict)

    def claim(self, base: str, *, own: bool = False) -> str:
        """A free node name from ``base``; ``own``: the name of one of the module's children."""
        base = legal_name(base)
        taken = {n.name for n in self.graph.nodes.values()}
        if base not in taken and (own or base not in self.reserved):
            return base
        stem, k = _NUMBERED.sub("", base) or base, 1
        while f"{stem}_{k}" in taken or f"{stem}_{k}" in self.reserved:
            k += 1
        return f"{stem}_{k}"


class GraphBuilder:
    """Builds the graph of a model from its classified trace.

    Attributes:
        module_paths: Qualified module name → dotted node path in the graph, for every
            module that became a node (the key mapping of the weights).
        opaque_paths: Dotted node path of every opaque node → its local module and tensor
            names → the model's module names and ``state_dict`` keys.
    """

    def __init__(self, model: nn.Module, plan: Plan, input_shape: tuple[int, ...]) -> None:
        self.model, self.plan, self.input_shape = model, plan, input_shape
        self.graph = Graph()
        self.root = Level(self.graph, (), "", reserved=_children(model))
        self.levels: dict[tuple[str, ...], Level] = {(): self.root}
        self.home: dict[fx.Node, Level] = {}
        self.module_paths: dict[str, str] = {}
        self.module_calls: dict[str, BlockCall] = {}  # qualified module name → its block
        self.opaque_paths: dict[str, dict[str, str]] = {}

    def build(self, traced: fx.Graph) -> Graph:
        """Add every mapped node of ``traced``, in order; return the graph."""
        with self.graph.batch():
            for node in traced.nodes:
                if node.op == "placeholder" and not self.home:
                    self._input(node)
                elif node in self.plan.calls:
                    self._call(node)
                elif node.op == "output":
                    self._outputs(node)
        return self.graph

    # -- nodes ------------------------------------------------------------------------
    def _input(self, node: fx.Node) -> None:
        name = self.root.claim(node.name)
        created = self.graph.add(INPUT, name, shape=self.input_shape)
        self._provide(self.root, node, (created.id, "out"))

    def _outputs(self, node: fx.Node) -> None:
        result = node.args[0]
        values = result if isinstance(result, (tuple, list)) else (result,)
        for value in values:
            assert isinstance(value, fx.Node)
            handle = self.handle(self.root, value)
            created = self.graph.add(OUTPUT, self.root.claim("output"))
            self.graph.connect(handle[0], created.id, handle[1], "in")

    def _call(self, node: fx.Node) -> None:
        level = self.level(_scope(node))
        steps = self.plan.calls[node]
        sources = [self.handle(level, v) for v in self.plan.inputs[node]]
        module = self.plan.modules.get(node)
        last: Node | None = None
        for index, step in enumerate(steps):
            name = self._module_name(level, node) if module and index == 0 else \
                level.claim(step.name or _NUMBERED.sub("", node.name))
            last = self._block(level, step, name, sources)
            sources = [(last.id, "out")]
            if module and index == 0:
                self.module_paths[module] = ".".join((*level.names, last.name))
                self.module_calls[module] = step
        assert last is not None
        if node in self.plan.opaque:
            self.opaque_paths[".".join((*level.names, last.name))] = self.plan.opaque[node]
        self._provide(level, node, (last.id, "out"))
        for part, port in self.plan.ports.get(node, {}).items():  # the parts of a split
            self._provide(level, part, (last.id, port))

    def _module_name(self, level: Level, node: fx.Node) -> str:
        """The module's attribute name within its level (numbered on a repeated call)."""
        target = str(node.target)
        key = next(reversed(node.meta.get("nn_module_stack", {target: None})))
        name = _relative(target, level.path)
        calls = key.rpartition("@")[2] if "@" in key else ""
        return level.claim(f"{name}_{calls}" if calls else name, own=not calls)

    def _block(self, level: Level, step: BlockCall, name: str,
               sources: list[Handle]) -> Node:
        defaults = level.graph.registry.get(step.block).defaults()
        params = {k: v for k, v in step.params.items() if k not in defaults or v != defaults[k]
                  or type(v) is not type(defaults[k])}
        node = level.graph.add(step.block, name, **params)
        port = level.graph.input_ports(node)[0].name
        for source in sources:
            if any(e.source == source[0] and e.source_port == source[1]
                   for e in level.graph.in_edges(node.id)):
                source = self._copy(level, source, name)
            level.graph.connect(source[0], node.id, source[1], port)
        return node

    def _copy(self, level: Level, source: Handle, name: str) -> Handle:
        """An identity node passing ``source`` on, so one value can feed a block twice."""
        node = level.graph.add("identity", level.claim(f"{name}_input"))
        level.graph.connect(source[0], node.id, source[1], "in")
        return node.id, "out"

    def _provide(self, level: Level, value: fx.Node, handle: Handle) -> None:
        level.values[value] = handle
        self.home[value] = level

    # -- levels and ports ---------------------------------------------------------------
    def level(self, scope: list[tuple[str, str]]) -> Level:
        """The level of a call made inside the module calls ``scope`` (created as needed)."""
        current = self.root
        for key, path in scope:
            child = self.levels.get((*current.key, key))
            if child is None:
                child = self._group(current, key, path)
            current = child
        return current

    def _group(self, parent: Level, key: str, path: str) -> Level:
        name = _relative(path, parent.path)
        calls = key.rpartition("@")[2] if "@" in key else ""
        node = parent.graph.add(GROUP, parent.claim(f"{name}_{calls}" if calls else name,
                                                    own=not calls))
        assert node.body is not None
        level = Level(node.body, (*parent.key, key), path, (*parent.names, node.name), parent,
                      node, _children(self.model.get_submodule(path)))
        self.levels[level.key] = level
        return level

    def handle(self, level: Level, value: fx.Node) -> Handle:
        """Where ``value`` is available in ``level``, adding the group ports it needs."""
        if value in level.values:
            return level.values[value]
        home = self.home[value]
        if home.key[:len(level.key)] == level.key:
            child = self.levels[home.key[:len(level.key) + 1]]
            assert child.group is not None
            handle: Handle = (child.group.id, self._export(child, value))
        else:
            handle = self._import(level, value)
        level.values[value] = handle
        return handle

    def _export(self, level: Level, value: fx.Node) -> str:
        """The output port of ``level``'s group carrying ``value`` (added if missing)."""
        if value not in level.exports:
            inner = self.handle(level, value)
            port = level.graph.add(GROUP_OUTPUT, level.claim("out"))
            level.graph.connect(inner[0], port.id, inner[1], "in")
            level.exports[value] = port.name
        return level.exports[value]

    def _import(self, level: Level, value: fx.Node) -> Handle:
        """An input port of ``level``'s group bringing ``value`` in from the parent."""
        parent, group = level.parent, level.group
        assert parent is not None and group is not None
        outer = self.handle(parent, value)
        port = level.graph.add(GROUP_INPUT, level.claim("x"))
        parent.graph.connect(outer[0], group.id, outer[1], port.name)
        return port.id, "out"


def _scope(node: fx.Node) -> list[tuple[str, str]]:
    """The module calls a traced node was made in: ``(call key, qualified name)`` pairs."""
    stack = [(str(key), str(value[0])) for key, value in
             node.meta.get("nn_module_stack", {}).items()]
    return stack[:-1] if node.op == "call_module" else stack


def _relative(path: str, parent: str) -> str:
    """``layer1.0`` within ``layer1`` → ``0``."""
    return path[len(parent) + 1:] if parent and path.startswith(parent + ".") else path


def _children(module: nn.Module) -> set[str]:
    return {legal_name(name) for name, _ in module.named_children()}
