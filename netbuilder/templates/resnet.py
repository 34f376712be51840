"""ResNets: torchvision's ImageNet family, Wide ResNet, ResNeXt, and the CIFAR ResNets.

The architecture is data (timm style): a :class:`ResNetSpec` gives the block type, the
blocks per stage, the stage widths, the stem and the shortcut kind. Every network is a
stem (``conv1``, ``bn1``, ``relu``, ``maxpool``), stage groups ``layer1`` … ``layerN``
holding residual block groups ``0``, ``1`` … (``basic_block`` or ``bottleneck``), and a
head (``avgpool``, ``flatten``, ``fc``): exactly torchvision's module names, so the
``state_dict`` maps with the identity.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from netbuilder.core.builder import Step, chain, group
from netbuilder.core.graph import Graph, Node
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import finish, start

RESNET_PAPER = ("He, Zhang, Ren & Sun (2016). Deep residual learning for image recognition. "
                "CVPR")
WIDE_PAPER = "Zagoruyko & Komodakis (2016). Wide residual networks. BMVC"
RESNEXT_PAPER = ("Xie, Girshick, Dollár, Tu & He (2017). Aggregated residual transformations "
                 "for deep neural networks. CVPR")
_IMAGENET_SGD = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4,
                     batch_size=256, epochs=90, init="kaiming")
_CIFAR_SGD = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=128,
                  epochs=182, init="kaiming")


@dataclass(frozen=True)
class ResNetSpec:
    """The shape of a ResNet.

    Attributes:
        block: ``basic_block`` (two 3×3 convolutions) or ``bottleneck`` (1×1, 3×3, 1×1).
        layers: Residual blocks per stage.
        widths: Planes per stage (a bottleneck outputs ``expansion`` times as many).
        groups: Groups of the bottleneck's 3×3 convolution (ResNeXt cardinality).
        base_width: Width per group (64; 128 in Wide ResNet-50-2; 4 in ResNeXt 32×4d).
        stem: ``imagenet`` (7×7/2 convolution and 3×3/2 max pool) or ``cifar`` (one 3×3
            convolution, no pooling).
        shortcut: Where a block changes shape, ``projection`` (1×1 convolution + BN,
            option B) or ``pad`` (subsampling and zero channels, option A, no parameters).
    """

    block: str
    layers: tuple[int, ...]
    widths: tuple[int, ...] = (64, 128, 256, 512)
    groups: int = 1
    base_width: int = 64
    stem: str = "imagenet"
    shortcut: str = "projection"

    @property
    def expansion(self) -> int:
        """Output channels of a block per plane: 1 (basic) or 4 (bottleneck)."""
        return 4 if self.block == "bottleneck" else 1


SPECS: dict[str, ResNetSpec] = {
    "resnet18": ResNetSpec("basic_block", (2, 2, 2, 2)),
    "resnet34": ResNetSpec("basic_block", (3, 4, 6, 3)),
    "resnet50": ResNetSpec("bottleneck", (3, 4, 6, 3)),
    "resnet101": ResNetSpec("bottleneck", (3, 4, 23, 3)),
    "resnet152": ResNetSpec("bottleneck", (3, 8, 36, 3)),
    "wide_resnet50_2": ResNetSpec("bottleneck", (3, 4, 6, 3), base_width=128),
    "resnext50_32x4d": ResNetSpec("bottleneck", (3, 4, 6, 3), groups=32, base_width=4),
    "resnet20": ResNetSpec("basic_block", (3, 3, 3), (16, 32, 64), stem="cifar",
                           shortcut="pad"),
    "resnet56": ResNetSpec("basic_block", (9, 9, 9), (16, 32, 64), stem="cifar",
                           shortcut="pad"),
    "resnet18-cifar": ResNetSpec("basic_block", (2, 2, 2, 2), stem="cifar"),
}


def stem(spec: ResNetSpec) -> list[Step]:
    """``conv1`` → ``bn1`` → ``relu`` (→ ``maxpool``)."""
    if spec.stem == "cifar":
        conv = dict(out_channels=spec.widths[0], kernel_size=3, padding=1, bias=False)
        pool: list[Step] = []
    else:
        conv = dict(out_channels=spec.widths[0], kernel_size=7, stride=2, padding=3,
                    bias=False)
        pool = [("maxpool2d", "maxpool", dict(kernel_size=3, stride=2, padding=1))]
    return [("conv2d", "conv1", conv), ("batchnorm2d", "bn1", {}), ("relu", "relu", {}),
            *pool]


def block_params(spec: ResNetSpec, planes: int, stride: int, in_channels: int,
                 drop_prob: float) -> dict[str, Any]:
    """Parameters of one residual block; a shortcut only where the shape changes."""
    changes = stride != 1 or in_channels != planes * spec.expansion
    params: dict[str, Any] = dict(stride=stride, shortcut=spec.shortcut if changes else
                                  "identity", stochastic_depth_prob=drop_prob)
    if spec.block == "bottleneck":
        params.update(planes=planes, groups=spec.groups, base_width=spec.base_width)
    else:
        params.update(out_channels=planes)
    return params


def stage(body: Graph, x: Node, spec: ResNetSpec, index: int, in_channels: int,
          drop_prob: float) -> Node:
    """Blocks ``0`` … ``n-1`` of stage ``index`` (the first strides by 2 after stage 0)."""
    planes, last = spec.widths[index], x
    for i in range(spec.layers[index]):
        stride = 2 if index > 0 and i == 0 else 1
        params = block_params(spec, planes, stride, in_channels, drop_prob)
        last = body.add(spec.block, str(i), after=last, **params)
        in_channels = planes * spec.expansion
    return last


def resnet(spec: ResNetSpec, *, input_shape: Shape, num_classes: int,
           stochastic_depth_prob: float = 0.0) -> Graph:
    """The graph of ``spec``.

    Args:
        spec: The network's shape.
        input_shape: Input C×H×W.
        num_classes: Outputs of ``fc``.
        stochastic_depth_prob: Probability of dropping each residual branch in training
            (Huang et al. 2016; 0 = off, as torchvision).
    """
    graph, x = start(input_shape)
    last = chain(graph, x, stem(spec))
    channels = spec.widths[0]
    for index in range(len(spec.layers)):
        fill = functools.partial(stage, spec=spec, index=index, in_channels=channels,
                                 drop_prob=stochastic_depth_prob)
        last = group(graph, last, f"layer{index + 1}", fill)
        channels = spec.widths[index] * spec.expansion
    last = chain(graph, last, [
        ("adaptive_avgpool2d", "avgpool", dict(output_size=1)), ("flatten", "flatten", {}),
        ("linear", "fc", dict(out_features=num_classes))])
    return finish(graph, last, expanded=("layer*",))


def _builder(name: str, doc: str) -> Any:
    spec = SPECS[name]

    def build(*, input_shape: Shape, num_classes: int,
              stochastic_depth_prob: float = 0.0) -> Graph:
        return resnet(spec, input_shape=input_shape, num_classes=num_classes,
                      stochastic_depth_prob=stochastic_depth_prob)

    build.__name__ = build.__qualname__ = name.replace("-", "_")
    build.__doc__ = doc
    return build


_V15 = ("As torchvision (ResNet v1.5), a downsampling bottleneck strides in its 3×3 "
        "convolution, not in the first 1×1 as in the paper; shortcuts that change shape are "
        "1×1 projections (option B).")
_IMAGENET: tuple[tuple[str, str, str, str], ...] = (
    ("resnet18", "ResNet-18", RESNET_PAPER,
     "ResNet-18: basic blocks [2, 2, 2, 2], 11,689,512 parameters at 1000 classes."),
    ("resnet34", "ResNet-34", RESNET_PAPER,
     "ResNet-34: basic blocks [3, 4, 6, 3], 21,797,672 parameters at 1000 classes."),
    ("resnet50", "ResNet-50", RESNET_PAPER,
     "ResNet-50: bottlenecks [3, 4, 6, 3], 25,557,032 parameters at 1000 classes.\n\n"
     + _V15),
    ("resnet101", "ResNet-101", RESNET_PAPER,
     "ResNet-101: bottlenecks [3, 4, 23, 3], 44,549,160 parameters.\n\n" + _V15),
    ("resnet152", "ResNet-152", RESNET_PAPER,
     "ResNet-152: bottlenecks [3, 8, 36, 3], 60,192,808 parameters.\n\n" + _V15),
    ("wide_resnet50_2", "Wide ResNet-50-2", WIDE_PAPER,
     "Wide ResNet-50-2: ResNet-50 with bottlenecks twice as wide inside (base width 128), "
     "68,883,240 parameters.\n\ntorchvision's form of the paper's idea on ImageNet "
     "bottlenecks; the paper's WRN-d-k networks are pre-activation CIFAR networks."),
    ("resnext50_32x4d", "ResNeXt-50 32×4d", RESNEXT_PAPER,
     "ResNeXt-50 32×4d: ResNet-50 whose 3×3 convolutions have 32 groups of 4 channels per "
     "plane, 25,028,904 parameters.\n\n" + _V15),
)
for _name, _title, _paper, _doc in _IMAGENET:
    register_template(name=_name, title=_title, family="ResNet", input_shape=(3, 224, 224),
                      num_classes=1000, paper=_paper, torchvision=_name,
                      training=_IMAGENET_SGD)(_builder(_name, _doc))

_OPTION_A = ("The CIFAR-10 ResNet of §4.2 of the paper: a 3×3 convolution of 16 channels, "
             "three stages of {n} basic blocks with 16, 32 and 64 channels on 32×32, 16×16 "
             "and 8×8 maps, global average pooling and a linear layer ({params} parameters "
             "at 10 classes).\n\nShortcuts that change shape subsample by 2 and pad the "
             "channels with zeros (option A): no parameters.")
register_template(
    name="resnet20", title="ResNet-20 (CIFAR)", family="ResNet", input_shape=(3, 32, 32),
    num_classes=10, paper=RESNET_PAPER, training=_CIFAR_SGD,
)(_builder("resnet20", _OPTION_A.format(n=3, params="0.27M")))
register_template(
    name="resnet56", title="ResNet-56 (CIFAR)", family="ResNet", input_shape=(3, 32, 32),
    num_classes=10, paper=RESNET_PAPER, training=_CIFAR_SGD,
)(_builder("resnet56", _OPTION_A.format(n=9, params="0.85M")))
register_template(
    name="resnet18-cifar", title="ResNet-18 for 32×32 images", family="ResNet",
    input_shape=(3, 32, 32), num_classes=10, paper=RESNET_PAPER,
    training=dict(_CIFAR_SGD, lr=0.1, weight_decay=5e-4, epochs=200),
)(_builder("resnet18-cifar",
           "ResNet-18 adapted to 32×32 images: a 3×3 stride-1 first convolution and no max "
           "pool, so the four stages work on 32, 16, 8 and 4 pixel maps.\n\nThe common "
           "CIFAR adaptation (not in the paper, which uses the thinner ResNet-20…110 "
           "there); otherwise torchvision's ResNet-18 with projection shortcuts."))
