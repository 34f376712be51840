"""Tracing a model with ``torch.fx`` and deciding which block each traced call becomes.

:class:`ImportTracer` keeps the module hierarchy: modules that one block reproduces (a
convolution, a torchvision ``BasicBlock`` matched to the ``basic_block`` composite) and
modules nothing reproduces (they are reported) are leaves; every other module is traced
through, and the ``nn_module_stack`` that ``torch.fx`` records on each node says which
module call it belongs to, so the importer can rebuild one group per call. A module whose
``forward`` cannot be traced becomes a leaf too and is reported with the tracing error.

:class:`Classifier` then maps every traced node that contributes to the output to blocks
(:class:`Plan`) or to an :class:`Unmapped` entry naming it and saying why.
"""

from __future__ import annotations

import contextlib
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, fx, nn

from netbuilder.compiler.module_map import (
    MODULE_CONVERTERS,
    BlockCall,
    Unsupported,
    batchless,
    composite_converters,
    convert_composite,
    convert_module,
    module_kind,
)
from netbuilder.compiler.op_map import (
    FullShape,
    OpCall,
    convert_call,
    convert_split,
    function_kind,
    is_split,
)
from netbuilder.compiler.opaque_import import OpaqueCall, OpaqueWriter, keeps_as_opaque
from netbuilder.compiler.verify import reproduces
from netbuilder.core.errors import GraphError
from netbuilder.core.registry import default_registry

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
#: Attributes set while a module of the named class is traced, for a forward that computes
#: the same in evaluation: DenseNet's checkpointing only saves memory when training.
_TRACING_PATCHES: dict[str, dict[str, Any]] = {
    "torchvision.models.densenet._DenseLayer": {"memory_efficient": False},
}
_INPLACE_FUNCTIONS = frozenset(("iadd", "isub", "imul", "itruediv", "setitem"))


@dataclass(frozen=True)
class Unmapped:
    """Something in the model that no block reproduces.

    Attributes:
        name: Where it is: a module's qualified name (``aux1``) or a call's name within its
            module (``layer1.0.permute``).
        kind: What it is: a module class, a function or a method (``Tensor.permute``).
        reason: Why it cannot be imported (``module not supported``).
    """

    name: str
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.kind} ({self.reason})"


# -- tracing ------------------------------------------------------------------------------
def has_own_state(module: nn.Module) -> bool:
    """Whether the module itself (not its children) holds parameters or buffers."""
    return any(True for _ in module.parameters(recurse=False)) or any(
        True for _ in module.buffers(recurse=False))


class ImportTracer(fx.Tracer):
    """A tracer whose leaves are the modules one block reproduces or nothing does.

    Attributes:
        untraceable: Qualified name → tracing error, for modules whose ``forward`` could not
            be traced (they were recorded as leaves instead).
    """

    def __init__(self, matcher: CompositeMatcher) -> None:
        super().__init__()
        self.proxy_buffer_attributes = True  # a buffer read in forward is a get_attr node
        self.matcher = matcher
        self.untraceable: dict[str, str] = {}
        self._kept: dict[int, bool] = {}

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        """Leaves: mapped modules, matched composites, modules kept whole as opaque nodes."""
        if module_qualified_name in self.untraceable or type(m) in MODULE_CONVERTERS:
            return True
        if self.matcher.match(m) is not None:
            return True
        if isinstance(m, _CONTAINERS) and type(m).forward in (c.forward for c in _CONTAINERS):
            return False
        if id(m) not in self._kept:
            self._kept[id(m)] = keeps_as_opaque(m)
        return self._kept[id(m)]

    def call_module(self, m: nn.Module, forward: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        """Trace through ``m``; if its forward fails to trace, record it as a leaf instead."""
        name = self.path_of_module(m)
        if self.is_leaf_module(m, name):
            return super().call_module(m, forward, args, kwargs)
        stack, calls, count = list(self.module_stack.items()), dict(self.num_calls), \
            len(self.graph.nodes)
        try:
            with _patched(m):
                return super().call_module(m, forward, args, kwargs)
        except Exception as error:  # any tracing failure is reported on the module
            self.module_stack.clear()
            self.module_stack.update(stack)
            self.num_calls = calls
            self._erase_after(count)
            self.untraceable[name] = tracing_failure(error)
            return super().call_module(m, forward, args, kwargs)

    def _erase_after(self, count: int) -> None:
        """Remove the nodes added since the graph had ``count`` nodes (newest first)."""
        extra = len(self.graph.nodes) - count
        for node in list(reversed(self.graph.nodes))[:extra]:
            self.graph.erase_node(node)


def tracing_failure(error: BaseException) -> str:
    """torch.fx's reason, and the first call of the model's code that broke tracing.

    ``TraceError: symbolically traced variables cannot be used as inputs to control flow
    (at net.py:12, in forward: if x.sum() > 0:)``.
    """
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    torch_folder = str(Path(torch.__file__).parent)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith(torch_folder) and
              not f.filename.startswith(str(Path(__file__).parent))]
    if not frames:
        return text
    frame = frames[-1]
    line = f": {frame.line.strip()}" if frame.line else ""
    return f"{text} (at {Path(frame.filename).name}:{frame.lineno}, in {frame.name}{line})"


