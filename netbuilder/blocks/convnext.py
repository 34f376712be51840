"""ConvNeXt's blocks: the ``layer_scale`` primitive and the ``convnext_block`` composite.

* ``layer_scale`` — a learnable scale γ per feature along one dimension of each sample
  (CaiT's LayerScale, Touvron et al. 2021), started at a small value so that a residual
  branch begins close to zero. Its parameter ``gamma`` has the shape that broadcasts
  along that dimension: 96×1×1 for the channels of a 96×H×W image.
* ``convnext_block`` — torchvision's ``models.convnext.CNBlock`` (Liu et al. 2022), an
  editable group: a depthwise 7×7 convolution, a layer norm and an inverted MLP
  (C → 4C → C with GELU) computed channels-last, layer scale, stochastic depth and the
  shortcut.

The block's body names its nodes as torchvision names ``CNBlock``'s submodules: a group
``block`` holding ``0`` … ``6`` (``block.0.weight`` is the depthwise convolution's),
``layer_scale`` and ``stochastic_depth``. torchvision keeps the layer scale as a bare
parameter of the block (key ``layer_scale``, shape C×1×1); here it is the parameter
:data:`LAYER_SCALE_PARAM` of the ``layer_scale`` node (key ``layer_scale.gamma``, same
shape), which :mod:`netbuilder.templates.mapping` renames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks._composite_util import BRANCH, FAMILY, CompositeSpec
from netbuilder.blocks.formatting import describe, fmt_int, fmt_num, times
from netbuilder.blocks.params import float_param, int_param
from netbuilder.blocks.shape_checks import batch_dim, single_input
from netbuilder.core.builder import add, chain, group_of
from netbuilder.core.graph import Graph, Node
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import BlockSpec, Inference, Params, ParamSpec, Shape

#: Name of the ``layer_scale`` module's parameter (torchvision's ConvNeXt has it bare).
LAYER_SCALE_PARAM = "gamma"
#: ConvNeXt's layer norm epsilon.
CONVNEXT_EPS = 1e-6


# -- layer scale --------------------------------------------------------------------------------
def scale_shape(shape: Shape, index: int) -> Shape:
    """Shape of γ scaling dimension ``index`` (0-based, no batch) of a sample of ``shape``."""
    return (shape[index], *(1,) * (len(shape) - 1 - index))


@dataclass(frozen=True)
class LayerScaleSpec(BlockSpec):
    """A learnable scale per feature along ``dim`` (counted with the batch, as in torch)."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The input shape; one parameter per feature along ``dim``, no MACs.

        Raises:
            ShapeError: when ``dim`` is out of range or names the batch dimension.
        """
        shape = single_input(self.key, inputs)
        gamma = scale_shape(shape, batch_dim(params["dim"], len(shape)))
        formula = f"params: γ of {times(gamma)} = {fmt_int(gamma[0])}"
        return Inference(shape, gamma[0], formulas=(formula, f"out = x·γ, {describe(shape)}"))

    def label(self, params: Params) -> str:
        """The initial value: ``γ=1e-06``."""
        return f"γ={fmt_num(params['init_value'])}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """A :class:`~netbuilder.blocks.convnext_modules.LayerScale` for the input's rank."""
        import torch

        from netbuilder.blocks.convnext_modules import LayerScale

        batched, dim = (1, *inputs[0]), int(params["dim"])
        # torch itself refuses a dimension out of range
        features = torch.empty(batched, device="meta").size(dim)
        index = dim % len(batched)
        return LayerScale(features, len(batched) - 1 - index, params["init_value"])


LAYER_SCALE = LayerScaleSpec(
    key="layer_scale", title="Layer Scale", family="Normalization", default_name="layer_scale",
    help="A learnable scale per channel, started small (CaiT, Touvron et al. 2021; ConvNeXt)",
    params=(
        ParamSpec("dim", "int", 1, -5, 4,
                  help="Dimension scaled, counting the batch (1: channels; -1: the last)"),
        float_param("init_value", 1e-6, "Initial value of every γ (1e-6 in ConvNeXt)",
                    maximum=10.0),
    ),
)


# -- the ConvNeXt block -------------------------------------------------------------------------
class ConvNeXtBlock(CompositeSpec):
    """torchvision's ``CNBlock``: ``x + stochastic_depth(layer_scale(block(x)))``.

    ``block`` (a group, as torchvision's ``nn.Sequential``): ``0`` depthwise 7×7
    convolution (padding 3, ``groups = channels``, with bias) → ``1`` permute to
    H×W×C → ``2`` layer norm over the channels (eps 1e-6) → ``3`` linear C → 4C → ``4``
    GELU → ``5`` linear 4C → C → ``6`` permute back to C×H×W. Then ``layer_scale`` (γ
    of C×1×1), ``stochastic_depth`` (``row`` mode: a whole sample's branch is dropped)
    and ``add`` (the branch first, the input second). ``channels`` must equal the input's.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the branch fed by ``x`` and its sum with ``x``."""
        channels = params["channels"]
        block = group_of(graph, x, "block", [
            ("conv2d", "0", dict(out_channels=channels, kernel_size=7, padding=3,
                                 groups=channels)),
            ("permute", "1", dict(dims="1, 2, 0")),
            ("layernorm", "2", dict(eps=CONVNEXT_EPS)),
            ("linear", "3", dict(out_features=4 * channels)),
            ("gelu", "4", {}),
            ("linear", "5", dict(out_features=channels)),
            ("permute", "6", dict(dims="2, 0, 1")),
        ], column=BRANCH)
        branch = chain(graph, block, [
            ("layer_scale", "layer_scale", dict(dim=1, init_value=params["layer_scale"])),
            ("stochastic_depth", "stochastic_depth",
             dict(p=params["stochastic_depth_prob"], mode="row")),
        ], column=BRANCH)
        return add(graph, "add", "add", branch, x)

    def label(self, params: Params) -> str:
        """E.g. ``96→384→96, sd 0.05``."""
        channels, drop = params["channels"], params["stochastic_depth_prob"]
        sd = f", sd {drop:g}" if drop > 0 else ""
        return f"{channels}→{4 * channels}→{channels}{sd}"


CONVNEXT_BLOCK = ConvNeXtBlock(
    key="convnext_block", title="ConvNeXt Block", family=FAMILY, default_name="block",
    help="Depthwise 7×7 conv, layer norm, a 4× MLP with GELU, layer scale and a shortcut "
         "(ConvNeXt, Liu et al. 2022)",
    params=(
        int_param("channels", 64, "Channels of the input (and of the output)"),
        float_param("layer_scale", 1e-6, "Initial value of the layer scale γ",
                    maximum=10.0),
        float_param("stochastic_depth_prob", 0.0,
                    "Probability of dropping the branch per sample in training"),
    ),
)

#: The blocks of this module, in palette order.
SPECS: tuple[BlockSpec, ...] = (LAYER_SCALE, CONVNEXT_BLOCK)


def register(registry: BlockRegistry) -> None:
    """Register ``layer_scale`` and ``convnext_block``."""
    for spec in SPECS:
        registry.register(spec)
