"""Which blocks stand for a function or tensor method call met while tracing a model.

Two tables, in the same shape as :data:`~netbuilder.compiler.module_map.MODULE_CONVERTERS`:
:data:`FUNCTION_CONVERTERS` (``torch.flatten``, ``operator.add``, ``F.relu``...) keyed by
the function object, and :data:`METHOD_CONVERTERS` (``x.view``, ``x.mean``...) keyed by
the method name. A converter gets an :class:`OpCall` (the ``torch.fx`` node and the shapes
the traced model produced) and returns a :class:`Mapped`: the blocks to chain and the
tensors that feed the first one, in order. Calls whose meaning depends on values a graph
cannot hold (constants added to a tensor, reshapes of the batch...) raise
:class:`~netbuilder.compiler.module_map.Unsupported`. A chunk or split call is converted
apart (:func:`convert_split`): its result is a tuple, whose parts become the output ports of
one ``split`` block.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from netbuilder.blocks.shape_ops import chunk_sizes
from netbuilder.compiler.module_map import BlockCall, Unsupported, output_size, upsample_call

#: A batch-ful shape (``(N, C, H, W)``), or None for a value that is not a tensor.
FullShape = tuple[int, ...] | None


@dataclass(frozen=True)
class Mapped:
    """Blocks chained one after the other, and the tensors feeding the first, in order."""

    steps: tuple[BlockCall, ...]
    inputs: tuple[fx.Node, ...]


@dataclass(frozen=True)
class OpCall:
    """A traced call with the shapes of its values.

    Attributes:
        node: The ``call_function`` or ``call_method`` node.
        shapes: Batch-ful shape of every traced value (None for non-tensors).
    """

    node: fx.Node
    shapes: Mapping[fx.Node, FullShape]

    def bind(self, names: Sequence[str], **defaults: Any) -> dict[str, Any]:
        """The call's arguments by name (positional ones in ``names`` order), defaults added.

        Raises:
            Unsupported: for more positional arguments than names, or an unknown keyword.
        """
        if len(self.node.args) > len(names):
            raise Unsupported(f"called with {len(self.node.args)} positional arguments")
        values = dict(defaults)
        values.update(zip(names, self.node.args))
        for key, value in self.node.kwargs.items():
            if key not in names:
                raise Unsupported(f"argument {key}= is not supported")
            values[key] = value
        return values

    def tensor(self, value: Any) -> fx.Node:
        """``value`` as a traced tensor with a batch dimension and at least one more.

        Raises:
            Unsupported: when it is a constant, a parameter or a non-tensor value.
        """
        shape = self.shapes.get(value) if isinstance(value, fx.Node) else None
        if shape is None or len(shape) < 2:
            raise Unsupported(f"operand {_show(value)} is not a tensor computed by the network")
        assert isinstance(value, fx.Node)
        return value

    def shape(self, value: fx.Node) -> tuple[int, ...]:
        """The batch-ful shape of a traced tensor."""
        shape = self.shapes.get(value)
        assert shape is not None
        return shape

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The batch-ful shape of the call's result."""
        shape = self.shapes.get(self.node)
        if shape is None:
            raise Unsupported("the result is not a tensor")
        return shape


OpConverter = Callable[[OpCall], Mapped]


def _show(value: Any) -> str:
    return value.name if isinstance(value, fx.Node) else repr(value)


def _one(block: str, source: fx.Node, name: str = "", **params: Any) -> Mapped:
    return Mapped((BlockCall(block, params, name),), (source,))


def _axis(dim: int, rank: int) -> int:
    """``dim`` as a non-negative index of a batch-ful rank-``rank`` shape; never the batch."""
    if not -rank <= dim < rank:
        raise Unsupported(f"dim={dim} is out of range")
    axis = dim % rank
    if axis == 0:
        raise Unsupported(f"dim={dim} is the batch dimension")
    return axis


# -- merges -------------------------------------------------------------------------------
def _merge(block: str, names: tuple[str, str]) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        values = call.bind((*names, "alpha"), alpha=1)
        if values["alpha"] != 1:
            raise Unsupported(f"alpha={values['alpha']} (a scaled sum)")
        first, second = (call.tensor(values[n]) for n in names)
        if len(call.shape(first)) != len(call.shape(second)):
            raise Unsupported("operands of different ranks (broadcasting a lower rank)")
        name = "add" if block == "add" else "mul"
        return Mapped((BlockCall(block, {}, name),), (first, second))
    return convert


