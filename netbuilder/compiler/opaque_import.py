"""Turning a traced call no block reproduces into an ``opaque`` node.

:class:`OpaqueWriter` writes the expression of an opaque node (see
:func:`netbuilder.blocks.opaque.evaluate`) for one traced node whose value is a tensor
computed from the network's input. Arguments that are other such tensors become the node's
inputs; everything else the call reads is folded into the expression: constants, sizes
(``x.size(0)``), tuples and their items (``a, b = x.chunk(2, 1)``), parameters and buffers
read directly (``self.class_token``), and modules whose results are not tensors (an
attention module returning ``(output, weights)``).

A module is kept by its class and the constructor arguments read back from its attributes
(:func:`rebuild_arguments`); only modules that are rebuilt exactly (same ``repr``, same
tensors) are kept that way, others are traced through.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from netbuilder.blocks.opaque import OPAQUE, resolve
from netbuilder.compiler.module_map import BlockCall, Unsupported

_SCALARS = (bool, int, float, str, type(None))
_INVALID = re.compile(r"[^A-Za-z0-9_]")
#: Attribute names of the opaque module that a local name must not take.
_RESERVED = frozenset(("call", "expression", "submodules", "tensors", "function", "forward",
                       "training"))


def qualified_name(target: Any) -> str:
    """``package.module:attr`` naming a function or class, checked to resolve to it.

    torch's built-in functions name a private class (``torch._VariableFunctionsClass``) or
    module (``torch._C._nn``); they are named where users find them (``torch:transpose``,
    ``torch.nn.functional:gelu``).
    """
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", "")
    qualname = getattr(target, "__qualname__", None) or name
    public = (f"torch.nn.functional:{name}", f"torch:{name}", f"torch.special:{name}",
              f"torch.fft:{name}", f"torch.linalg:{name}")
    own = f"{module}:{qualname}"
    private = module.startswith("torch._") or "._" in qualname
    for candidate in (*public, own) if private else (own, *public):
        try:
            if resolve(candidate) is target:
                return candidate
        except Exception:  # not importable under that name: try the next
            continue
    raise Unsupported(f"{module}.{qualname} cannot be found again by its qualified name")


# -- modules ------------------------------------------------------------------------------------
def rebuild_arguments(module: nn.Module) -> dict[str, Any] | None:
    """Constructor arguments that rebuild ``module`` exactly, or None.

    Each argument of the class's ``__init__`` is read from the attribute of the same name
    (as ``torch.nn`` modules store them); arguments without such an attribute keep their
    default. The rebuilt module must have the same ``repr`` and the same tensor shapes.
    """
    try:
        signature = inspect.signature(type(module).__init__)
    except (TypeError, ValueError):
        return None
    kwargs: dict[str, Any] = {}
    for name, parameter in list(signature.parameters.items())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or \
                name in ("device", "dtype"):
            continue
        if hasattr(module, name):
            attribute = getattr(module, name)
            if isinstance(parameter.default, bool) and (
                    attribute is None or isinstance(attribute, torch.Tensor)):
                attribute = attribute is not None  # bias=True stores the bias tensor
            value = _plain(attribute)
            if value is None and attribute is not None:
                return None
            kwargs[name] = value
        elif parameter.default is parameter.empty:
            return None
    return kwargs if _rebuilds(module, kwargs) else None


def _plain(value: Any) -> Any:
    """``value`` as JSON-able data (tuples as lists), or None when it cannot be."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (tuple, list, torch.Size)):
        items = [_plain(v) for v in value]
        return None if any(i is None and v is not None for i, v in zip(items, value)) \
            else items
    return None


def _rebuilds(module: nn.Module, kwargs: dict[str, Any]) -> bool:
    try:
        with torch.device("meta"):
            fresh = type(module)(**kwargs)
    except Exception:  # a constructor that refuses the attributes read back
        return False
    shapes = {k: (tuple(v.shape), v.dtype) for k, v in module.state_dict().items()}
    fresh_shapes = {k: (tuple(v.shape), v.dtype) for k, v in fresh.state_dict().items()}
    return repr(fresh) == repr(module) and shapes == fresh_shapes


def keeps_as_opaque(module: nn.Module) -> bool:
    """Whether an unmapped module is kept whole (rather than traced through).

    ``torch.nn`` modules are, when they can be rebuilt from their arguments (their
    ``forward`` often branches on options, which tracing cannot follow); every other module
    is traced through, so its parts become blocks.
    """
    return type(module).__module__.startswith("torch.nn.") and \
        rebuild_arguments(module) is not None


# -- expressions --------------------------------------------------------------------------------
@dataclass
class OpaqueCall:
    """What one opaque node needs.

    Attributes:
        inputs: The traced tensors feeding it, in port order.
        sources: Local module or tensor name → the model's qualified module name or
            ``state_dict`` key, for carrying weights.
        inlined: Traced nodes folded into its expression.
    """

    block: BlockCall
    inputs: list[fx.Node] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    inlined: set[fx.Node] = field(default_factory=set)


