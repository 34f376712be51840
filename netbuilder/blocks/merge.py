"""Merge blocks: ``add``, ``multiply``, ``concat`` of several inputs, and ``channel_pad``.

``add``, ``multiply`` and ``concat`` have one multi-input port whose edges, in order, are
the inputs. Inputs of different ranks are refused even where torch would broadcast them,
because torch would then align the batch dimension with a feature dimension.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks.formatting import describe, fmt_int, times
from netbuilder.blocks.lazy_torch import block_modules
from netbuilder.blocks.shape_checks import batch_dim, single_input
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import (
    BlockSpec,
    Inference,
    Params,
    ParamSpec,
    PortSpec,
    Shape,
    ShapeError,
)

#: Names of the dimensions of a batch-less shape, by rank.
_DIM_NAMES = {1: ("features",), 2: ("channels", "length"), 3: ("channels", "height", "width"),
              4: ("channels", "depth", "height", "width")}
#: The dimension names in the plural, for "their heights differ".
_PLURALS = {"channels": "channel counts", "features": "feature counts", "length": "lengths",
            "depth": "depths", "height": "heights", "width": "widths"}
#: Symbols of the dimensions, for formulas.
_DIM_SYMBOLS = {1: ("F",), 2: ("C", "L"), 3: ("C", "H", "W"), 4: ("C", "D", "H", "W")}
_MULTI = (PortSpec("in", multi=True),)


def _count(key: str, inputs: Sequence[Shape], least: int) -> list[Shape]:
    """The input shapes as tuples, at least ``least`` of them."""
    if len(inputs) < least:
        raise ShapeError(f"{key} needs at least {least} input{'s' * (least > 1)}, "
                         f"got {len(inputs)}")
    return [tuple(s) for s in inputs]


def _same_rank(shapes: Sequence[Shape]) -> int:
    """The common rank of ``shapes``; raise naming the first input that differs."""
    for i, shape in enumerate(shapes[1:], 1):
        if len(shape) != len(shapes[0]):
            raise ShapeError(f"input {i + 1} is {describe(shape)} but input 1 is "
                             f"{describe(shapes[0])}", (0, i))
    return len(shapes[0])


def _mismatch(shapes: Sequence[Shape], first: int, second: int, axis: int,
              rule: str) -> ShapeError:
    """A ShapeError naming two inputs and the dimension where they disagree."""
    a, b = shapes[first], shapes[second]
    names = _DIM_NAMES.get(len(a), ())[axis:axis + 1]
    what = _PLURALS[names[0]] if names else f"sizes along dimension {axis + 1}"
    return ShapeError(f"input {second + 1} is {times(b)} but input {first + 1} is "
                      f"{times(a)}: their {what} differ ({b[axis]} vs {a[axis]}); {rule}",
                      (first, second))


def broadcast_warnings(shapes: Sequence[Shape], out: Shape) -> tuple[str, ...]:
    """One warning per input that torch broadcasts (repeats) to the output shape ``out``.

    A residual sum of 1 channel and 16 channels is legal in torch (the one channel is
    added to each of the 16) but is nearly always a wiring mistake.
    """
    warnings = []
    for index, shape in enumerate(shapes):
        axes = [axis for axis, size in enumerate(shape) if size != out[axis]]
        if not axes:
            continue
        names = _DIM_NAMES.get(len(out), ())
        if axes == [0] and names and names[0] in ("channels", "features"):
            repeated = f"its 1 {names[0][:-1]} is repeated {out[0]} times"
        else:
            what = " and ".join(names[a] if a < len(names) else f"dimension {a + 1}"
                                for a in axes)
            repeated = f"its {what} {'are' if len(axes) > 1 else 'is'} repeated"
        warnings.append(f"input {index + 1} is {times(shape)} and is broadcast to "
                        f"{times(out)}: {repeated}; give the inputs equal shapes unless "
                        f"the broadcast is meant")
    return tuple(warnings)


def broadcast(shapes: Sequence[Shape]) -> Shape:
    """The shape of an element-wise operation on ``shapes`` (same rank, torch broadcasting).

    Raises:
        ShapeError: naming the two inputs whose sizes are neither equal nor 1.
    """
    rank = _same_rank(shapes)
    out, owner = list(shapes[0]), [0] * rank
    for i, shape in enumerate(shapes[1:], 1):
        for axis, size in enumerate(shape):
            if size == out[axis] or size == 1:
                continue
            if out[axis] != 1:
                raise _mismatch(shapes, owner[axis], i, axis, "sizes must match or be 1")
            out[axis], owner[axis] = size, i
    return tuple(out)


@dataclass(frozen=True)
class ElementwiseSpec(BlockSpec):
    """Element-wise ``add`` or ``multiply`` of two or more inputs, with broadcasting.

    Attributes:
        module: Class name in :mod:`netbuilder.blocks.modules`.
        warn_broadcast: Warn when an input is broadcast (a sum of unequal shapes is
            nearly always a mistake; a product with a 16×1×1 scale is squeeze-excitation).
    """

    module: str = "Add"
    warn_broadcast: bool = False

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The broadcast shape of the inputs (usually all equal)."""
        shapes = _count(self.key, inputs, 2)
        shape = broadcast(shapes)
        warnings = broadcast_warnings(shapes, shape) if self.warn_broadcast else ()
        return Inference(shape, warnings=warnings)

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """The module from :mod:`netbuilder.blocks.modules`."""
        return getattr(block_modules(), self.module)()