def _cat(call: OpCall) -> Mapped:
    values = call.bind(("tensors", "dim"), dim=0)
    tensors = values["tensors"]
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise Unsupported("the tensors are not given as a list")
    inputs = tuple(call.tensor(t) for t in tensors)
    _axis(values["dim"], len(call.shape(inputs[0])))
    return Mapped((BlockCall("concat", dict(dim=values["dim"]), "cat"),), inputs)


# -- shapes -------------------------------------------------------------------------------
def _flatten(names: tuple[str, ...]) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        values = call.bind(names, start_dim=0, end_dim=-1)
        source = call.tensor(values[names[0]])
        rank = len(call.shape(source))
        _axis(values["start_dim"], rank)
        return _one("flatten", source, "flatten", start_dim=values["start_dim"],
                    end_dim=values["end_dim"])
    return convert


def flatten_span(before: Sequence[int], after: Sequence[int]) -> tuple[int, int] | None:
    """``(start_dim, end_dim)`` of the flatten turning shape ``before`` into ``after``.

    The batch dimension is never merged; returns None when no flatten does it.
    """
    for start in range(1, len(before)):
        for end in range(start + 1, len(before)):
            merged = (*before[:start], math.prod(before[start:end + 1]), *before[end + 1:])
            if merged == tuple(after):
                return start, end
    return None


def _reshape_to(call: OpCall, source: fx.Node, sizes: Sequence[Any]) -> Mapped:
    """An identity, a flatten where one does it, else a reshape of each sample to sizes
    given as constants (``x.view(x.size(0), 3, -1)``)."""
    before, after = call.shape(source), call.out_shape
    if before == after:
        return _one("identity", source, "reshape")
    span = flatten_span(before, after)
    if span is not None:
        end = -1 if span[1] == len(before) - 1 else span[1]
        return _one("flatten", source, "flatten", start_dim=span[0], end_dim=end)
    return _one("reshape", source, "reshape", shape=_sample_shape(before, after, sizes))


def _sample_shape(before: Sequence[int], after: Sequence[int], sizes: Sequence[Any]) -> str:
    """The ``shape`` of a reshape block for a call reshaping ``before`` to ``after`` with
    ``sizes``: the sizes after the batch, which must be constants (-1 kept), so that the
    block computes the same at every input size.

    Raises:
        Unsupported: when the batch is not kept, or a size is computed from the input.
    """
    if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)):
        sizes = sizes[0]
    batch, *rest = sizes or (None,)
    if len(after) < 2 or after[0] != before[0] or \
            not (isinstance(batch, fx.Node) or (batch == -1 and -1 not in rest)):
        raise Unsupported(f"reshapes {tuple(before)} to {tuple(after)}: the batch dimension "
                          "is not kept")
    if not rest or not all(isinstance(s, int) and not isinstance(s, bool) for s in rest):
        raise Unsupported("reshapes to sizes computed from the input (only constant sizes "
                          "have a block)")
    return ", ".join(map(str, rest))


def _view_method(call: OpCall) -> Mapped:
    return _reshape_to(call, call.tensor(call.node.args[0]), call.node.args[1:])


def _reshape_function(call: OpCall) -> Mapped:
    values = call.bind(("input", "shape"))
    return _reshape_to(call, call.tensor(values["input"]), (values["shape"],))


def _mean(names: tuple[str, ...]) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        values = call.bind((*names, "dtype"), dim=None, keepdim=False, dtype=None)
        source = call.tensor(values[names[0]])
        rank, dims = len(call.shape(source)), values["dim"]
        if dims is None or values["dtype"] is not None:
            raise Unsupported("a mean over every dimension or with a dtype")
        axes = {_axis(d, rank) for d in (dims if isinstance(dims, (list, tuple)) else (dims,))}
        if axes != set(range(2, rank)) or rank not in (3, 4):
            raise Unsupported(f"a mean over dims {dims} (only over every spatial axis)")
        pool = BlockCall("global_avgpool" if rank == 4 else "adaptive_avgpool1d", {}, "mean")
        steps = (pool,) if values["keepdim"] else (pool, BlockCall("flatten", {}, "flatten"))
        return Mapped(steps, (source,))
    return convert


# -- splits ---------------------------------------------------------------------------------
#: Argument names of the calls that cut a tensor into a tuple of parts.
_SPLIT_METHODS = {"chunk": ("self", "chunks", "dim"), "split": ("self", "split_size", "dim")}
_SPLIT_FUNCTIONS: dict[Callable[..., Any], tuple[str, str, str]] = {
    torch.chunk: ("input", "chunks", "dim"),
    torch.split: ("tensor", "split_size_or_sections", "dim")}