class OpaqueWriter:
    """Writes opaque nodes for the traced calls of one model.

    Args:
        model: The traced model.
        is_value: Whether a traced node is a tensor of the graph (an input of an opaque node
            rather than folded into its expression).
    """

    def __init__(self, model: nn.Module, is_value: Callable[[fx.Node], bool]) -> None:
        self.model, self.is_value = model, is_value
        #: state_dict key of every parameter and buffer, by identity: torch.fx reads some
        #: buffers as constants (``_tensor_constant0``) that are the model's own tensors
        self.keys = {id(t): k for k, t in model.state_dict(keep_vars=True).items()}

    def write(self, node: fx.Node, name: str) -> OpaqueCall:
        """The opaque node computing ``node``.

        Raises:
            Unsupported: when a value it reads cannot be stored.
        """
        state = _Writing(self, OpaqueCall(BlockCall(OPAQUE, name=name)))
        expression = state.call(node)
        modules = {k: v for k, v in state.modules.items()}
        state.result.block.params.update(
            target=state.target(node), call=json.dumps(expression),
            modules=json.dumps(modules), tensors=json.dumps(state.tensors))
        return state.result


@dataclass
class _Writing:
    """One opaque node being written."""

    writer: OpaqueWriter
    result: OpaqueCall
    modules: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, Any] = field(default_factory=dict)

    def target(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return _class_name(self.writer.model.get_submodule(str(node.target)))
        if node.op == "call_method":
            return f"torch:Tensor.{node.target}"
        return qualified_name(node.target)

    def encode(self, value: Any) -> Any:
        if isinstance(value, fx.Node):
            return self.node(value)
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return {"list": [self.encode(v) for v in value]}
        if isinstance(value, dict):
            return {"dict": {str(k): self.encode(v) for k, v in value.items()}}
        if isinstance(value, slice):
            return {"slice": [self.encode(v) for v in (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"ellipsis": True}
        if isinstance(value, torch.dtype):
            return {"dtype": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"device": True}
        raise Unsupported(f"argument {value!r} cannot be stored")

    def node(self, node: fx.Node) -> Any:
        if self.writer.is_value(node):
            if node not in self.result.inputs:
                self.result.inputs.append(node)
            return {"input": self.result.inputs.index(node)}
        self.result.inlined.add(node)
        if node.op == "get_attr":
            return {"tensor": self._tensor(str(node.target))}
        if node.op in ("call_function", "call_method", "call_module"):
            return self.call(node)
        raise Unsupported(f"{node.op} {node.target} cannot be stored")

    def call(self, node: fx.Node) -> dict[str, Any]:
        expression: dict[str, Any] = {}
        if node.op == "call_module":
            expression["module"] = self._module(str(node.target))
        elif node.op == "call_method":
            expression["method"] = str(node.target)
        else:
            expression["function"] = qualified_name(node.target)
        expression["args"] = [self.encode(a) for a in node.args]
        if node.kwargs:
            expression["kwargs"] = {k: self.encode(v) for k, v in node.kwargs.items()}
        return expression

    def _local(self, path: str) -> str:
        base, taken = _INVALID.sub("_", path), {*self.modules, *self.tensors}
        if not base[:1].isalpha():
            base = f"t{base}"
        name, k = base, 1
        while name in taken or name in _RESERVED:
            name, k = f"{base}_{k}", k + 1
        return name

    def _module(self, path: str) -> str:
        for local, source in self.result.sources.items():
            if source == path and local in self.modules:
                return local
        module = self.writer.model.get_submodule(path)
        kwargs = rebuild_arguments(module)
        if kwargs is None:
            raise Unsupported(f"{_class_name(module)} cannot be rebuilt from its arguments")
        local = self._local(path.rpartition(".")[2] or path)
        self.modules[local] = {"class": _class_name(module), "kwargs": kwargs}
        self.result.sources[local] = path
        return local

    def _tensor(self, key: str) -> str:
        for local, source in self.result.sources.items():
            if source == key and local in self.tensors:
                return local
        owner, _, attr = key.rpartition(".")
        value = getattr(self.writer.model.get_submodule(owner), attr)
        if not isinstance(value, torch.Tensor):
            raise Unsupported(f"{key} is not a tensor")
        key = self.writer.keys.get(id(value), key)
        local = self._local(key)
        self.tensors[local] = {"shape": list(value.shape),
                               "dtype": str(value.dtype).removeprefix("torch."),
                               "buffer": not isinstance(value, nn.Parameter)}
        self.result.sources[local] = key
        return local


def _class_name(module: nn.Module) -> str:
    return qualified_name(type(module))