@contextlib.contextmanager
def _patched(module: nn.Module) -> Iterator[None]:
    """Apply :data:`_TRACING_PATCHES` to ``module`` while it is traced."""
    patches = _TRACING_PATCHES.get(module_kind(module), {})
    saved = {name: getattr(module, name) for name in patches if hasattr(module, name)}
    for name in saved:
        setattr(module, name, patches[name])
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def record_shapes(traced: fx.GraphModule, sample: Tensor) -> dict[fx.Node, FullShape]:
    """Run the traced model on ``sample``; the batch-ful shape of every tensor value."""
    shapes: dict[fx.Node, FullShape] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n: fx.Node) -> Any:
            result = super().run_node(n)
            shapes[n] = tuple(result.shape) if isinstance(result, Tensor) else None
            return result

    with torch.no_grad():
        Recorder(traced).run(sample)
    return shapes


# -- torchvision building blocks ------------------------------------------------------------
@dataclass
class _Seen:
    """The first input and output of a module during the reference run, and its calls."""

    inputs: Tensor | None = None
    output: Tensor | None = None
    calls: int = 0


class CompositeMatcher:
    """Matches torchvision building blocks to composite blocks that compute the same.

    A module is matched when :func:`~netbuilder.compiler.module_map.convert_composite`
    names a composite for it, the module was called once, and the compiled composite,
    given the module's weights, reproduces what the module computed in the reference run.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._seen: dict[int, _Seen] = {}
        self._verdicts: dict[int, BlockCall | None] = {}

    def run(self, model: nn.Module, sample: Tensor) -> Any:
        """Run ``model`` on ``sample`` and match its building blocks; return its output.

        Matching compiles and runs small graphs, which cannot happen while ``torch.fx``
        traces, so every verdict is reached here, outermost modules first (the inside of
        a matched module is not looked at).
        """
        kinds = tuple(composite_converters()) if self.enabled else ()
        handles = [m.register_forward_hook(self._hook) for m in model.modules()
                   if isinstance(m, kinds)]
        try:
            with torch.no_grad():
                output = model(sample)
        finally:
            for handle in handles:
                handle.remove()
        self._decide_all(model)
        return output

    def _hook(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        seen = self._seen.setdefault(id(module), _Seen())
        seen.calls += 1
        if seen.calls == 1 and len(args) == 1 and isinstance(args[0], Tensor) \
                and isinstance(output, Tensor):
            seen.inputs, seen.output = args[0].detach().clone(), output.detach().clone()

    def _decide_all(self, model: nn.Module) -> None:
        """Decide for every recorded module, skipping the inside of matched ones."""
        matched: list[str] = []
        for name, module in model.named_modules():
            if id(module) not in self._seen or any(name.startswith(f"{m}.") for m in matched):
                continue
            self._verdicts[id(module)] = self._decide(module)
            if self._verdicts[id(module)] is not None:
                matched.append(name)
        self._seen.clear()  # the recorded tensors are no longer needed

    def match(self, module: nn.Module) -> BlockCall | None:
        """The composite block standing for ``module``, or None."""
        return self._verdicts.get(id(module))

    def _decide(self, module: nn.Module) -> BlockCall | None:
        seen = self._seen[id(module)]
        if seen.calls != 1 or seen.inputs is None or seen.output is None:
            return None
        call = convert_composite(module)
        if call is None:
            return None
        return call if reproduces(call, module, seen.inputs, seen.output) else None


# -- classification -------------------------------------------------------------------------
@dataclass
class Plan:
    """What every contributing traced node becomes.

    Attributes:
        calls: Blocks for each mapped call (modules: one block; calls: a chain).
        inputs: The traced tensors feeding each mapped call, in order.
        modules: Qualified module name of each mapped ``call_module`` node.
        unmapped: Everything that cannot be imported.
        opaque: For each call kept as an opaque node: its local module and tensor names →
            the model's module names and ``state_dict`` keys.
        ports: For each call with several results (a chunk): the traced nodes taking its
            parts (``getitem``) → the output port of its block each part is on.
    """

    calls: dict[fx.Node, tuple[BlockCall, ...]] = field(default_factory=dict)
    inputs: dict[fx.Node, tuple[fx.Node, ...]] = field(default_factory=dict)
    modules: dict[fx.Node, str] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)
    opaque: dict[fx.Node, dict[str, str]] = field(default_factory=dict)
    ports: dict[fx.Node, dict[fx.Node, str]] = field(default_factory=dict)


def live_nodes(graph: fx.Graph) -> list[fx.Node]:
    """The nodes the output depends on, in graph order."""
    output = next(n for n in reversed(graph.nodes) if n.op == "output")
    live, stack = {output}, [output]
    while stack:
        for source in stack.pop().all_input_nodes:
            if source not in live:
                live.add(source)
                stack.append(source)
    return [n for n in graph.nodes if n in live]


def scope_name(node: fx.Node) -> str:
    """Where a traced call is: ``layer1.0.permute`` (its module, then its own name)."""
    stack = list(node.meta.get("nn_module_stack", {}).values())
    if node.op == "call_module":
        return str(node.target)
    owner = str(stack[-1][0]) if stack else ""
    return f"{owner}.{node.name}" if owner else node.name


class Classifier:
    """Maps the traced nodes of a model to blocks, collecting what cannot be mapped."""

    def __init__(self, model: nn.Module, traced: fx.Graph, shapes: dict[fx.Node, FullShape],
                 tracer: ImportTracer) -> None:
        self.model, self.traced, self.shapes, self.tracer = model, traced, shapes, tracer
        self.plan = Plan()
        self._registry = default_registry()
        self._reported: set[fx.Node] = set()
        self._from_input: set[fx.Node] = set()
        self._inlined: set[fx.Node] = set()
        self._parts: set[fx.Node] = set()
        self._opaque = OpaqueWriter(model, self.is_value)

    def is_value(self, node: fx.Node) -> bool:
        """Whether a traced node is a tensor of the graph: a call computing a tensor from
        the input (anything else is folded into the opaque nodes that read it)."""
        return node.op == "placeholder" or (node.op.startswith("call_") and node in
                                             self._from_input and self.shapes.get(node) is not None)

    def classify(self) -> Plan:
        """Classify every live node, then report side effects and non-tensor values."""
        live = live_nodes(self.traced)
        uses = Counter(str(n.target) for n in live if n.op == "call_module")
        self._from_input = _from_input(live)
        # a tensor not computed from the input (a parameter read in forward) is no block's
        # operand: it is folded into the opaque node reading it
        self.shapes = {n: s if n in self._from_input else None for n, s in self.shapes.items()}
        placeholders = 0
        for node in live:
            if node.op == "placeholder":
                placeholders += 1
                if placeholders > 1:
                    self._unmapped(node.name, "input", "a second input (one is supported)")
            elif node.op == "output":
                self._check_output(node)
            elif node in self._parts:
                continue  # a part of a split, on one of its ports
            elif self.is_value(node):
                self._classify_call(node, uses[str(node.target)])
            elif is_split(node) and node in self._from_input:
                self._split_call(node)
        self._check_values(live)
        self._check_side_effects(set(live))
        return self.plan

    def _unmapped(self, name: str, kind: str, reason: str) -> None:
        item = Unmapped(name, kind, reason)
        if item not in self.plan.unmapped:
            self.plan.unmapped.append(item)

    def _classify_call(self, node: fx.Node, uses: int) -> None:
        try:
            if node.op == "call_module":
                self._module_call(node, uses)
            else:
                mapped = convert_call(OpCall(node, self.shapes))
                self._accept(node, mapped.steps, mapped.inputs)
        except (Unsupported, TypeError, ValueError, AttributeError) as error:
            if node.op == "call_module" and (str(node.target) in self.tracer.untraceable or (
                    uses > 1 and any(True for _ in
                                     self.model.get_submodule(str(node.target)).parameters()))):
                self._failed(node, str(error))  # untraceable, or shared weights
            else:
                self._keep_opaque(node, error)

    def _split_call(self, node: fx.Node) -> None:
        """A chunk or split whose parts are taken by index: one ``split`` block whose ports
        feed the parts' users. Otherwise each part taken becomes an opaque call of its own."""
        try:
            mapped, ports = convert_split(OpCall(node, self.shapes))
            self._accept(node, mapped.steps, mapped.inputs)
        except (Unsupported, TypeError, ValueError, AttributeError):
            return
        self.plan.ports[node] = ports
        self._parts.update(ports)

    def _keep_opaque(self, node: fx.Node, why: Exception) -> None:
        """Keep ``node`` as an opaque node (reported with ``why`` when even that fails)."""
        name = str(node.target).rpartition(".")[2] if node.op == "call_module" else ""
        try:
            kept: OpaqueCall = self._opaque.write(node, name)
            self._accept(node, (kept.block,), tuple(kept.inputs))
        except (Unsupported, TypeError, ValueError, AttributeError) as error:
            self._failed(node, f"{why}; cannot keep it as an opaque call either: {error}")
            return
        self.plan.opaque[node] = kept.sources
        self._inlined |= kept.inlined

    def _failed(self, node: fx.Node, reason: str) -> None:
        self._unmapped(scope_name(node), self._kind(node), reason)
        self._reported.add(node)

    def _module_call(self, node: fx.Node, uses: int) -> None:
        name = str(node.target)
        module = self.model.get_submodule(name)
        if name in self.tracer.untraceable:
            raise Unsupported(f"cannot be traced: {self.tracer.untraceable[name]}")
        if uses > 1 and any(True for _ in module.parameters()):
            raise Unsupported(f"called {uses} times: shared weights are not supported")
        if len(node.args) != 1 or node.kwargs:
            raise Unsupported("called with more than one argument")
        source = OpCall(node, self.shapes).tensor(node.args[0])
        call = self.tracer.matcher.match(module)
        if call is None:
            call = convert_module(module, batchless(self.shapes[source]))
        if self.shapes.get(node) is None:
            raise Unsupported("returns something other than a tensor")
        self.plan.modules[node] = name
        self._accept(node, (call,), (source,))

    def _accept(self, node: fx.Node, steps: Sequence[BlockCall],
                inputs: Sequence[fx.Node]) -> None:
        for step in steps:
            try:
                self._registry.get(step.block).resolve(step.params)
            except GraphError as error:
                raise Unsupported(f"{step.block}: {error}") from None
        self.plan.calls[node] = tuple(steps)
        self.plan.inputs[node] = tuple(inputs)

    def _kind(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return module_kind(self.model.get_submodule(str(node.target)))
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        if node.op == "get_attr":
            return _attribute_kind(self.model, str(node.target))
        return function_kind(node.target)

    def _check_output(self, node: fx.Node) -> None:
        result = node.args[0]
        values = result if isinstance(result, (tuple, list)) else (result,)
        for value in values:
            if value in self._reported:
                continue
            if not isinstance(value, fx.Node) or self.shapes.get(value) is None:
                self._unmapped("output", type(result).__name__,
                               "the model returns something other than tensors")
                return

    def _check_values(self, live: list[fx.Node]) -> None:
        """Report non-tensor values (``x.size()``, tuples) unless only mapped calls use them.

        A mapped call reads such a value only as a constant it has checked against the
        traced shapes (``x.view(x.size(0), -1)`` is a flatten), so these are not lost.
        """
        settled = set(self.plan.calls) | self._inlined
        alive = set(live)
        for node in reversed(live):
            if node.op not in ("call_function", "call_method", "call_module", "get_attr") \
                    or node in self._reported or self.is_value(node) or node in settled:
                continue
            if all(user in settled or user not in alive for user in node.users):
                settled.add(node)
            else:
                self._failed(node, "returns a value that is not a tensor")

    def _check_side_effects(self, live: set[fx.Node]) -> None:
        """Report in-place calls whose result is unused: their effect would be lost."""
        for node in self.traced.nodes:
            if node in live or node.op not in ("call_function", "call_method", "call_module"):
                continue
            if _in_place(node, self.model) and any(s in live for s in node.all_input_nodes):
                self._unmapped(scope_name(node), self._kind(node),
                               "changes a tensor in place and its result is unused")


def _from_input(live: list[fx.Node]) -> set[fx.Node]:
    """The traced nodes whose value depends on the model's input."""
    found: set[fx.Node] = set()
    for node in live:
        if node.op == "placeholder" or any(n in found for n in node.all_input_nodes):
            found.add(node)
    return found


def _attribute_kind(model: nn.Module, target: str) -> str:
    owner, _, name = target.rpartition(".")
    return module_kind(type(getattr(model.get_submodule(owner), name, None)))


def _in_place(node: fx.Node, model: nn.Module) -> bool:
    if node.kwargs.get("inplace") is True:
        return True
    if node.op == "call_module":
        return getattr(model.get_submodule(str(node.target)), "inplace", False) is True
    name = str(node.target) if node.op == "call_method" else getattr(node.target, "__name__", "")
    return (name.endswith("_") and not name.endswith("__")) or name in _INPLACE_FUNCTIONS