def _split_names(node: fx.Node) -> tuple[str, str, str] | None:
    if node.op == "call_method":
        return _SPLIT_METHODS.get(str(node.target))
    if node.op == "call_function":
        return _SPLIT_FUNCTIONS.get(node.target)  # type: ignore[call-overload]
    return None


def is_split(node: fx.Node) -> bool:
    """Whether ``node`` is ``x.chunk``, ``x.split``, ``torch.chunk`` or ``torch.split``."""
    return _split_names(node) is not None


def _part_sizes(cut: Any, length: int, chunks: bool) -> list[int]:
    """The lengths of the parts a chunk or split call cuts ``length`` into."""
    if isinstance(cut, (list, tuple)):
        sizes = list(cut)
        if not all(isinstance(s, int) and s > 0 for s in sizes) or sum(sizes) != length:
            raise Unsupported(f"sizes {cut} do not cut {length} into non-empty parts")
        return sizes
    if isinstance(cut, bool) or not isinstance(cut, int) or cut < 1:
        raise Unsupported(f"{cut!r} parts")
    if chunks:
        return chunk_sizes(length, cut)
    return [min(cut, length - start) for start in range(0, length, cut)]


def convert_split(call: OpCall) -> tuple[Mapped, dict[fx.Node, str]]:
    """One ``split`` block for a chunk or split call, and the port each part taken is on.

    Every use of the result must take one part by a constant index (``a, b = x.chunk(2,
    1)`` traces to ``getitem`` calls): ``{getitem node: "out0", ...}``.

    Raises:
        Unsupported: for another use of the parts, a cut of the batch or into one part.
    """
    names = _split_names(call.node)
    if names is None:
        raise Unsupported("not a chunk or split call")
    values = call.bind(names, dim=0)
    source = call.tensor(values[names[0]])
    shape = call.shape(source)
    length = shape[_axis(values["dim"], len(shape))]
    sizes = _part_sizes(values[names[1]], length, names[1] == "chunks")
    if len(sizes) < 2:
        raise Unsupported("cuts the tensor into one part")
    ports = {user: f"out{_part_index(user, len(sizes))}" for user in call.node.users}
    params: dict[str, Any] = {"dim": values["dim"]}
    if names[1] == "chunks" and len(sizes) == values["chunks"]:
        params["chunks"] = len(sizes)
    else:
        params["sizes"] = ", ".join(map(str, sizes))
    return Mapped((BlockCall("split", params, "split"),), (source,)), ports


def _part_index(user: fx.Node, count: int) -> int:
    """The index of the part ``user`` takes (``parts[1]``), counted from 0."""
    index = user.args[1] if len(user.args) == 2 else None
    if user.op != "call_function" or user.target is not operator.getitem or user.kwargs \
            or isinstance(index, bool) or not isinstance(index, int) \
            or not -count <= index < count:
        raise Unsupported(f"{user.name} uses the parts other than by taking one by index")
    return index % count


# -- activations --------------------------------------------------------------------------
def _unary(block: str, names: tuple[str, ...] = ("input",), params: tuple[str, ...] = (),
           fixed: Mapping[str, Any] | None = None, **defaults: Any) -> OpConverter:
    """A converter for ``f(x, *params)`` → one ``block`` fed by ``x``."""
    def convert(call: OpCall) -> Mapped:
        values = call.bind(names, **defaults)
        chosen = {name: values[name] for name in params} | dict(fixed or {})
        return _one(block, call.tensor(values[names[0]]), block, **chosen)
    return convert


def _softmax(block: str, names: tuple[str, ...]) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        values = call.bind(names, dim=None, dtype=None, _stacklevel=3)
        if values["dim"] is None or values["dtype"] is not None:
            raise Unsupported("dim=None or a dtype (set dim explicitly)")
        return _one(block, call.tensor(values[names[0]]), block, dim=values["dim"])
    return convert


def _dropout(block: str) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        values = call.bind(("input", "p", "training", "inplace"), p=0.5, training=True,
                           inplace=False)
        if values["training"] is True:
            raise Unsupported("training=True: it drops even in evaluation mode")
        source = call.tensor(values["input"])
        if block == "dropout2d" and len(call.shape(source)) != 4:
            raise Unsupported("the input is not a batch of C×H×W images")
        return _one(block, source, "dropout", p=float(values["p"]),
                    inplace=bool(values["inplace"]))
    return convert


# -- pooling ------------------------------------------------------------------------------
def _stride(value: Any) -> Any:
    return None if value is None or value == [] or value == () else value


