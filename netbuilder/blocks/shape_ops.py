"""Blocks that move values around without weights: upsampling, channel shuffle, permute.

* ``upsample`` — ``torch.nn.Upsample``, nearest (1 to 3 spatial dimensions) or bilinear
  (C×H×W), by a scale factor (out = ⌊H·s⌋) or to a fixed size;
* ``channel_shuffle`` — ``torch.nn.ChannelShuffle`` (ShuffleNet): C channels in g groups
  become C/g rows read column by column;
* ``permute`` — reorders the dimensions of one sample (the batch stays first), as
  ``x.permute(0, *[d + 1 for d in dims])`` would;
* ``split`` — cuts one input along ``dim`` into several outputs (``out0``, ``out1``…):
  ``chunks`` parts as ``torch.chunk`` does, or parts of the given ``sizes`` as
  ``torch.split`` does; its number of output ports follows its parameters;
* ``reshape`` — gives each sample a new shape of as many elements
  (``x.reshape(x.shape[0], *shape)``), one size possibly -1.

None has parameters or multiply-adds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks.formatting import describe, dot, fmt_int, fmt_num, times
from netbuilder.blocks.lazy_torch import block_modules, torch_nn
from netbuilder.blocks.params import param_error
from netbuilder.blocks.shape_checks import batch_dim, single_input
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import BlockSpec, Inference, Params, ParamSpec, Shape, ShapeError


@dataclass(frozen=True)
class UpsampleSpec(BlockSpec):
    """``torch.nn.Upsample`` by ``scale_factor`` or to ``size``."""

    def check(self, params: Params, node: str = "") -> None:
        """Exactly one of ``size`` and ``scale_factor``."""
        if (params["size"] is None) == (params["scale_factor"] is None):
            raise param_error(node, "set either size or scale_factor (not both)")
        if params["size"] is not None and len(params["size"]) > 3:
            raise param_error(node, "size is one side or one per spatial dimension")

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Channels kept; each side ⌊side·scale⌋, or the given size."""
        ranks = (3,) if params["mode"] == "bilinear" else (2, 3, 4)
        channels, *sides = single_input(self.key, inputs, ranks)
        axes = "HW" if len(sides) == 2 else "L" if len(sides) == 1 else "DHW"
        if params["size"] is not None:
            size = tuple(params["size"])
            if len(size) not in (1, len(sides)):
                raise ShapeError(f"size {describe(size)} does not fit the input's "
                                 f"{len(sides)} spatial dimensions", (0,))
            out = (channels, *(size * len(sides))[:len(sides)])
            formulas: tuple[str, ...] = (f"{'×'.join(axes)}: {describe(out[1:])} (size)",)
        else:
            scale = params["scale_factor"]
            out = (channels, *(math.floor(s * scale) for s in sides))
            formulas = tuple(f"{axis}: ⌊{s}·{fmt_num(scale)}⌋ = {o}"
                             for axis, s, o in zip(axes, sides, out[1:]))
        if min(out[1:]) < 1:
            raise ShapeError(f"upsample: the output {describe(out)} is empty", (0,))
        return Inference(out, formulas=formulas)

    def label(self, params: Params) -> str:
        """``×2 nearest`` or ``56×56 bilinear``."""
        if params["size"] is not None:
            size = "×".join(map(str, params["size"]))
        else:
            size = f"×{fmt_num(params['scale_factor'])}"
        return f"{size} {params['mode']}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.Upsample`` (``align_corners`` only for bilinear; one size for every side)."""
        size = params["size"]
        spatial = len(inputs[0]) - 1
        return torch_nn().Upsample(
            size=None if size is None else tuple(size) * spatial if len(size) == 1 else tuple(size),
            scale_factor=params["scale_factor"], mode=params["mode"],
            align_corners=params["align_corners"] if params["mode"] == "bilinear" else None)


@dataclass(frozen=True)
class ChannelShuffleSpec(BlockSpec):
    """``torch.nn.ChannelShuffle``: interleave the channels of ``groups`` groups."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The input shape; the channels must divide into the groups."""
        shape = single_input(self.key, inputs, (2, 3, 4))
        if shape[0] % params["groups"]:
            raise ShapeError(f"{shape[0]} channels do not divide into {params['groups']} "
                             "groups", (0,))
        rows = shape[0] // params["groups"]
        return Inference(shape, formulas=(
            f"channels: {params['groups']} groups × {rows}, read column by column",))

    def label(self, params: Params) -> str:
        """``g=2``."""
        return f"g={params['groups']}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.ChannelShuffle(groups)``."""
        return torch_nn().ChannelShuffle(params["groups"])


def parse_dims(text: str) -> tuple[int, ...]:
    """``"1, 2, 0"`` → ``(1, 2, 0)``.

    Raises:
        ValueError: when the text is not comma-separated whole numbers.
    """
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


