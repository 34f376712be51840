"""Export a graph as a standalone, readable Python file defining the same network.

The file imports only ``torch`` (and, where a block uses one, a class of another library
such as ``torchvision.ops.StochasticDepth``); NetBuilder's own module classes (merges,
channel padding) are copied into it. It defines one ``nn.Module`` class per distinct
group body (identical bodies, like the repeated blocks of a ResNet stage, share a class)
and the network class, whose ``__init__`` assigns submodules by node name and whose
``forward`` is plain statements in execution order::

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x)
        h = self.bn1(h)
        ...

The network has exactly the ``state_dict`` keys and shapes of
:func:`~netbuilder.compiler.build.compile_graph`'s module, so weights saved from
NetBuilder load into it and give equal outputs. :func:`to_source` checks this on the
meta device before returning.
"""

from __future__ import annotations

import contextlib
import keyword
import re
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from netbuilder.compiler.build import compile_graph
from netbuilder.compiler.errors import SourceExportError
from netbuilder.compiler.module import GraphModule
from netbuilder.compiler.plan import Plan, Value, make_plan
from netbuilder.compiler.reflect import INDENT, WIDTH, Call, ModuleWriter, literal
from netbuilder.core.analysis import Analysis
from netbuilder.core.graph import Graph, Node
from netbuilder.core.shapes import format_shape

_TENSOR = "torch.Tensor"
#: Candidate names of the variable carrying a chain of single-use values.
_CHAIN_NAMES = ("x", "h", "y", "z", "out", "hidden")
_BASE_RESERVED = frozenset(("self", "torch", "nn", "super", "tuple"))


def class_name_for(title: str) -> str:
    """A Python class name made from a title: ``ResNet-18`` → ``ResNet18``."""
    parts = re.findall(r"[A-Za-z0-9]+", title)
    name = "".join(part[0].upper() + part[1:] for part in parts) or "Net"
    if name[0].isdigit():
        name = f"Net{name}"
    return f"{name}Net" if keyword.iskeyword(name) else name


@contextlib.contextmanager
def quiet_meta_checkpoints() -> Iterator[None]:
    """Silence torch's warnings about loading a ``checkpoint`` init on the meta device.

    Source export compiles the graph on the meta device, where loading a layer's weights
    file is a no-op that torch warns about once per tensor.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-meta parameter in the checkpoint")
        yield


def to_source(graph: Graph, class_name: str = "Net", *,
              analysis: Analysis | None = None) -> str:
    """Python source of a standalone module equivalent to ``compile_graph(graph)``.

    Args:
        graph: The root graph.
        class_name: Name of the network class (a Python identifier).
        analysis: The graph's current analysis, if already computed.

    Raises:
        CompileError: when the graph cannot be compiled.
        SourceExportError: when a block's module cannot be written as source.
        ValueError: when ``class_name`` is not a valid class name.
    """
    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise ValueError(f"{class_name!r} is not a valid Python class name")
    with torch.device("meta"):
        compiled = compile_graph(graph, analysis=analysis)
    text = _FileWriter(graph, compiled, class_name).render()
    _verify(text, class_name, compiled)
    return text


def export_source(graph: Graph, path: str | Path, class_name: str = "Net") -> Path:
    """Write :func:`to_source` of ``graph`` to ``path``; return the path."""
    path = Path(path)
    path.write_text(to_source(graph, class_name), encoding="utf-8")
    return path


# -- the file ------------------------------------------------------------------------------
class _FileWriter:
    """Assembles the file: imports, copied helpers, group classes, network class."""

    def __init__(self, graph: Graph, compiled: GraphModule, class_name: str) -> None:
        self.graph, self.compiled, self.class_name = graph, compiled, class_name
        self.modules = ModuleWriter()
        self.calls: dict[str, Call] = {}
        self.classes: list[list[str]] = []
        self.by_body: dict[str, str] = {}
        self.users: dict[str, list[str]] = {}
        self.taken: set[str] = set()

    def render(self) -> str:
        self._reflect_blocks(self.graph, self.compiled, "", top=True)
        self.modules.imports.add_name("__future__", "annotations")
        self.modules.imports.add_module("torch")
        self.modules.imports.add_name("torch", "nn")
        self.taken = self.modules.module_names() | {self.class_name} | _BASE_RESERVED
        root = _ClassWriter(self, self.graph, self.compiled, top=True).body()
        docs = _root_doc(self.compiled)
        blocks = [*self.modules.inliner.render(), *self._group_classes(),
                  _class_lines(self.class_name, docs, root)]
        head = [f'"""{self.class_name}: a PyTorch network exported by NetBuilder.', "",
                f"Load weights saved by NetBuilder with ``{self.class_name}()"
                ".load_state_dict(state_dict)``.", '"""', "",
                *self.modules.imports.render()]
        parts = [head, *blocks]
        return "\n\n\n".join("\n".join(p) for p in parts) + "\n"

    def _reflect_blocks(self, graph: Graph, module: GraphModule, prefix: str,
                        top: bool) -> None:
        for step in make_plan(graph, top=top).steps:
            node = step.node
            child = module.get_submodule(node.name)
            where = prefix + node.name
            if node.body is not None:
                assert isinstance(child, GraphModule)
                self._reflect_blocks(node.body, child, where + ".", top=False)
            else:
                self.calls[node.id] = self.modules.call(child, where)

    def group_class(self, graph: Graph, node: Node, module: GraphModule) -> str:
        """The name of the class of group ``node``, writing the class if it is new."""
        assert node.body is not None
        body = _ClassWriter(self, node.body, module, top=False).body()
        key = "\n".join(body)
        path = ".".join((*graph.path(), node.name))
        if key not in self.by_body:
            name = _unique(_class_base(graph, node), self.taken)
            self.taken.add(name)
            self.by_body[key] = name
            self.users[name] = []
            self.classes.append([name, key, graph.spec(node).key])
        self.users[self.by_body[key]].append(path)
        return self.by_body[key]

    def _group_classes(self) -> Iterator[list[str]]:
        for name, key, kind in self.classes:
            users = self.users[name]
            shown = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3
                                            else "")
            noun = "group" if kind == "group" else f"``{kind}`` group"
            yield _class_lines(name, [f"The {noun} {shown}."], key.split("\n"))


