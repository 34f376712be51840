"""Normalisation blocks: batch norm (1, 2, 3-d), layer norm, group norm, local response norm.

The number of normalised features (``num_features``, ``normalized_shape``,
``num_channels``) is always read from the incoming shape. Batch norm's buffers count its
running mean and variance but not its ``num_batches_tracked`` counter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks.formatting import describe, dot, fmt_int
from netbuilder.blocks.lazy_torch import torch_nn
from netbuilder.blocks.params import eps_param
from netbuilder.blocks.shape_checks import min_rank, single_input
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import BlockSpec, Inference, Params, ParamSpec, Shape, ShapeError

_AFFINE = ParamSpec("affine", "bool", True, help="Learn a scale γ and shift β per channel")
#: Batch-less ranks each batch norm accepts.
_BATCHNORM_RANKS = {1: (1, 2), 2: (3,), 3: (4,)}


def _affine_formula(factors: Sequence[Any], total: int) -> tuple[str, ...]:
    """``params: 2·16 = 32``, or nothing when there are no parameters."""
    return (f"params: {dot(factors)} = {fmt_int(total)}",) if total else ()


@dataclass(frozen=True)
class BatchNormSpec(BlockSpec):
    """``torch.nn.BatchNorm1d/2d/3d``: normalise each channel over the batch."""

    dims: int = 2

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Same shape; ``2·C`` parameters (γ, β) and ``2·C`` buffers (running stats)."""
        shape = single_input(self.key, inputs, _BATCHNORM_RANKS[self.dims])
        channels = shape[0]
        total = 2 * channels if params["affine"] else 0
        buffers = 2 * channels if params["track_running_stats"] else 0
        formulas = _affine_formula((2, channels), total)
        if buffers:
            formulas += (f"buffers: 2·{channels} = {fmt_int(buffers)} "
                         "(running mean and variance)",)
        return Inference(shape, total, formulas=formulas, buffers=buffers)

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.BatchNormNd`` with ``num_features`` taken from the input."""
        module = getattr(torch_nn(), f"BatchNorm{self.dims}d")
        return module(inputs[0][0], eps=params["eps"], momentum=params["momentum"],
                      affine=params["affine"],
                      track_running_stats=params["track_running_stats"])


@dataclass(frozen=True)
class LayerNormSpec(BlockSpec):
    """``torch.nn.LayerNorm`` over the last ``normalized_dims`` dimensions of the input."""

    def normalized_shape(self, params: Params, shape: Shape) -> Shape:
        """The trailing dimensions normalised together.

        Raises:
            ShapeError: when the input has fewer dimensions than ``normalized_dims``.
        """
        count = params["normalized_dims"]
        if len(shape) < count:
            raise ShapeError(f"{self.key} normalises the last {count} dimensions but the "
                             f"input is {describe(shape)}", (0,))
        return shape[-count:]

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Same shape; a scale (and shift) per normalised element when affine."""
        shape = single_input(self.key, inputs)
        normalized = self.normalized_shape(params, shape)
        terms = (2 if params["bias"] else 1) if params["elementwise_affine"] else 0
        total = terms * math.prod(normalized)
        return Inference(shape, total, formulas=_affine_formula((terms, *normalized), total))

    def label(self, params: Params) -> str:
        """How many trailing dimensions are normalised, unless just the last."""
        count = params["normalized_dims"]
        return "" if count == 1 else f"last {count} dims"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.LayerNorm`` with ``normalized_shape`` taken from the input."""
        return torch_nn().LayerNorm(self.normalized_shape(params, tuple(inputs[0])),
                                    eps=params["eps"],
                                    elementwise_affine=params["elementwise_affine"],
                                    bias=params["bias"])


@dataclass(frozen=True)
class ChannelLayerNormSpec(BlockSpec):
    """Layer norm over the channels at each position of a C×H×W image (ConvNeXt's)."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Same shape; a scale and a shift per channel when affine."""
        shape = single_input(self.key, inputs, (3,))
        terms = 2 if params["elementwise_affine"] else 0
        total = terms * shape[0]
        return Inference(shape, total, formulas=_affine_formula((terms, shape[0]), total))

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """torchvision's ``LayerNorm2d`` over the input's channels."""
        from torchvision.models.convnext import LayerNorm2d

        return LayerNorm2d(inputs[0][0], eps=params["eps"],
                           elementwise_affine=params["elementwise_affine"])


@dataclass(frozen=True)
class GroupNormSpec(BlockSpec):
    """``torch.nn.GroupNorm``: normalise groups of channels within each sample."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Same shape; ``2·C`` parameters when affine.

        Raises:
            ShapeError: when the channels do not split into ``num_groups``.
        """
        shape = single_input(self.key, inputs)
        channels, groups = shape[0], params["num_groups"]
        if channels % groups:
            raise ShapeError(f"{channels} channels are not divisible by "
                             f"num_groups {groups}", (0,))
        total = 2 * channels if params["affine"] else 0
        return Inference(shape, total, formulas=_affine_formula((2, channels), total))

    def label(self, params: Params) -> str:
        """``8 groups``."""
        return f"{params['num_groups']} groups"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.GroupNorm`` with ``num_channels`` taken from the input."""
        return torch_nn().GroupNorm(params["num_groups"], inputs[0][0], eps=params["eps"],
                                    affine=params["affine"])


@dataclass(frozen=True)
class LocalResponseNormSpec(BlockSpec):
    """``torch.nn.LocalResponseNorm`` across neighbouring channels (AlexNet).

    torch computes ``b = a / (k + alpha/size · Σ a²)^beta``: it divides ``alpha`` by
    ``size`` as Caffe does, whereas the AlexNet paper writes ``k + α·Σ a²``. The paper's
    α = 1e-4 is therefore ``alpha=5e-4`` here; the default 1e-4 matches Caffe's AlexNet.
    """

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Same shape; needs a channel axis and at least one more (``C×L`` or more)."""
        shape = single_input(self.key, inputs)
        min_rank(self.key, shape, 2)
        return Inference(shape)

    def label(self, params: Params) -> str:
        """``n=5``."""
        return f"n={params['size']}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.LocalResponseNorm``."""
        return torch_nn().LocalResponseNorm(params["size"], alpha=params["alpha"],
                                            beta=params["beta"], k=params["k"])


def _batchnorm(dims: int) -> BatchNormSpec:
    shapes = {1: "C or C×L", 2: "C×H×W", 3: "C×D×H×W"}[dims]
    params = (eps_param(),
              ParamSpec("momentum", "float", 0.1, 0.0, 1.0, nullable=True,
                        help="Weight of the newest batch in the running stats (empty: mean)"),
              _AFFINE,
              ParamSpec("track_running_stats", "bool", True,
                        help="Keep running mean and variance for evaluation"))
    return BatchNormSpec(key=f"batchnorm{dims}d", title=f"BatchNorm {dims}D",
                         family="Normalization", params=params, dims=dims, default_name="bn",
                         help=f"Batch normalisation of a {shapes} input, per channel")


def _layernorm() -> LayerNormSpec:
    params = (ParamSpec("normalized_dims", "int", 1, 1, 3,
                        help="How many trailing dimensions are normalised together"),
              eps_param(),
              ParamSpec("elementwise_affine", "bool", True,
                        help="Learn a scale per normalised element"),
              ParamSpec("bias", "bool", True, help="Also learn a shift (with the scale)"))
    return LayerNormSpec(key="layernorm", title="LayerNorm", family="Normalization",
                         params=params, default_name="ln",
                         help="Layer normalisation over the trailing dimensions of a sample")


def _channel_layernorm() -> ChannelLayerNormSpec:
    params = (eps_param(), ParamSpec("elementwise_affine", "bool", True,
                                     help="Learn a scale and a shift per channel"))
    return ChannelLayerNormSpec(key="layernorm2d", title="LayerNorm 2D (channels)",
                                family="Normalization", params=params, default_name="ln",
                                help="Layer normalisation over the channels at each position "
                                     "(ConvNeXt)")


def _groupnorm() -> GroupNormSpec:
    params = (ParamSpec("num_groups", "int", 8, 1, 4096,
                        help="Number of channel groups (the paper uses 32)"),
              eps_param(), _AFFINE)
    return GroupNormSpec(key="groupnorm", title="GroupNorm", family="Normalization",
                         params=params, default_name="gn",
                         help="Group normalisation: statistics over groups of channels")


def _lrn() -> LocalResponseNormSpec:
    params = (ParamSpec("size", "int", 5, 1, 64, help="Number of neighbouring channels"),
              ParamSpec("alpha", "float", 1e-4, 0.0, 10.0,
                        help="Scale (torch divides it by size, as Caffe does)"),
              ParamSpec("beta", "float", 0.75, 0.0, 10.0, help="Exponent"),
              ParamSpec("k", "float", 2.0, 0.0, 100.0, help="Additive constant"))
    return LocalResponseNormSpec(key="lrn", title="Local Response Norm",
                                 family="Normalization", params=params, default_name="lrn",
                                 help="Normalise by the activity of neighbouring channels "
                                      "(AlexNet: size 5, α 1e-4, β 0.75, k 2)")


def register(registry: BlockRegistry) -> None:
    """Register the normalisation blocks."""
    for dims in (1, 2, 3):
        registry.register(_batchnorm(dims))
    for spec in (_layernorm(), _channel_layernorm(), _groupnorm(), _lrn()):
        registry.register(spec)
