"""EfficientNet-B0 (Tan & Le 2019) as torchvision's ``efficientnet_b0``.

The architecture is data: the seven stages of Table 1 of the paper, each ``(expansion,
kernel, stride, channels in, channels out, blocks)``. ``features`` is a group holding the
stem ``0`` (a 3×3/2 ``conv_bn_act`` with SiLU), the stage groups ``1`` … ``7`` of ``mbconv``
blocks ``0``, ``1`` … (SE squeezing to a quarter of the block's input, SiLU, stochastic
depth growing linearly with the block's depth), and the 1280-channel 1×1 ``conv_bn_act``
``8``; then ``avgpool``, ``flatten`` and ``classifier``. These are torchvision's names, so the
``state_dict`` maps with the identity. ``features``, its stages and ``classifier`` open
expanded.
"""

from __future__ import annotations

from dataclasses import dataclass

from netbuilder.core.builder import Step, chain, group, group_of
from netbuilder.core.graph import Graph, Node
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import finish, start
from netbuilder.templates.mobilenet import head, pooled_head

PAPER = ("Tan & Le (2019). EfficientNet: rethinking model scaling for convolutional neural "
         "networks. ICML")


@dataclass(frozen=True)
class Stage:
    """One row of Table 1 of the paper: a stage of MBConv blocks.

    Attributes:
        expand_ratio: Width inside a block, in multiples of its input.
        kernel: Depthwise kernel size.
        stride: Stride of the stage's first block.
        in_channels: Channels entering the stage.
        out_channels: Channels of every block's output.
        blocks: Number of blocks.
    """

    expand_ratio: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    blocks: int


B0: tuple[Stage, ...] = (
    Stage(1, 3, 1, 32, 16, 1), Stage(6, 3, 2, 16, 24, 2), Stage(6, 5, 2, 24, 40, 2),
    Stage(6, 3, 2, 40, 80, 3), Stage(6, 5, 1, 80, 112, 3), Stage(6, 5, 2, 112, 192, 4),
    Stage(6, 3, 1, 192, 320, 1),
)


def block_params(stage: Stage, index: int, drop_prob: float) -> dict[str, object]:
    """``mbconv`` parameters of block ``index`` of ``stage`` (only the first one strides)."""
    in_channels = stage.in_channels if index == 0 else stage.out_channels
    return dict(in_channels=in_channels, out_channels=stage.out_channels,
                expand_ratio=float(stage.expand_ratio), kernel_size=stage.kernel,
                stride=stage.stride if index == 0 else 1,
                squeeze_channels=max(1, in_channels // 4), se_activation="silu",
                stochastic_depth_prob=drop_prob, activation="silu")


def features(body: Graph, x: Node, stages: tuple[Stage, ...],
             stochastic_depth_prob: float) -> Node:
    """Stem, one group of ``mbconv`` blocks per stage, and the 1×1 head convolution.

    Block ``k`` of the ``K`` blocks drops its branch with probability
    ``stochastic_depth_prob · k / K``, as torchvision.
    """
    last = chain(body, x, [("conv_bn_act", "0", dict(out_channels=stages[0].in_channels,
                                                     stride=2, activation="silu"))])
    total, done = sum(stage.blocks for stage in stages), 0
    for number, stage in enumerate(stages, start=1):
        steps: list[Step] = []
        for i in range(stage.blocks):
            prob = stochastic_depth_prob * (done + i) / total
            steps.append(("mbconv", str(i), block_params(stage, i, prob)))
        done += stage.blocks
        last = group_of(body, last, str(number), steps)
    return body.add("conv_bn_act", str(len(stages) + 1), after=last,
                    out_channels=4 * stages[-1].out_channels, kernel_size=1,
                    activation="silu")


@register_template(
    name="efficientnet_b0", title="EfficientNet-B0", family="EfficientNet",
    input_shape=(3, 224, 224), num_classes=1000, paper=PAPER, torchvision="efficientnet_b0",
    training=dict(optimizer="rmsprop", lr=0.256, momentum=0.9, weight_decay=1e-5,
                  batch_size=4096, epochs=350, init="kaiming"))
def efficientnet_b0(*, input_shape: Shape, num_classes: int, dropout: float = 0.2,
                    stochastic_depth_prob: float = 0.2) -> Graph:
    """EfficientNet-B0: seven stages of MBConv blocks with squeeze-excitation, 5,288,548
    parameters.

    The baseline network the paper found by architecture search and then scaled to B1–B7:
    16 inverted residuals (expansion 1 or 6, 3×3 or 5×5 depthwise kernels) with SiLU
    ("swish"), squeeze-excitation and stochastic depth (0.2 at the last block). The
    training settings are the paper's (RMSProp, lr 0.256 for batches of 4096).
    """
    graph, x = start(input_shape)
    last = group(graph, x, "features",
                 lambda body, inp: features(body, inp, B0, stochastic_depth_prob))
    last = pooled_head(graph, last, head(num_classes, dropout))
    return finish(graph, last, expanded=("features", "features.[1-7]", "classifier"))