def _max_pool(dims: int) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                 "return_indices")
        values = call.bind(names, stride=None, padding=0, dilation=1, ceil_mode=False,
                           return_indices=False)
        if values["return_indices"]:
            raise Unsupported("return_indices=True (the block returns the values only)")
        return _one(f"maxpool{dims}d", call.tensor(values["input"]), "pool",
                    kernel_size=values["kernel_size"], stride=_stride(values["stride"]),
                    padding=values["padding"], dilation=values["dilation"],
                    ceil_mode=bool(values["ceil_mode"]))
    return convert


def _avg_pool(dims: int) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        names = ("input", "kernel_size", "stride", "padding", "ceil_mode",
                 "count_include_pad", "divisor_override")
        values = call.bind(names, stride=None, padding=0, ceil_mode=False,
                           count_include_pad=True, divisor_override=None)
        if values["divisor_override"] is not None:
            raise Unsupported("divisor_override (the block divides by the window size)")
        return _one(f"avgpool{dims}d", call.tensor(values["input"]), "pool",
                    kernel_size=values["kernel_size"], stride=_stride(values["stride"]),
                    padding=values["padding"], ceil_mode=bool(values["ceil_mode"]),
                    count_include_pad=bool(values["count_include_pad"]))
    return convert


def _adaptive(block: str, dims: int) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        values = call.bind(("input", "output_size", "return_indices"), return_indices=False)
        if values["return_indices"]:
            raise Unsupported("return_indices=True (the block returns the values only)")
        source = call.tensor(values["input"])
        size = output_size(values["output_size"], call.shape(source)[1:], dims)
        return _one(block, source, "pool", output_size=size)
    return convert


def _identity(call: OpCall) -> Mapped:
    return _one("identity", call.tensor(call.bind(("self",))["self"]), call.node.target)


def _interpolate(call: OpCall) -> Mapped:
    values = call.bind(("input", "size", "scale_factor", "mode", "align_corners",
                        "recompute_scale_factor", "antialias"), size=None, scale_factor=None,
                       mode="nearest", align_corners=None, recompute_scale_factor=None,
                       antialias=False)
    if values["recompute_scale_factor"] or values["antialias"]:
        raise Unsupported("recompute_scale_factor or antialias")
    step = upsample_call(values["size"], values["scale_factor"], values["mode"],
                         values["align_corners"])
    return Mapped((BlockCall(step.block, step.params, "interpolate"),),
                  (call.tensor(values["input"]),))


def _permute(names: tuple[str, ...]) -> OpConverter:
    def convert(call: OpCall) -> Mapped:
        node = call.node
        source = call.tensor(node.args[0] if node.args else node.kwargs.get(names[0]))
        dims: Any = node.args[1:] if len(node.args) > 1 else node.kwargs.get("dims", ())
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = dims[0]
        rank = len(call.shape(source))
        order = [d + rank if isinstance(d, int) and d < 0 else d for d in dims]
        if not order or order[0] != 0 or sorted(order) != list(range(rank)):
            raise Unsupported(f"dims={tuple(dims)} moves the batch dimension")
        return _one("permute", source, "permute",
                    dims=", ".join(str(d - 1) for d in order[1:]))
    return convert


def _getitem(call: OpCall) -> Mapped:
    """``x[:, i]`` on a sequence of tokens (a ViT's class token) → ``token_select``."""
    value, index = call.node.args
    source = call.tensor(value)
    token = index[1] if isinstance(index, tuple) and len(index) == 2 and \
        index[0] == slice(None) else None
    if not isinstance(token, int) or isinstance(token, bool) or len(call.shape(source)) < 3:
        raise Unsupported(f"index {_show(index)} is not one token of a sequence")
    return _one("token_select", source, "getitem", index=token)


