"""Convolution and linear blocks: ``conv1d/2d/3d``, ``conv_transpose2d``, ``linear``.

``in_channels`` and ``in_features`` are never parameters: they are read from the incoming
shape, so a node keeps working when the layer before it changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks.formatting import dot, fmt_int, fmt_ints, times
from netbuilder.blocks.lazy_torch import torch_nn
from netbuilder.blocks.params import (
    bias_param,
    check_lengths,
    dilation_param,
    expand,
    kernel_param,
    param_error,
    stride_param,
)
from netbuilder.blocks.shape_checks import single_input
from netbuilder.blocks.windows import SPATIAL_AXES, Windows
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import BlockSpec, Inference, Params, ParamSpec, Shape, ShapeError

_OUT_CHANNELS = ParamSpec("out_channels", "int", 16, 1, 16384,
                          help="Number of filters, i.e. output channels")
_GROUPS = ParamSpec("groups", "int", 1, 1, 16384,
                    help="Split channels into this many independent groups (1: dense)")


def _in_per_group(channels: int, groups: int) -> int:
    """Input channels seen by each filter; raise when they do not split into groups."""
    if channels % groups:
        raise ShapeError(f"in_channels {channels} is not divisible by groups {groups}",
                         (0,))
    return channels // groups


def _channels_term(channels: int, groups: int) -> str:
    """How the input channels of one filter appear in a product: ``3`` or ``(32/4)``."""
    return str(channels) if groups == 1 else f"({channels}/{groups})"


def _params_formula(factors: Sequence[Any], bias: int, total: int) -> str:
    """``params: 5·5·3·6 + 6 = 456`` (no ``+ bias`` term without bias)."""
    text = f"params: {dot(factors)}"
    return f"{text} + {bias} = {fmt_int(total)}" if bias else f"{text} = {fmt_int(total)}"


def _check_groups(params: Params, node: str) -> None:
    if params["out_channels"] % params["groups"]:
        raise param_error(node, f"out_channels {params['out_channels']} is not divisible by "
                                f"groups {params['groups']}")


@dataclass(frozen=True)
class ConvSpec(BlockSpec):
    """``torch.nn.Conv1d/2d/3d`` on a ``C×spatial`` input of ``dims`` spatial axes."""

    dims: int = 2

    def check(self, params: Params, node: str = "") -> None:
        """Tuple lengths, channel groups, and torch's "no same padding with stride" rule."""
        check_lengths(params, ("kernel_size", "stride", "padding", "dilation"), self.dims, node)
        _check_groups(params, node)
        if params["padding"] == "same" and max(expand(params["stride"], self.dims)) > 1:
            raise param_error(node, 'padding "same" needs stride 1 (torch refuses strided '
                                    '"same" convolutions)')

    def windows(self, params: Params) -> Windows:
        """The sliding-window geometry of these parameters."""
        padding = params["padding"]
        pad = 0 if isinstance(padding, str) else padding
        return Windows(expand(params["kernel_size"], self.dims),
                       expand(params["stride"], self.dims), expand(pad, self.dims),
                       expand(params["dilation"], self.dims), same=padding == "same")

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Output ``out_channels×spatial``, weights, MACs and the arithmetic behind them."""
        shape = single_input(self.key, inputs, (self.dims + 1,))
        channels, sizes, groups = shape[0], shape[1:], params["groups"]
        per_group = _in_per_group(channels, groups)
        win = self.windows(params)
        win.check_fits(sizes)
        out, cout = win.outputs(sizes), params["out_channels"]
        fan_in = math.prod(win.kernel) * per_group
        bias = cout if params["bias"] else 0
        total, macs = fan_in * cout + bias, math.prod(out) * cout * fan_in
        kernel_terms = (*win.kernel, _channels_term(channels, groups))
        formulas = (*win.formulas(sizes), _params_formula((*kernel_terms, cout), bias, total),
                    f"MACs: {dot((*out, cout))} · {dot(kernel_terms)} = {fmt_int(macs)}")
        return Inference((cout, *out), total, macs, *win.receptive(), formulas)

    def label(self, params: Params) -> str:
        """``5×5, 16, s1 p2`` (plus ``d2`` / ``g4`` when dilated or grouped)."""
        padding = params["padding"]
        pad = padding if isinstance(padding, str) else f"p{fmt_ints(padding)}"
        text = (f"{times(expand(params['kernel_size'], self.dims))}, {params['out_channels']}, "
                f"s{fmt_ints(params['stride'])} {pad}")
        return text + _extras(params)

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.ConvNd`` with ``in_channels`` taken from the input."""
        module = getattr(torch_nn(), f"Conv{self.dims}d")
        return module(inputs[0][0], params["out_channels"], params["kernel_size"],
                      stride=params["stride"], padding=params["padding"],
                      dilation=params["dilation"], groups=params["groups"],
                      bias=params["bias"])