def _class_lines(name: str, doc: list[str], body: list[str]) -> list[str]:
    """A class with docstring paragraphs ``doc`` (wrapped to the line length) and ``body``."""
    lines = [f"class {name}(nn.Module):"]
    text: list[str] = []
    for paragraph in doc:
        text += [*([""] if text else []),
                 *textwrap.wrap(paragraph, WIDTH - len(INDENT) - 3, break_long_words=False,
                                break_on_hyphens=False)]
    if len(text) == 1:
        lines.append(f'{INDENT}"""{text[0]}"""')
    else:
        lines += [f'{INDENT}"""{text[0]}', *[f"{INDENT}{t}" if t else "" for t in text[1:]],
                  f'{INDENT}"""']
    return [*lines, "", *body]


def _root_doc(compiled: GraphModule) -> list[str]:
    ins = ", ".join(format_shape(s).replace("×", "x") for s in compiled.input_shapes)
    outs = ", ".join(format_shape(s).replace("×", "x") for s in compiled.output_shapes)
    return ["The network, as drawn in NetBuilder.",
            f"Input per sample: {ins}. Output per sample: {outs}."]


def _class_base(graph: Graph, node: Node) -> str:
    source = node.name if node.type == "group" else node.type
    base = "".join(part[:1].upper() + part[1:] for part in source.split("_") if part)
    return base if base.isidentifier() else f"Group{base}"


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken and not keyword.iskeyword(base):
        return base
    k = 2
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"


# -- one class -----------------------------------------------------------------------------
class _ClassWriter:
    """Writes ``__init__`` and ``forward`` of one graph level."""

    def __init__(self, file: _FileWriter, graph: Graph, module: GraphModule,
                 top: bool) -> None:
        self.file, self.graph, self.module = file, graph, module
        self.plan: Plan = make_plan(graph, top=top)
        self.names = _Variables(self.plan, file.taken)

    def body(self) -> list[str]:
        return [*self._init(), "", *self._forward()]

    def _init(self) -> list[str]:
        lines = [f"{INDENT}def __init__(self) -> None:", f"{INDENT * 2}super().__init__()"]
        for step in self.plan.steps:
            node = step.node
            call = self._constructor(node)
            if _plain(node.name):
                lines += call.render(INDENT * 2, f"self.{node.name} = ")
            else:
                lines += Call("self.add_module", (literal(node.name, ""), call)).render(INDENT * 2)
        return lines

    def _constructor(self, node: Node) -> Call:
        if node.body is None:
            return self.file.calls[node.id]
        child = self.module.get_submodule(node.name)
        assert isinstance(child, GraphModule)
        return Call(self.file.group_class(self.graph, node, child))

    def _forward(self) -> list[str]:
        args = [f"{self.names.of(v)}: {_TENSOR}" for v in self.plan.input_values]
        count = len(self.plan.outputs)
        result = _TENSOR if count == 1 else f"tuple[{', '.join([_TENSOR] * count) or '()'}]"
        lines = _signature(args, result)
        for step in self.plan.steps:
            lines += self._statement(step.node, step.args, step.outs)
        returned = ", ".join(self.names.of(v) for v in self.plan.outputs) or "()"
        return [*lines, f"{INDENT * 2}return {returned}"]

    def _statement(self, node: Node, args: tuple[Value, ...],
                   outs: tuple[Value, ...]) -> list[str]:
        func = (f"self.{node.name}" if _plain(node.name)
                else f"getattr(self, {literal(node.name, '')})")
        call = Call(func, tuple(self.names.of(v) for v in args))
        targets = [self.names.target(v) for v in outs]
        if all(t is None for t in targets):
            return call.render(INDENT * 2)
        lead = ", ".join(t or "_" for t in targets)
        return call.render(INDENT * 2, f"{lead} = ")


