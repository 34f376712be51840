"""DenseNet-121 (Huang et al. 2017) as torchvision's ``densenet121``.

``features`` is a group holding the stem (``conv0``, ``norm0``, ``relu0``, ``pool0``),
``dense_block`` groups ``denseblock1`` … ``denseblock4`` with ``transition`` groups
``transition1`` … ``transition3`` between them, and ``norm5``; then ``relu``, ``avgpool``,
``flatten`` and ``classifier``. These are torchvision's names, so the ``state_dict``
maps with the identity (torchvision's own pre-2019 checkpoint keys such as
``norm.1`` are fixed when loading, see :mod:`netbuilder.templates.weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

from netbuilder.core.builder import Step, chain, group
from netbuilder.core.graph import Graph, Node
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import finish, start

PAPER = ("Huang, Liu, van der Maaten & Weinberger (2017). Densely connected convolutional "
         "networks. CVPR")


@dataclass(frozen=True)
class DenseNetSpec:
    """The shape of a DenseNet-BC.

    Attributes:
        block_config: Dense layers per dense block.
        growth_rate: Feature maps each dense layer adds (k).
        num_init_features: Channels of the stem convolution.
        bn_size: Width of each layer's 1×1 bottleneck, in multiples of ``growth_rate``.
        compression: Fraction of channels a transition keeps.
    """

    block_config: tuple[int, ...]
    growth_rate: int = 32
    num_init_features: int = 64
    bn_size: int = 4
    compression: float = 0.5


SPECS: dict[str, DenseNetSpec] = {
    "densenet121": DenseNetSpec((6, 12, 24, 16)),
}


def stem(spec: DenseNetSpec) -> list[Step]:
    """7×7/2 convolution, batch norm, ReLU, 3×3/2 max pool, with torchvision's names."""
    return [
        ("conv2d", "conv0", dict(out_channels=spec.num_init_features, kernel_size=7,
                                 stride=2, padding=3, bias=False)),
        ("batchnorm2d", "norm0", {}), ("relu", "relu0", {}),
        ("maxpool2d", "pool0", dict(kernel_size=3, stride=2, padding=1)),
    ]


def features(body: Graph, x: Node, spec: DenseNetSpec, drop_rate: float) -> Node:
    """Stem, dense blocks with transitions between them, and the final ``norm5``."""
    last = chain(body, x, stem(spec))
    channels = spec.num_init_features
    for i, layers in enumerate(spec.block_config, start=1):
        last = body.add("dense_block", f"denseblock{i}", after=last, num_layers=layers,
                        growth_rate=spec.growth_rate, bn_size=spec.bn_size,
                        drop_rate=drop_rate)
        channels += layers * spec.growth_rate
        if i < len(spec.block_config):
            channels = int(channels * spec.compression)
            last = body.add("transition", f"transition{i}", after=last, out_channels=channels)
    return body.add("batchnorm2d", "norm5", after=last)


@register_template(
    name="densenet121", title="DenseNet-121", family="DenseNet", input_shape=(3, 224, 224),
    num_classes=1000, paper=PAPER, torchvision="densenet121",
    training=dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=256,
                  epochs=90, init="kaiming"))
def densenet121(*, input_shape: Shape, num_classes: int, drop_rate: float = 0.0) -> Graph:
    """DenseNet-121 (DenseNet-BC, k = 32): dense blocks of 6, 12, 24 and 16 layers.

    7,978,856 parameters at 1000 classes. As in the paper's ImageNet model: bottleneck
    layers (BN-ReLU-1×1 conv to 4k maps, BN-ReLU-3×3 conv to k maps) and transitions that
    halve the channels and the resolution. The global pool is adaptive (torchvision's),
    so other input sizes work.
    """
    spec = SPECS["densenet121"]
    graph, x = start(input_shape)
    last = group(graph, x, "features", lambda body, inp: features(body, inp, spec, drop_rate))
    last = chain(graph, last, [
        ("relu", "relu", {}), ("adaptive_avgpool2d", "avgpool", dict(output_size=1)),
        ("flatten", "flatten", {}), ("linear", "classifier", dict(out_features=num_classes))])
    return finish(graph, last, expanded=("features",))
