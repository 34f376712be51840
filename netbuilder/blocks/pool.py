"""Pooling blocks: max and average pooling in 1, 2 and 3 dimensions, adaptive and global.

Pooling has no parameters and, by the MAC convention of :mod:`netbuilder.blocks`,
reports 0 MACs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks.formatting import fmt_ints, times
from netbuilder.blocks.lazy_torch import torch_nn
from netbuilder.blocks.params import (
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

_OPS = {"max": "Max", "avg": "Avg"}


@dataclass(frozen=True)
class PoolSpec(BlockSpec):
    """``torch.nn.MaxPoolNd`` / ``AvgPoolNd`` (``op`` is ``"max"`` or ``"avg"``)."""

    dims: int = 2
    op: str = "max"

    def check(self, params: Params, node: str = "") -> None:
        """Tuple lengths, and padding at most half the kernel (as torch demands)."""
        names = ("kernel_size", "stride", "padding", "dilation")
        check_lengths(params, names, self.dims, node)
        kernel = expand(params["kernel_size"], self.dims)
        for pad, k in zip(expand(params["padding"], self.dims), kernel):
            if pad > k // 2:
                raise param_error(node, f"padding {pad} is more than half the kernel size {k}")

    def windows(self, params: Params) -> Windows:
        """The sliding-window geometry; a missing stride is the kernel size."""
        kernel = expand(params["kernel_size"], self.dims)
        stride = params["stride"]
        return Windows(kernel, kernel if stride is None else expand(stride, self.dims),
                       expand(params["padding"], self.dims),
                       expand(params.get("dilation", 1), self.dims),
                       ceil_mode=params["ceil_mode"])

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Output ``C×spatial``; channels are unchanged."""
        shape = single_input(self.key, inputs, (self.dims + 1,))
        win = self.windows(params)
        if self.op == "avg" and self.dims == 3:
            _check_unpadded(shape[1:], win.kernel)
        out = win.check_outputs(shape[1:])
        return Inference((shape[0], *out), 0, 0, *win.receptive(), win.formulas(shape[1:]))

    def label(self, params: Params) -> str:
        """``2×2 s2`` (plus ``p1``, ``d2``, ``ceil`` when set)."""
        win = self.windows(params)
        text = f"{times(win.kernel)} s{fmt_ints(win.stride)}"
        if max(win.padding) > 0:
            text += f" p{fmt_ints(win.padding)}"
        if max(win.dilation) > 1:
            text += f" d{fmt_ints(win.dilation)}"
        return text + (" ceil" if params["ceil_mode"] else "")

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.MaxPoolNd`` or ``AvgPoolNd``."""
        module = getattr(torch_nn(), f"{_OPS[self.op]}Pool{self.dims}d")
        common = {"kernel_size": params["kernel_size"], "stride": params["stride"],
                  "padding": params["padding"], "ceil_mode": params["ceil_mode"]}
        if self.op == "max":
            return module(dilation=params["dilation"], **common)
        return module(count_include_pad=params["count_include_pad"], **common)


def _check_unpadded(sizes: Shape, kernel: tuple[int, ...]) -> None:
    """torch's 3-d average pooling refuses inputs smaller than the kernel, padding aside."""
    if any(n < k for n, k in zip(sizes, kernel)):
        raise ShapeError(f"the input {times(sizes)} is smaller than the kernel "
                         f"{times(kernel)} (3-d average pooling does not count the padding)",
                         (0,))


