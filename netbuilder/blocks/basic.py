"""Structural blocks: ``input``, ``output``, ``flatten``, ``identity`` and the group blocks.

``group`` is the generic user group: its ports are its body's ``group_input`` and
``group_output`` nodes, so it declares none, and the analysis descends into the body
instead of calling :meth:`~netbuilder.core.spec.BlockSpec.infer` on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks.formatting import dot, fmt_int, times
from netbuilder.blocks.lazy_torch import torch_nn
from netbuilder.blocks.shape_checks import batch_dim, single_input
from netbuilder.blocks.windows import whole_extent
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import (
    GROUP,
    GROUP_INPUT,
    GROUP_OUTPUT,
    INPUT,
    OUTPUT,
    BlockSpec,
    Inference,
    Params,
    ParamSpec,
    Shape,
    ShapeError,
)


@dataclass(frozen=True)
class InputSpec(BlockSpec):
    """The network input: a sample of the declared ``shape`` (no batch dimension)."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The declared shape."""
        if inputs:
            raise ShapeError(f"{self.key} takes no inputs, got {len(inputs)}")
        return Inference(tuple(params["shape"]))

    def label(self, params: Params) -> str:
        """The shape: ``1×28×28``."""
        return times(params["shape"])

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.Identity``."""
        return torch_nn().Identity()


@dataclass(frozen=True)
class PassThroughSpec(BlockSpec):
    """A block whose output is its one input: ``identity``, ``output``, group ports.

    ``group_input`` declares no input port; the analysis gives it the shape arriving at
    the group's port of the same name as its one input.
    """

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The input shape, unchanged."""
        return Inference(single_input(self.key, inputs))

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.Identity``."""
        return torch_nn().Identity()


@dataclass(frozen=True)
class GroupSpec(BlockSpec):
    """A user group: a node whose body is a subgraph; it is never inferred directly."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Not available: a group is analysed through its body."""
        raise NotImplementedError("a group is analysed through its body")


@dataclass(frozen=True)
class FlattenSpec(BlockSpec):
    """``torch.nn.Flatten``: merge dimensions ``start_dim..end_dim`` (counted with batch)."""

    def span(self, params: Params, shape: Shape) -> tuple[int, int]:
        """First and last batch-less dimension merged.

        Raises:
            ShapeError: when a dimension is out of range, is the batch, or they are reversed.
        """
        start = batch_dim(params["start_dim"], len(shape), "start_dim")
        end = batch_dim(params["end_dim"], len(shape), "end_dim")
        if start > end:
            raise ShapeError(f"start_dim {params['start_dim']} comes after "
                             f"end_dim {params['end_dim']}", (0,))
        return start, end

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The merged shape; it sees the whole first spatial axis when merging it."""
        shape = single_input(self.key, inputs)
        start, end = self.span(params, shape)
        merged = shape[start:end + 1]
        size = math.prod(merged)
        kernel, stride = whole_extent(shape) if start <= 1 <= end and start < end else (1, 1)
        return Inference((*shape[:start], size, *shape[end + 1:]), kernel=kernel,
                         stride=stride, formulas=(f"out: {dot(merged)} = {fmt_int(size)}",))

    def label(self, params: Params) -> str:
        """The span when it is not everything but the batch."""
        start, end = params["start_dim"], params["end_dim"]
        return "" if (start, end) == (1, -1) else f"{start}..{end}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.Flatten``."""
        return torch_nn().Flatten(params["start_dim"], params["end_dim"])


def _dim(name: str, default: int, what: str) -> ParamSpec:
    return ParamSpec(name, "int", default, -5, 4,
                     help=f"{what} dimension merged, counting the batch (1: channels)")


def _specs() -> list[BlockSpec]:
    shape = ParamSpec("shape", "shape", (1, 28, 28), 1, 8192,
                      help="One sample's shape without the batch: C×H×W, or features")
    structure = "Structure"
    return [
        InputSpec(key=INPUT, title="Input", family="Input/Output", params=(shape,),
                  inputs=(), default_name="input", help="The network input"),
        PassThroughSpec(key=OUTPUT, title="Output", family="Input/Output", outputs=(),
                        default_name="output", help="A network output"),
        FlattenSpec(key="flatten", title="Flatten", family=structure, default_name="flatten",
                    params=(_dim("start_dim", 1, "First"), _dim("end_dim", -1, "Last")),
                    help="Merge dimensions into one (C×H×W → C·H·W features)"),
        PassThroughSpec(key="identity", title="Identity", family=structure,
                        default_name="identity", help="Passes its input through unchanged"),
        GroupSpec(key=GROUP, title="Group", family=structure, inputs=(), outputs=(),
                  default_name="group", help="A group of blocks drawn as one"),
        PassThroughSpec(key=GROUP_INPUT, title="Group Input", family=structure, inputs=(),
                        default_name="in", help="An input port of the enclosing group"),
        PassThroughSpec(key=GROUP_OUTPUT, title="Group Output", family=structure, outputs=(),
                        default_name="out", help="An output port of the enclosing group"),
    ]


def register(registry: BlockRegistry) -> None:
    """Register the structural blocks."""
    for spec in _specs():
        registry.register(spec)