def _signature(args: list[str], result: str) -> list[str]:
    flat = f"{INDENT}def forward(self, {', '.join(args)}) -> {result}:"
    if len(flat) <= WIDTH:
        return [flat]
    return [f"{INDENT}def forward(", f"{INDENT * 2}self,",
            *[f"{INDENT * 2}{a}," for a in args], f"{INDENT}) -> {result}:"]


def _plain(name: str) -> bool:
    """Whether ``self.<name>`` is valid Python for a submodule called ``name``."""
    return name.isidentifier() and not keyword.iskeyword(name)


class _Variables:
    """Variable names of the values of a plan.

    A value read only by the very next step (or only returned, by the last step) lives in
    the chain variable (``x = self.conv1(x)``); any other value gets a variable named
    after the node producing it.
    """

    def __init__(self, plan: Plan, taken: set[str]) -> None:
        self.plan = plan
        self.chained = self._chained()
        used = set(taken)
        self.named: dict[Value, str] = {}
        for value in [*plan.input_values, *(v for s in plan.steps for v in s.outs)]:
            if value in self.chained or (value in self.named):
                continue
            if value in plan.last_use or value in plan.input_values:
                self.named[value] = _unique(self._base(value), used)
                used.add(self.named[value])
        self.chain = next((c for c in _CHAIN_NAMES if c not in used), "x_")

    def of(self, value: Value) -> str:
        """The variable holding ``value``."""
        return self.chain if value in self.chained else self.named[value]

    def target(self, value: Value) -> str | None:
        """The variable a step assigns ``value`` to, or ``None`` when nobody reads it."""
        if value in self.chained:
            return self.chain
        return self.named.get(value)

    def _chained(self) -> set[Value]:
        plan, chained = self.plan, set()
        last = len(plan.steps) - 1
        for index, step in enumerate(plan.steps):
            if len(step.outs) != 1:
                continue
            value = step.outs[0]
            readers = plan.readers(value)
            returned = value in plan.outputs
            if (readers == [index + 1] and not returned) or \
                    (not readers and returned and index == last and
                     plan.outputs.count(value) == 1):
                chained.add(value)
        return chained

    def _base(self, value: Value) -> str:
        node = self.plan.graph.nodes[value[0]]
        ports = self.plan.graph.output_ports(node)
        base = node.name if len(ports) <= 1 else f"{node.name}_{value[1]}"
        if not base.isidentifier():
            base = f"v{base}" if f"v{base}".isidentifier() else "v"
        return base + "_" if keyword.iskeyword(base) else base


# -- verification ---------------------------------------------------------------------------
def _verify(text: str, class_name: str, compiled: GraphModule) -> None:
    """Run the source on the meta device and compare it with the compiled module.

    Raises:
        SourceExportError: when the state_dict keys or shapes, or a block's module, differ.
    """
    namespace: dict[str, object] = {"__name__": "netbuilder_export"}
    with torch.device("meta"):
        exec(compile(text, "<netbuilder export>", "exec"), namespace)  # our own output
        rebuilt = namespace[class_name]()  # type: ignore[operator]
    expected = {k: tuple(v.shape) for k, v in compiled.state_dict().items()}
    actual = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    if list(expected.items()) != list(actual.items()):
        missing = sorted(set(expected) ^ set(actual)) or [
            k for k in expected if expected[k] != actual.get(k)]
        raise SourceExportError(f"the exported network differs at {missing[:3]}")
    for node_id, name in compiled.node_modules().items():
        mine = compiled.get_submodule(name)
        if isinstance(mine, GraphModule):
            continue
        theirs: nn.Module = rebuilt.get_submodule(name)
        if repr(theirs) != repr(mine):
            raise SourceExportError(
                f"{name}: exported as {theirs!r}, but the block builds {mine!r}", [node_id])