def _extras(params: Params) -> str:
    text = ""
    if fmt_ints(params["dilation"]) != "1":
        text += f" d{fmt_ints(params['dilation'])}"
    if params["groups"] != 1:
        text += f" g{params['groups']}"
    return text


@dataclass(frozen=True)
class ConvTransposeSpec(BlockSpec):
    """``torch.nn.ConvTranspose1d/2d/3d``: a learnable upsampling.

    For the receptive field an upsampling step would have a stride below 1, which
    :class:`~netbuilder.core.spec.Inference` cannot express: it reports stride 1 and, as
    kernel, the number of input positions one output depends on, ``⌈(D·(K − 1) + 1)/S⌉``.
    """

    dims: int = 2

    def check(self, params: Params, node: str = "") -> None:
        """Tuple lengths, groups, and output_padding below stride or dilation."""
        names = ("kernel_size", "stride", "padding", "output_padding", "dilation")
        check_lengths(params, names, self.dims, node)
        _check_groups(params, node)
        stride, dilation, extra = (expand(params[n], self.dims)
                                   for n in ("stride", "dilation", "output_padding"))
        for s, d, op in zip(stride, dilation, extra):
            if op >= s and op >= d:
                raise param_error(node, f"output_padding {op} must be smaller than the "
                                        f"stride {s} or the dilation {d}")

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Output ``out_channels×spatial`` with ``(N − 1)·S − 2P + D·(K − 1) + OP + 1``."""
        shape = single_input(self.key, inputs, (self.dims + 1,))
        channels, sizes, groups = shape[0], shape[1:], params["groups"]
        _in_per_group(channels, groups)
        axes = [expand(params[n], self.dims) for n in
                ("kernel_size", "stride", "padding", "dilation", "output_padding")]
        rows = [_transposed_axis(name, n, *axis) for name, n, axis in
                zip(SPATIAL_AXES[self.dims], sizes, zip(*axes))]
        out = tuple(size for size, _ in rows)
        if min(out) < 1:
            raise ShapeError(f"the output would be {times(out)}: the padding trims away the "
                             "whole upsampled input", (0,))
        return self._costs(params, shape, out, tuple(text for _, text in rows))

    def _costs(self, params: Params, shape: Shape, out: Shape,
               formulas: tuple[str, ...]) -> Inference:
        kernel = expand(params["kernel_size"], self.dims)
        channels, cout, groups = shape[0], params["out_channels"], params["groups"]
        bias = cout if params["bias"] else 0
        weights = channels * (cout // groups) * math.prod(kernel)
        macs = math.prod(shape[1:]) * weights
        out_term = _channels_term(cout, groups)
        formulas += (_params_formula((*kernel, channels, out_term), bias, weights + bias),
                     f"MACs: {dot((*shape[1:], channels))} · {dot((*kernel, out_term))} "
                     f"= {fmt_int(macs)}")
        stride = expand(params["stride"], self.dims)[0]
        dilation = expand(params["dilation"], self.dims)[0]
        reach = math.ceil((dilation * (kernel[0] - 1) + 1) / stride)
        return Inference((cout, *out), weights + bias, macs, reach, 1, formulas)

    def label(self, params: Params) -> str:
        """``2×2, 16, s2 p0``."""
        return (f"{times(expand(params['kernel_size'], self.dims))}, {params['out_channels']}, "
                f"s{fmt_ints(params['stride'])} p{fmt_ints(params['padding'])}"
                + _extras(params))

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.ConvTransposeNd`` with ``in_channels`` taken from the input."""
        module = getattr(torch_nn(), f"ConvTranspose{self.dims}d")
        return module(inputs[0][0], params["out_channels"], params["kernel_size"],
                      stride=params["stride"], padding=params["padding"],
                      output_padding=params["output_padding"], groups=params["groups"],
                      bias=params["bias"], dilation=params["dilation"])