@dataclass(frozen=True)
class PermuteSpec(BlockSpec):
    """Reorder the dimensions of a sample (``dims`` counts without the batch)."""

    def check(self, params: Params, node: str = "") -> None:
        """``dims`` is a permutation of 0…n−1."""
        try:
            dims = parse_dims(params["dims"])
        except ValueError:
            raise param_error(node, f"dims={params['dims']!r}: whole numbers separated by "
                                    "commas") from None
        if sorted(dims) != list(range(len(dims))):
            raise param_error(node, f"dims={params['dims']!r} is not an order of 0…"
                                    f"{len(dims) - 1}")

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The input's sizes in the order ``dims`` gives."""
        shape = single_input(self.key, inputs)
        dims = parse_dims(params["dims"])
        if len(dims) != len(shape):
            raise ShapeError(f"dims {params['dims']} orders {len(dims)} dimensions, the "
                             f"input {describe(shape)} has {len(shape)}", (0,))
        out = tuple(shape[d] for d in dims)
        return Inference(out, formulas=(f"{describe(shape)} → {describe(out)}",))

    def label(self, params: Params) -> str:
        """``(1, 2, 0)``."""
        return f"({params['dims']})"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torchvision.ops.Permute`` with the batch first."""
        from torchvision.ops import Permute

        return Permute([0, *(d + 1 for d in parse_dims(params["dims"]))])


#: Most parts a split makes.
MAX_PARTS = 64


def split_sizes(params: Params) -> tuple[int, ...]:
    """The part sizes a split's ``sizes`` text gives (empty: split into ``chunks``).

    Raises:
        ValueError: when the text is not comma-separated whole numbers.
    """
    return parse_dims(str(params.get("sizes") or ""))


def part_count(params: Params) -> int:
    """How many outputs a split with ``params`` has."""
    try:
        sizes = split_sizes(params)
    except ValueError:
        sizes = ()
    return len(sizes) if sizes else int(params.get("chunks", 2))


def chunk_sizes(length: int, chunks: int) -> list[int]:
    """The parts ``torch.chunk`` cuts ``length`` into: ⌈length/chunks⌉ each, the rest last.

    There may be fewer than ``chunks`` parts (``torch.chunk`` of 6 into 4 gives 2, 2, 2).
    """
    step = -(-length // chunks)
    return [min(step, length - start) for start in range(0, length, step)]


@dataclass(frozen=True)
class SplitSpec(BlockSpec):
    """Cut one input along ``dim`` into ``chunks`` parts or parts of ``sizes``."""

    def check(self, params: Params, node: str = "") -> None:
        """``sizes``, when given, is 2 to :data:`MAX_PARTS` positive whole numbers."""
        try:
            sizes = split_sizes(params)
        except ValueError:
            raise param_error(node, f"sizes={params['sizes']!r}: whole numbers separated by "
                                    "commas") from None
        if sizes and (not 2 <= len(sizes) <= MAX_PARTS or min(sizes) < 1):
            raise param_error(node, f"sizes={params['sizes']!r}: 2 to {MAX_PARTS} positive "
                                    "sizes (or none, to cut into chunks)")

    def output_ports(self, params: Params) -> tuple[str, ...]:
        """``out0``, ``out1``… one per part."""
        return tuple(f"out{i}" for i in range(part_count(params)))

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """One shape per part: the input's, with the cut dimension's share of it.

        Raises:
            ShapeError: when the sizes do not add up to the input's length along ``dim``,
                or that length does not make ``chunks`` chunks.
        """
        shape = single_input(self.key, inputs)
        axis = batch_dim(params["dim"], len(shape))
        length, sizes = shape[axis], list(split_sizes(params))
        where = f"dim {params['dim']}"
        if sizes:
            if sum(sizes) != length:
                raise ShapeError(f"sizes {params['sizes']} add up to {sum(sizes)}, but the "
                                 f"input has {length} along {where}", (0,))
            formula = f"{where}: {' + '.join(map(str, sizes))} = {length}"
        else:
            chunks = params["chunks"]
            sizes = chunk_sizes(length, chunks)
            if len(sizes) != chunks:
                raise ShapeError(f"{length} along {where} does not make {chunks} chunks: "
                                 f"torch.chunk cuts ⌈{length}/{chunks}⌉ = {sizes[0]} each and "
                                 f"gives {len(sizes)}; set sizes instead", (0,))
            last = f", the last {sizes[-1]}" if sizes[-1] != sizes[0] else ""
            formula = f"{where}: ⌈{length}/{chunks}⌉ = {sizes[0]} each{last}"
        parts = tuple((*shape[:axis], size, *shape[axis + 1:]) for size in sizes)
        ports = ", ".join(f"out{i}: {times(p)}" for i, p in enumerate(parts))
        return Inference(parts[0], outputs=parts, formulas=(formula, ports))

    def label(self, params: Params) -> str:
        """``2 chunks`` or ``16 | 48``, and the dimension unless it is the channels."""
        sizes = split_sizes(params)
        text = " | ".join(map(str, sizes)) if sizes else f"{params['chunks']} chunks"
        return text if params["dim"] == 1 else f"{text}, dim={params['dim']}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """:class:`~netbuilder.blocks.modules.Split`."""
        sizes = split_sizes(params)
        return block_modules().Split(params["chunks"], sizes or None, params["dim"])


@dataclass(frozen=True)
class ReshapeSpec(BlockSpec):
    """Give each sample a new ``shape`` of as many elements (one size may be -1)."""

    def check(self, params: Params, node: str = "") -> None:
        """``shape`` is positive whole numbers, at most one of them -1."""
        try:
            shape = parse_dims(params["shape"])
        except ValueError:
            shape = ()
        if not shape or shape.count(-1) > 1 or any(s < 1 and s != -1 for s in shape):
            raise param_error(node, f"shape={params['shape']!r}: positive whole numbers "
                                    "separated by commas, one of them may be -1")

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The target shape, its -1 filled in; as many elements as the input.

        Raises:
            ShapeError: when the element counts differ (or the -1 cannot be filled).
        """
        shape = single_input(self.key, inputs)
        target, total = parse_dims(params["shape"]), math.prod(shape)
        elements = f"elements: {dot(shape)} = {fmt_int(total)}"
        known = math.prod(s for s in target if s != -1)
        if -1 in target:
            if total % known:
                raise ShapeError(f"{describe(shape)} has {fmt_int(total)} elements, not a "
                                 f"multiple of {fmt_int(known)} (shape {params['shape']})",
                                 (0,))
            target = tuple(total // known if s == -1 else s for s in target)
            elements += f"; -1: {fmt_int(total)} / {fmt_int(known)} = {total // known}"
        elif known != total:
            raise ShapeError(f"{describe(shape)} has {fmt_int(total)} elements, shape "
                             f"{params['shape']} has {fmt_int(known)}", (0,))
        return Inference(target, formulas=(elements, f"{times(shape)} → {times(target)}"))

    def label(self, params: Params) -> str:
        """``(4, -1)``."""
        return f"({params['shape']})"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """:class:`~netbuilder.blocks.modules.Reshape`."""
        return block_modules().Reshape(parse_dims(params["shape"]))


def _specs() -> list[BlockSpec]:
    size = ParamSpec("size", "shape", None, 1, 4096, nullable=True,
                     help="Output height and width (instead of a scale factor)")
    scale = ParamSpec("scale_factor", "float", 2.0, 0.05, 64.0, nullable=True,
                      help="Multiplier of the height and width")
    mode = ParamSpec("mode", "choice", "nearest", choices=("nearest", "bilinear"),
                     help='"nearest": copy pixels; "bilinear": interpolate')
    corners = ParamSpec("align_corners", "bool", False,
                        help="Bilinear only: align the corner pixels of input and output")
    groups = ParamSpec("groups", "int", 2, 1, 64, help="Number of channel groups")
    dims = ParamSpec("dims", "str", "1, 2, 0", help="New order of the dimensions, without the "
                                              "batch (1, 2, 0: C×H×W → H×W×C)")
    return [
        UpsampleSpec(key="upsample", title="Upsample", family="Structure",
                     params=(size, scale, mode, corners), default_name="up",
                     help="Enlarge an image by copying or interpolating pixels"),
        ChannelShuffleSpec(key="channel_shuffle", title="Channel Shuffle", family="Structure",
                           params=(groups,), default_name="shuffle",
                           help="Interleave channel groups (ShuffleNet)"),
        PermuteSpec(key="permute", title="Permute", family="Structure", params=(dims,),
                    default_name="permute", help="Reorder the dimensions of each sample"),
        SplitSpec(key="split", title="Split / Chunk", family="Structure",
                  params=_split_params(), outputs=("out0", "out1"), default_name="split",
                  help="Cut the input along a dimension into several outputs"),
        ReshapeSpec(key="reshape", title="Reshape", family="Structure",
                    params=(ParamSpec("shape", "str", "-1", help=(
                        "New shape of each sample, without the batch (4, -1: 4 rows of "
                        "whatever is left)")),),
                    default_name="reshape",
                    help="Give each sample a new shape with as many elements"),
    ]


def _split_params() -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("chunks", "int", 2, 2, MAX_PARTS,
                  help="Number of equal parts (as torch.chunk; the last may be smaller)"),
        ParamSpec("sizes", "str", "", help="Sizes of the parts instead, e.g. 16, 48 (as "
                                           "torch.split); empty: equal chunks"),
        ParamSpec("dim", "int", 1, -5, 4,
                  help="Dimension to cut along, counting the batch (1: channels)"),
    )


def register(registry: BlockRegistry) -> None:
    """Register the upsample, channel-shuffle, permute, split and reshape blocks."""
    for spec in _specs():
        registry.register(spec)
