"""Blocks that move values around without weights: upsampling, channel shuffle, permute.

* ``upsample`` — ``torch.nn.Upsample``, nearest (1 to 3 spatial dimensions) or bilinear
  (C×H×W), by a scale factor (out = ⌊H·s⌋) or to a fixed size;
* ``channel_shuffle`` — ``torch.nn.ChannelShuffle`` (ShuffleNet): C channels in g groups
  become C/g rows read column by column;
* ``permute`` — reorders the dimensions of one sample (the batch stays first), as
  ``x.permute(0, *[d + 1 for d in dims])`` would.

None has parameters or multiply-adds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks.formatting import describe, fmt_num
from netbuilder.blocks.lazy_torch import torch_nn
from netbuilder.blocks.params import param_error
from netbuilder.blocks.shape_checks import single_input
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
        """``torch.nn.Upsample`` (``align_corners`` only for bilinear)."""
        size = params["size"]
        spatial = len(inputs[0]) - 1
        return torch_nn().Upsample(
            size=None if size is None else (tuple(size) * spatial)[:spatial],
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
    ]


def register(registry: BlockRegistry) -> None:
    """Register the upsample, channel-shuffle and permute blocks."""
    for spec in _specs():
        registry.register(spec)
