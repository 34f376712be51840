"""MobileNetV2 and MobileNetV3-Large as torchvision's ``mobilenet_v2`` and ``mobilenet_v3_large``.

The architecture is data (timm style): a table of inverted-residual settings, one row per
block for MobileNetV3 (the paper's Table 1) and one per stage for MobileNetV2 (``t, c, n,
s`` of the paper's Table 2). ``features`` is a group holding the stem ``0`` (a
``conv_bn_act``), the ``mbconv`` groups ``1`` … and the last 1×1 ``conv_bn_act``; then
``avgpool``, ``flatten`` and the ``classifier`` group. These are torchvision's names, so
the ``state_dict`` maps with the identity. ``features`` and ``classifier`` open expanded:
the blocks show side by side, each one box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netbuilder.core.builder import Step, chain, group, group_of
from netbuilder.core.graph import Graph, Node
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import Layer, finish, numbered, start

V2_PAPER = ("Sandler, Howard, Zhu, Zhmoginov & Chen (2018). MobileNetV2: inverted residuals "
            "and linear bottlenecks. CVPR")
V3_PAPER = ("Howard, Sandler, Chu, Chen, Chen, Tan, Wang, Zhu, Pang, Vasudevan, Le & Adam "
            "(2019). Searching for MobileNetV3. ICCV")
#: MobileNetV3's batch norm (TensorFlow's defaults: eps 1e-3, momentum 0.01).
V3_NORM = dict(eps=1e-3, momentum=0.01)


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a multiple of ``divisor``, never 10 % below it (torchvision's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def head(num_classes: int, dropout: float, hidden: int | None = None) -> list[Layer]:
    """The classifier: [``Linear(hidden)``, hardswish] dropout, ``Linear(num_classes)``."""
    layers: list[Layer] = [("dropout", dict(p=dropout))]
    if hidden is not None:
        layers = [("linear", dict(out_features=hidden)), ("hardswish", {}), *layers]
    return [*layers, ("linear", dict(out_features=num_classes))]


def pooled_head(graph: Graph, last: Node, classifier: Sequence[Layer]) -> Node:
    """Global average pool, flatten and the ``classifier`` group after ``last``."""
    last = chain(graph, last, [("adaptive_avgpool2d", "avgpool", dict(output_size=1)),
                               ("flatten", "flatten", {})])
    return group_of(graph, last, "classifier", numbered(classifier))


# -- MobileNetV2 ---------------------------------------------------------------------------------
#: ``(t, c, n, s)``: expansion, output channels, blocks and first stride of each stage.
V2_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
    (6, 160, 3, 2), (6, 320, 1, 1),
)


def v2_features(body: Graph, x: Node) -> Node:
    """Stem, the 17 inverted residuals of :data:`V2_STAGES` and the 1280-channel 1×1 conv."""
    steps: list[Step] = [("conv_bn_act", "0", dict(out_channels=32, stride=2))]
    channels = 32
    for t, c, n, s in V2_STAGES:
        for i in range(n):
            steps.append(("mbconv", str(len(steps)), dict(
                in_channels=channels, out_channels=c, expand_ratio=float(t),
                stride=s if i == 0 else 1, layout="conv")))
            channels = c
    steps.append(("conv_bn_act", str(len(steps)), dict(out_channels=1280, kernel_size=1)))
    return chain(body, x, steps)


@register_template(
    name="mobilenet_v2", title="MobileNetV2", family="MobileNet", input_shape=(3, 224, 224),
    num_classes=1000, paper=V2_PAPER, torchvision="mobilenet_v2",
    training=dict(optimizer="sgd", lr=0.045, momentum=0.9, weight_decay=4e-5,
                  batch_size=256, epochs=300, init="kaiming"))
def mobilenet_v2(*, input_shape: Shape, num_classes: int, dropout: float = 0.2) -> Graph:
    """MobileNetV2: 17 inverted residuals with linear bottlenecks, 3,504,872 parameters.

    Each block expands its input 6 times with a 1×1 convolution, filters it with a 3×3
    depthwise convolution and projects it back with a linear 1×1 convolution (no ReLU6
    after it); blocks that keep the shape add their input. Width multiplier 1.0, as
    torchvision's weights; the training settings are torchvision's recipe (SGD, lr 0.045
    decayed by 0.98 per epoch there) where the paper uses RMSProp.
    """
    graph, x = start(input_shape)
    last = group(graph, x, "features", v2_features)
    last = pooled_head(graph, last, head(num_classes, dropout))
    return finish(graph, last, expanded=("features", "classifier"))


# -- MobileNetV3 ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bneck:
    """One row of Table 1 of the MobileNetV3 paper: a ``bneck`` block.

    Attributes:
        kernel: Depthwise kernel size.
        expanded: Channels inside ("exp size").
        out: Output channels ("#out").
        se: Whether the block has a squeeze-excitation.
        activation: ``relu`` ("RE") or ``hardswish`` ("HS").
        stride: Stride of the depthwise convolution.
    """

    kernel: int
    expanded: int
    out: int
    se: bool
    activation: str
    stride: int


_RE, _HS = "relu", "hardswish"
V3_LARGE: tuple[Bneck, ...] = (
    Bneck(3, 16, 16, False, _RE, 1), Bneck(3, 64, 24, False, _RE, 2),
    Bneck(3, 72, 24, False, _RE, 1), Bneck(5, 72, 40, True, _RE, 2),
    Bneck(5, 120, 40, True, _RE, 1), Bneck(5, 120, 40, True, _RE, 1),
    Bneck(3, 240, 80, False, _HS, 2), Bneck(3, 200, 80, False, _HS, 1),
    Bneck(3, 184, 80, False, _HS, 1), Bneck(3, 184, 80, False, _HS, 1),
    Bneck(3, 480, 112, True, _HS, 1), Bneck(3, 672, 112, True, _HS, 1),
    Bneck(5, 672, 160, True, _HS, 2), Bneck(5, 960, 160, True, _HS, 1),
    Bneck(5, 960, 160, True, _HS, 1),
)


def bneck_params(row: Bneck, in_channels: int) -> dict[str, object]:
    """``mbconv`` parameters of a row: SE squeezing to a quarter, gated by a hard sigmoid."""
    squeeze = make_divisible(row.expanded // 4) if row.se else 0
    return dict(in_channels=in_channels, out_channels=row.out,
                expand_ratio=row.expanded / in_channels, kernel_size=row.kernel,
                stride=row.stride, squeeze_channels=squeeze, activation=row.activation,
                se_activation="relu", se_gate="hardsigmoid", **V3_NORM)


def v3_features(body: Graph, x: Node) -> Node:
    """Stem, the 15 ``bneck`` blocks of :data:`V3_LARGE` and the 960-channel 1×1 conv."""
    steps: list[Step] = [("conv_bn_act", "0", dict(out_channels=16, stride=2,
                                                   activation=_HS, **V3_NORM))]
    channels = 16
    for row in V3_LARGE:
        steps.append(("mbconv", str(len(steps)), bneck_params(row, channels)))
        channels = row.out
    steps.append(("conv_bn_act", str(len(steps)), dict(out_channels=6 * channels,
                                                       kernel_size=1, activation=_HS,
                                                       **V3_NORM)))
    return chain(body, x, steps)


@register_template(
    name="mobilenet_v3_large", title="MobileNetV3-Large", family="MobileNet",
    input_shape=(3, 224, 224), num_classes=1000, paper=V3_PAPER,
    torchvision="mobilenet_v3_large",
    training=dict(optimizer="rmsprop", lr=0.064, momentum=0.9, weight_decay=1e-5,
                  batch_size=1024, epochs=600, init="kaiming"))
def mobilenet_v3_large(*, input_shape: Shape, num_classes: int,
                       dropout: float = 0.2) -> Graph:
    """MobileNetV3-Large: 15 searched inverted residuals with SE and hard-swish, 5,483,032
    parameters.

    The blocks of Table 1 of the paper: ReLU in the early layers, hard-swish in the later
    ones, squeeze-excitation (gated by a hard sigmoid) in some, then a 960-channel 1×1
    convolution, global pooling and a 1280-unit hard-swish layer before the classifier.
    Batch norms use eps 1e-3 and momentum 0.01, as torchvision; the training settings are
    torchvision's recipe (RMSProp).
    """
    graph, x = start(input_shape)
    last = group(graph, x, "features", v3_features)
    last = pooled_head(graph, last, head(num_classes, dropout, hidden=1280))
    return finish(graph, last, expanded=("features", "classifier"))
