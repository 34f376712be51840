"""Helpers shared by the composite blocks of :mod:`netbuilder.blocks.composite`.

A composite block's body is an ordinary :class:`~netbuilder.core.graph.Graph` with one
``group_input`` node ``x`` and one ``group_output`` node ``out``, built with
:mod:`netbuilder.core.builder` (the language the templates use too): nodes stand in
*columns* (branches side by side) and, once a body is complete, every node gets a row from
its depth, so that a body drawn expanded reads top to bottom.

Node names become ``torch.nn`` module names, so the helpers take names explicitly: the
composite blocks name their nodes exactly as torchvision names its submodules, which lets
torchvision ``state_dict`` s load with an identity key mapping.
"""

from __future__ import annotations

from collections.abc import Sequence

from netbuilder.blocks.params import float_param, int_param
from netbuilder.core.builder import COLUMN, Step, add, arrange_rows, fill_body, group_of
from netbuilder.core.graph import Graph, Node
from netbuilder.core.spec import (
    BlockSpec,
    Inference,
    Params,
    ParamSpec,
    Shape,
)

#: Palette family of every composite block.
FAMILY = "Composite"
#: Column of a residual branch; its shortcut goes in column ``-BRANCH`` and the input,
#: the sum and the output in column 0, so an identity shortcut's wire crosses no node.
BRANCH = -0.5
#: Shortcut kinds of the residual blocks.
SHORTCUTS = ("identity", "projection", "pad")

#: An int or one int per spatial dimension (``kernel_size``, ``stride``).
Ints = int | tuple[int, ...]
#: A padding: ``Ints`` or ``"same"``/``"valid"``.
Padding = Ints | str


class CompositeSpec(BlockSpec):
    """A block whose nodes are groups with a generated body.

    Subclasses implement :meth:`fill`; :meth:`body` wraps it with the group's ports and
    lays the result out. Shapes, parameters and costs of a composite come from its body
    (the analysis flows through it), so :meth:`infer` is not available.
    """

    @property
    def is_composite(self) -> bool:
        """Always ``True``: nodes of this block are groups."""
        return True

    def body(self, params: Params) -> Graph:
        """A fresh body for ``params``: input ``x`` → the block's layers → output ``out``."""
        body = fill_body(Graph(), lambda graph, x: self.fill(graph, x, params))
        arrange_rows(body)
        return body

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the layers of the block fed by ``x`` to ``graph``; return the last one."""
        raise NotImplementedError

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Not used: the analysis flows shapes through the body of a composite."""
        raise NotImplementedError(f"{self.key} is a group: analyse its body instead")


# -- parameters --------------------------------------------------------------------------
def residual_params(channels: ParamSpec) -> tuple[ParamSpec, ...]:
    """The parameters residual blocks share, after their channel parameter."""
    return (
        channels,
        int_param("stride", 1, "Stride of the downsampling 3×3 convolution and of the shortcut"),
        int_param("groups", 1, "Convolution groups (cardinality; ResNeXt uses 32)"),
        int_param("base_width", 64, "Width per group (64 in ResNet, 128 in Wide ResNet-50-2)"),
        ParamSpec("shortcut", "choice", "identity", choices=SHORTCUTS,
                  help="identity; projection: 1×1 conv + BN (option B); "
                       "pad: zero channel padding (option A)"),
        float_param("stochastic_depth_prob", 0.0,
                    "Probability of dropping the residual branch per sample in training"),
    )


# -- steps ----------------------------------------------------------------------------------
def conv_bn_steps(out_channels: int, kernel_size: Ints, *, stride: Ints = 1,
                  padding: Padding = 0, groups: int = 1, bias: bool = False,
                  conv: str = "conv", bn: str = "bn", eps: float = 1e-5) -> list[Step]:
    """Steps of a convolution (bias-free unless ``bias``) followed by batch normalisation."""
    return [
        ("conv2d", conv, dict(out_channels=out_channels, kernel_size=kernel_size,
                              stride=stride, padding=padding, groups=groups, bias=bias)),
        ("batchnorm2d", bn, dict(eps=eps)),
    ]


def bn_relu_conv_steps(suffix: str, out_channels: int, kernel_size: int, padding: int = 0,
                       norm: str = "norm") -> list[Step]:
    """Steps of DenseNet's pre-activation unit: BN → ReLU → bias-free convolution."""
    return [
        ("batchnorm2d", f"{norm}{suffix}", {}),
        ("relu", f"relu{suffix}", {}),
        ("conv2d", f"conv{suffix}", dict(out_channels=out_channels, kernel_size=kernel_size,
                                          padding=padding, bias=False)),
    ]


# -- shared residual structure ---------------------------------------------------------------
def shortcut(graph: Graph, x: Node, kind: str, out_channels: int, stride: int) -> Node:
    """The shortcut of a residual block, as torchvision names it; ``x`` itself if identity.

    ``projection`` is torchvision's ``downsample``: a group with a bias-free 1×1
    convolution ``0`` and a batch norm ``1`` (keys ``downsample.0.weight``...). ``pad``
    is a parameter-free ``channel_pad`` named ``shortcut`` (option A of the ResNet paper,
    used by the CIFAR ResNets).
    """
    if kind == "projection":
        steps = conv_bn_steps(out_channels, 1, stride=stride, conv="0", bn="1")
        return group_of(graph, x, "downsample", steps, column=-BRANCH)
    if kind == "pad":
        return add(graph, "channel_pad", "shortcut", x, column=-BRANCH,
                   out_channels=out_channels, stride=stride)
    return x


def residual_join(graph: Graph, branch: Node, skip: Node, relu: str, drop_prob: float) -> Node:
    """``relu(stochastic_depth(branch) + skip)``: the end of every residual block.

    The ``add`` takes the residual branch first and the shortcut second.
    """
    if drop_prob > 0:
        branch = add(graph, "stochastic_depth", "sd", branch, column=branch.pos[0] / COLUMN,
                     p=drop_prob, mode="row")
    total = add(graph, "add", "add", branch, skip)
    return add(graph, "relu", relu, total)