def _transposed_axis(name: str, size: int, kernel: int, stride: int, pad: int,
                     dilation: int, extra: int) -> tuple[int, str]:
    """Output size of one transposed-convolution axis and its arithmetic."""
    out = (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + extra + 1
    reach = f"({kernel} − 1)" if dilation == 1 else f"{dilation}·({kernel} − 1)"
    more = f" + {extra}" if extra else ""
    return out, f"{name}: ({size} − 1)·{stride} − 2·{pad} + {reach}{more} + 1 = {out}"


@dataclass(frozen=True)
class LinearSpec(BlockSpec):
    """``torch.nn.Linear``: a fully connected layer on the last dimension."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Output ``(*leading, out_features)``; ``in_features`` is the last input dim."""
        shape = single_input(self.key, inputs)
        leading, fan_in, fan_out = shape[:-1], shape[-1], params["out_features"]
        bias = fan_out if params["bias"] else 0
        total = fan_in * fan_out + bias
        macs = math.prod(leading) * fan_in * fan_out
        rows = f"{dot(leading)} · " if leading else ""
        formulas = (_params_formula((fan_in, fan_out), bias, total),
                    f"MACs: {rows}{fan_in}·{fan_out} = {fmt_int(macs)}")
        return Inference((*leading, fan_out), total, macs, formulas=formulas)

    def label(self, params: Params) -> str:
        """The number of outputs: ``120``."""
        return str(params["out_features"])

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.Linear`` with ``in_features`` taken from the input."""
        return torch_nn().Linear(inputs[0][-1], params["out_features"], bias=params["bias"])


def _conv_params() -> tuple[ParamSpec, ...]:
    return (_OUT_CHANNELS, kernel_param(3), stride_param(1),
            ParamSpec("padding", "padding", 0, 0, 64,
                      help='Zeros added on each side; "same" keeps the size, "valid" adds none'),
            dilation_param(), _GROUPS, bias_param())


def _transpose_params() -> tuple[ParamSpec, ...]:
    return (_OUT_CHANNELS, kernel_param(2), stride_param(2),
            ParamSpec("padding", "ints", 0, 0, 64,
                      help="Rows and columns trimmed from each side of the output"),
            ParamSpec("output_padding", "ints", 0, 0, 63,
                      help="Extra size added on one side (below stride or dilation)"),
            _GROUPS, bias_param(), dilation_param())


def _conv(dims: int) -> ConvSpec:
    return ConvSpec(key=f"conv{dims}d", title=f"Conv {dims}D", family="Convolution",
                    params=_conv_params(), dims=dims, default_name="conv",
                    help=f"{dims}-d convolution: learnable filters slid over the input")


def register(registry: BlockRegistry) -> None:
    """Register the convolution and linear blocks."""
    for dims in (1, 2, 3):
        registry.register(_conv(dims))
    registry.register(ConvTransposeSpec(
        key="conv_transpose2d", title="Conv Transpose 2D", family="Convolution",
        params=_transpose_params(), dims=2, default_name="deconv",
        help="Transposed 2-d convolution: learnable upsampling"))
    registry.register(LinearSpec(
        key="linear", title="Linear", family="Linear", default_name="fc",
        params=(ParamSpec("out_features", "int", 10, 1, 1_000_000,
                          help="Number of output features"), bias_param()),
        help="Fully connected layer applied to the last dimension"))