@dataclass(frozen=True)
class AdaptivePoolSpec(BlockSpec):
    """``torch.nn.AdaptiveMaxPoolNd`` / ``AdaptiveAvgPoolNd``: a fixed output size.

    For the receptive field, an output of size 1 sees the whole axis; otherwise ``kernel``
    is the widest of torch's windows (``⌊i·N/O⌋`` to ``⌈(i+1)·N/O⌉``) and ``stride`` is
    ``⌊N/O⌋`` (at least 1), an approximation since the windows are not evenly spaced.
    """

    dims: int = 2
    op: str = "avg"

    def output_size(self, params: Params) -> tuple[int, ...]:
        """The requested output size per spatial axis."""
        return expand(params["output_size"], self.dims)

    def check(self, params: Params, node: str = "") -> None:
        """``output_size`` has one value or one per spatial axis."""
        check_lengths(params, ("output_size",), self.dims, node)

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Output ``C×output_size`` whatever the input size."""
        shape = single_input(self.key, inputs, (self.dims + 1,))
        out = self.output_size(params)
        formulas = tuple(f"{axis}: {n} → {o}"
                         for axis, n, o in zip(SPATIAL_AXES[self.dims], shape[1:], out))
        kernel, stride = _adaptive_receptive(shape[1], out[0])
        return Inference((shape[0], *out), kernel=kernel, stride=stride, formulas=formulas)

    def label(self, params: Params) -> str:
        """The output size: ``6×6``."""
        return times(self.output_size(params))

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.AdaptiveMaxPoolNd`` or ``AdaptiveAvgPoolNd``."""
        module = getattr(torch_nn(), f"Adaptive{_OPS[self.op]}Pool{self.dims}d")
        return module(self.output_size(params))


def _adaptive_receptive(size: int, out: int) -> tuple[int, int]:
    if out == 1:
        return size, size
    widest = max(-(-(i + 1) * size // out) - i * size // out for i in range(out))
    return widest, max(1, size // out)


@dataclass(frozen=True)
class GlobalPoolSpec(AdaptivePoolSpec):
    """Adaptive pooling to 1 along every spatial axis: one value per channel."""

    def output_size(self, params: Params) -> tuple[int, ...]:
        """Always 1 per spatial axis."""
        return (1,) * self.dims

    def label(self, params: Params) -> str:
        """Nothing: the title says it all."""
        return ""


def _pool_params(op: str) -> tuple[ParamSpec, ...]:
    common = (kernel_param(2), stride_param(None, nullable=True),
              ParamSpec("padding", "ints", 0, 0, 32,
                        help="Padding on each side, at most half the kernel size"))
    ceil = ParamSpec("ceil_mode", "bool", False,
                     help="Round the output size up instead of down")
    if op == "max":
        return (*common, dilation_param(), ceil)
    include = ParamSpec("count_include_pad", "bool", True,
                        help="Count padding zeros in the average")
    return (*common, ceil, include)


def _pool(op: str, dims: int) -> PoolSpec:
    what = "maximum" if op == "max" else "average"
    return PoolSpec(key=f"{op}pool{dims}d", title=f"{_OPS[op]} Pool {dims}D", family="Pooling",
                    params=_pool_params(op), dims=dims, op=op, default_name="pool",
                    help=f"{dims}-d {what} over each window")


def _adaptive(op: str, dims: int) -> AdaptivePoolSpec:
    what = "maximum" if op == "max" else "average"
    size = ParamSpec("output_size", "ints", 1, 1, 4096,
                     help="Output size: one number, or one per spatial axis")
    return AdaptivePoolSpec(key=f"adaptive_{op}pool{dims}d",
                            title=f"Adaptive {_OPS[op]} Pool {dims}D", family="Pooling",
                            params=(size,), dims=dims, op=op, default_name="pool",
                            help=f"{dims}-d {what} pooling to a fixed output size")


def register(registry: BlockRegistry) -> None:
    """Register the pooling blocks."""
    for op in ("max", "avg"):
        for dims in (1, 2, 3):
            registry.register(_pool(op, dims))
    for op, dims in (("avg", 1), ("avg", 2), ("max", 2)):
        registry.register(_adaptive(op, dims))
    registry.register(GlobalPoolSpec(
        key="global_avgpool", title="Global Avg Pool", family="Pooling", dims=2, op="avg",
        default_name="gap", help="Average of each channel over the whole image (C×1×1)"))