# -- the tables ----------------------------------------------------------------------------
def _function_table() -> dict[Callable[..., Any], OpConverter]:
    inplace = {"inplace": True}
    table: dict[Callable[..., Any], OpConverter] = {
        operator.add: _merge("add", ("a", "b")), operator.iadd: _merge("add", ("a", "b")),
        torch.add: _merge("add", ("input", "other")),
        operator.mul: _merge("multiply", ("a", "b")),
        operator.imul: _merge("multiply", ("a", "b")),
        torch.mul: _merge("multiply", ("input", "other")),
        torch.cat: _cat, torch.concat: _cat, torch.concatenate: _cat,
        torch.flatten: _flatten(("input", "start_dim", "end_dim")),
        torch.reshape: _reshape_function,
        torch.mean: _mean(("input", "dim", "keepdim")),
        F.relu: _unary("relu", ("input", "inplace"), ("inplace",), inplace=False),
        torch.relu: _unary("relu"), torch.relu_: _unary("relu", fixed=inplace),
        F.relu_: _unary("relu", fixed=inplace),
        F.leaky_relu: _unary("leaky_relu", ("input", "negative_slope", "inplace"),
                             ("negative_slope", "inplace"), negative_slope=0.01,
                             inplace=False),
        F.elu: _unary("elu", ("input", "alpha", "inplace"), ("alpha", "inplace"), alpha=1.0,
                      inplace=False),
        F.gelu: _unary("gelu", ("input", "approximate"), ("approximate",), approximate="none"),
        F.silu: _unary("silu", ("input", "inplace"), ("inplace",), inplace=False),
        F.hardswish: _unary("hardswish", ("input", "inplace"), ("inplace",), inplace=False),
        F.relu6: _unary("relu6", ("input", "inplace"), ("inplace",), inplace=False),
        F.hardsigmoid: _unary("hardsigmoid", ("input", "inplace"), ("inplace",),
                              inplace=False),
        F.mish: _unary("mish", ("input", "inplace"), ("inplace",), inplace=False),
        F.interpolate: _interpolate, torch.permute: _permute(("input",)),
        operator.getitem: _getitem,
        torch.sigmoid: _unary("sigmoid"), F.sigmoid: _unary("sigmoid"),
        torch.tanh: _unary("tanh"), F.tanh: _unary("tanh"),
        F.softmax: _softmax("softmax", ("input", "dim", "_stacklevel", "dtype")),
        torch.softmax: _softmax("softmax", ("input", "dim", "dtype")),
        F.log_softmax: _softmax("log_softmax", ("input", "dim", "_stacklevel", "dtype")),
        torch.log_softmax: _softmax("log_softmax", ("input", "dim", "dtype")),
        F.dropout: _dropout("dropout"), F.dropout2d: _dropout("dropout2d"),
        F.adaptive_avg_pool1d: _adaptive("adaptive_avgpool1d", 1),
        F.adaptive_avg_pool2d: _adaptive("adaptive_avgpool2d", 2),
        F.adaptive_max_pool2d: _adaptive("adaptive_maxpool2d", 2),
    }
    for dims in (1, 2, 3):
        table[getattr(F, f"max_pool{dims}d")] = _max_pool(dims)
        table[getattr(F, f"avg_pool{dims}d")] = _avg_pool(dims)
    return table


def _method_table() -> dict[str, OpConverter]:
    inplace = {"inplace": True}
    return {
        "permute": _permute(("self",)),
        "add": _merge("add", ("self", "other")), "add_": _merge("add", ("self", "other")),
        "mul": _merge("multiply", ("self", "other")),
        "mul_": _merge("multiply", ("self", "other")),
        "flatten": _flatten(("self", "start_dim", "end_dim")),
        "view": _view_method, "reshape": _view_method,
        "mean": _mean(("self", "dim", "keepdim")),
        "relu": _unary("relu", ("self",)), "relu_": _unary("relu", ("self",), fixed=inplace),
        "sigmoid": _unary("sigmoid", ("self",)), "tanh": _unary("tanh", ("self",)),
        "softmax": _softmax("softmax", ("self", "dim", "dtype")),
        "log_softmax": _softmax("log_softmax", ("self", "dim", "dtype")),
        "contiguous": _identity,
    }


#: Function object → converter.
FUNCTION_CONVERTERS: dict[Callable[..., Any], OpConverter] = _function_table()
#: Tensor method name → converter.
METHOD_CONVERTERS: dict[str, OpConverter] = _method_table()


def function_kind(function: Any) -> str:
    """A function's dotted name for messages: ``torch.roll``, ``operator.getitem``."""
    module = getattr(function, "__module__", None) or "torch"
    name = getattr(function, "__name__", None) or repr(function)
    if module.startswith("torch._C") or module == "torch._VariableFunctionsClass":
        module = "torch"
    return f"{module.lstrip('_')}.{name}"


def convert_call(call: OpCall) -> Mapped:
    """The blocks reproducing a ``call_function`` or ``call_method`` node.

    Raises:
        Unsupported: when no block reproduces the call, saying why.
    """
    node = call.node
    if node.op == "call_method":
        converter = METHOD_CONVERTERS.get(str(node.target))
        missing = "method not supported"
    else:
        converter = FUNCTION_CONVERTERS.get(node.target)  # type: ignore[arg-type]
        missing = "function not supported"
    if converter is None:
        raise Unsupported(missing)
    return converter(call)