@dataclass(frozen=True)
class ConcatSpec(BlockSpec):
    """Concatenation along ``dim`` (counted with the batch: 1 is the channels)."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Sizes along ``dim`` add up; every other dimension must agree.

        Raises:
            ShapeError: naming the first input that disagrees with the first input.
        """
        shapes = _count(self.key, inputs, 1)
        rank = _same_rank(shapes)
        axis = batch_dim(params["dim"], rank)
        for i, shape in enumerate(shapes[1:], 1):
            for other, size in enumerate(shape):
                if other != axis and size != shapes[0][other]:
                    rule = f"only dim {params['dim']} may differ"
                    raise _mismatch(shapes, 0, i, other, rule)
        sizes = [s[axis] for s in shapes]
        total = sum(sizes)
        symbol = _DIM_SYMBOLS.get(rank, ("",) * rank)[axis] or f"dim {axis + 1}"
        formula = f"{symbol}: {' + '.join(map(str, sizes))} = {fmt_int(total)}"
        shape = (*shapes[0][:axis], total, *shapes[0][axis + 1:])
        return Inference(shape, formulas=(formula,))

    def label(self, params: Params) -> str:
        """The dimension, unless it is the channels."""
        return "" if params["dim"] == 1 else f"dim={params['dim']}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """:class:`~netbuilder.blocks.modules.Concat`."""
        return block_modules().Concat(params["dim"])


@dataclass(frozen=True)
class ChannelPadSpec(BlockSpec):
    """ResNet "option A" shortcut: subsample by ``stride``, zero-pad to ``out_channels``."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """``out_channels×⌈H/s⌉×⌈W/s⌉``; no parameters.

        Raises:
            ShapeError: when the input already has more than ``out_channels`` channels.
        """
        channels, height, width = single_input(self.key, inputs, (3,))
        out, stride = params["out_channels"], params["stride"]
        if out < channels:
            raise ShapeError(f"out_channels {out} is fewer than the input's "
                             f"{channels} channels", (0,))
        before = (out - channels) // 2
        size = [-(-n // stride) for n in (height, width)]
        formulas = (f"C: {before} + {channels} + {out - channels - before} = {out}",
                    f"H: ⌈{height}/{stride}⌉ = {size[0]}", f"W: ⌈{width}/{stride}⌉ = {size[1]}")
        return Inference((out, *size), kernel=1, stride=stride, formulas=formulas)

    def label(self, params: Params) -> str:
        """``32, s2``."""
        return f"{params['out_channels']}, s{params['stride']}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """:class:`~netbuilder.blocks.modules.ChannelPad`."""
        return block_modules().ChannelPad(params["out_channels"], params["stride"])


def register(registry: BlockRegistry) -> None:
    """Register the merge blocks."""
    registry.register(ElementwiseSpec(
        key="add", title="Add", family="Merge", inputs=_MULTI, module="Add",
        warn_broadcast=True, default_name="add",
        help="Element-wise sum of two or more inputs (residual join)"))
    registry.register(ElementwiseSpec(
        key="multiply", title="Multiply", family="Merge", inputs=_MULTI, module="Multiply",
        default_name="mul", help="Element-wise product of two or more inputs (broadcasting)"))
    registry.register(ConcatSpec(
        key="concat", title="Concat", family="Merge", inputs=_MULTI, default_name="cat",
        params=(ParamSpec("dim", "int", 1, -5, 4,
                          help="Dimension to join along, counting the batch (1: channels)"),),
        help="Join inputs along a dimension (Inception, DenseNet)"))
    registry.register(ChannelPadSpec(
        key="channel_pad", title="Channel Pad", family="Merge", default_name="shortcut",
        params=(ParamSpec("out_channels", "int", 32, 1, 16384,
                          help="Channels after zero-padding"),
                ParamSpec("stride", "int", 2, 1, 16, help="Spatial subsampling step")),
        help='Parameter-free ResNet shortcut ("option A"): subsample, zero-pad channels'))
