"""AlexNet (torchvision's and the 2012 paper's) and ZFNet.

Each is a ``features`` group of convolutions, ReLUs, pools (and, in the papers' forms,
local response norms), a flatten, and a ``classifier`` group of fully connected layers.
torchvision's form names the children ``0``, ``1``... as its ``nn.Sequential`` s do, so its
``state_dict`` loads with the identity key mapping; the papers' forms use the Caffe layer
names of the papers (``conv1``, ``norm1``, ``pool1``... ``fc8``).
"""

from __future__ import annotations

from typing import Any

from netbuilder.core.builder import Step, chain, group_of
from netbuilder.core.graph import Graph
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import Layer, finish, numbered, start

ALEXNET_PAPER = ("Krizhevsky, Sutskever & Hinton (2012). ImageNet classification with deep "
                 "convolutional neural networks. NeurIPS")
TORCHVISION_PAPER = ("Krizhevsky (2014). One weird trick for parallelizing convolutional "
                     "neural networks. arXiv:1404.5997")
ZFNET_PAPER = ("Zeiler & Fergus (2014). Visualizing and understanding convolutional networks. "
               "ECCV")
_SGD = dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=128)


def _conv(out_channels: int, kernel: int, stride: int = 1, padding: int = 0,
          groups: int = 1) -> dict[str, Any]:
    return dict(out_channels=out_channels, kernel_size=kernel, stride=stride,
                padding=padding, groups=groups)


def _pool(ceil_mode: bool = False) -> dict[str, Any]:
    return dict(kernel_size=3, stride=2, ceil_mode=ceil_mode)


#: LRN of both papers: size 5, k 2, β 0.75 and the paper's α = 1e-4 applied to the plain
#: sum of squares; torch divides α by the size (as Caffe), hence 5 · 1e-4.
_LRN = dict(size=5, alpha=5e-4, beta=0.75, k=2.0)

#: torchvision's ``AlexNet.features`` (64/192/384/256/256 filters, no LRN).
TORCHVISION_FEATURES: tuple[Layer, ...] = (
    ("conv2d", _conv(64, 11, stride=4, padding=2)), ("relu", {}), ("maxpool2d", _pool()),
    ("conv2d", _conv(192, 5, padding=2)), ("relu", {}), ("maxpool2d", _pool()),
    ("conv2d", _conv(384, 3, padding=1)), ("relu", {}),
    ("conv2d", _conv(256, 3, padding=1)), ("relu", {}),
    ("conv2d", _conv(256, 3, padding=1)), ("relu", {}), ("maxpool2d", _pool()),
)


def torchvision_classifier(num_classes: int) -> tuple[Layer, ...]:
    """torchvision's ``AlexNet.classifier``: dropout before each hidden linear layer."""
    return (
        ("dropout", dict(p=0.5)), ("linear", dict(out_features=4096)), ("relu", {}),
        ("dropout", dict(p=0.5)), ("linear", dict(out_features=4096)), ("relu", {}),
        ("linear", dict(out_features=num_classes)),
    )


def paper_features(groups: int) -> list[Step]:
    """The 2012 paper's five convolutions; ``groups=2`` keeps its two-GPU split."""
    return [
        ("conv2d", "conv1", _conv(96, 11, stride=4)), ("relu", "relu1", {}),
        ("lrn", "norm1", _LRN), ("maxpool2d", "pool1", _pool()),
        ("conv2d", "conv2", _conv(256, 5, padding=2, groups=groups)), ("relu", "relu2", {}),
        ("lrn", "norm2", _LRN), ("maxpool2d", "pool2", _pool()),
        ("conv2d", "conv3", _conv(384, 3, padding=1)), ("relu", "relu3", {}),
        ("conv2d", "conv4", _conv(384, 3, padding=1, groups=groups)), ("relu", "relu4", {}),
        ("conv2d", "conv5", _conv(256, 3, padding=1, groups=groups)), ("relu", "relu5", {}),
        ("maxpool2d", "pool5", _pool()),
    ]


def zfnet_features() -> list[Step]:
    """ZFNet's convolutions (Fig. 3): 7×7 stride-2 first layer, pooling before LRN."""
    return [
        ("conv2d", "conv1", _conv(96, 7, stride=2, padding=1)), ("relu", "relu1", {}),
        ("maxpool2d", "pool1", _pool(ceil_mode=True)), ("lrn", "norm1", _LRN),
        ("conv2d", "conv2", _conv(256, 5, stride=2)), ("relu", "relu2", {}),
        ("maxpool2d", "pool2", _pool(ceil_mode=True)), ("lrn", "norm2", _LRN),
        ("conv2d", "conv3", _conv(384, 3, padding=1)), ("relu", "relu3", {}),
        ("conv2d", "conv4", _conv(384, 3, padding=1)), ("relu", "relu4", {}),
        ("conv2d", "conv5", _conv(256, 3, padding=1)), ("relu", "relu5", {}),
        ("maxpool2d", "pool5", _pool(ceil_mode=True)),
    ]


def paper_classifier(num_classes: int) -> list[Step]:
    """fc6 and fc7 (4096, ReLU, dropout 0.5) and fc8, in the papers' (Caffe's) order."""
    return [
        ("linear", "fc6", dict(out_features=4096)), ("relu", "relu6", {}),
        ("dropout", "drop6", dict(p=0.5)),
        ("linear", "fc7", dict(out_features=4096)), ("relu", "relu7", {}),
        ("dropout", "drop7", dict(p=0.5)),
        ("linear", "fc8", dict(out_features=num_classes)),
    ]


def _assemble(input_shape: Shape, features: list[Step], head: list[Step],
              avgpool: int | None) -> Graph:
    graph, x = start(input_shape)
    last = group_of(graph, x, "features", features)
    if avgpool is not None:
        last = graph.add("adaptive_avgpool2d", "avgpool", after=last, output_size=avgpool)
    last = chain(graph, last, [("flatten", "flatten", {})])
    return finish(graph, group_of(graph, last, "classifier", head),
                  expanded=("features", "classifier"))


@register_template(
    name="alexnet", title="AlexNet (torchvision)", family="AlexNet",
    input_shape=(3, 224, 224), num_classes=1000, paper=TORCHVISION_PAPER,
    torchvision="alexnet", training=dict(_SGD, epochs=90))
def alexnet(*, input_shape: Shape, num_classes: int) -> Graph:
    """AlexNet as torchvision defines it: 61,100,840 parameters at 3×224×224.

    This is the single-GPU variant of Krizhevsky's "one weird trick" paper, not the 2012
    network: 64/192/384/256/256 filters instead of 96/256/384/384/256, no local response
    normalisation, no grouped convolutions, dropout *before* each hidden linear layer,
    and an adaptive 6×6 average pool so that any input size reaches the classifier.
    """
    return _assemble(input_shape, numbered(TORCHVISION_FEATURES),
                     numbered(torchvision_classifier(num_classes)), avgpool=6)


@register_template(
    name="alexnet-paper", title="AlexNet (2012 paper)", family="AlexNet",
    input_shape=(3, 227, 227), num_classes=1000, paper=ALEXNET_PAPER,
    training=dict(_SGD, epochs=90, init={"scheme": "normal", "std": 0.01}))
def alexnet_paper(*, input_shape: Shape, num_classes: int, grouped: bool = True) -> Graph:
    """AlexNet as in the 2012 paper: 96/256/384/384/256 filters, LRN, dropout.

    Local response normalisation (size 5, k 2, α 1e-4, β 0.75) follows the first two
    convolutions, overlapping 3×3 stride-2 max pools follow both norms and conv5, and
    fc6/fc7 are followed by dropout 0.5. With ``grouped`` (the default), conv2, conv4 and
    conv5 see only the half of the maps "on their GPU" (``groups=2``), as in the paper:
    60,965,224 parameters, as Caffe's reference model. The default input is 227×227, the
    size the layer arithmetic needs; the paper's text says 224.
    """
    features = paper_features(2 if grouped else 1)
    return _assemble(input_shape, features, paper_classifier(num_classes), avgpool=None)


@register_template(
    name="zfnet", title="ZFNet", family="AlexNet", input_shape=(3, 224, 224),
    num_classes=1000, paper=ZFNET_PAPER,
    training=dict(_SGD, epochs=70, init={"scheme": "normal", "std": 0.01}))
def zfnet(*, input_shape: Shape, num_classes: int) -> Graph:
    """ZFNet (Zeiler & Fergus): AlexNet with a 7×7 stride-2 first layer, trained densely.

    Layer sizes follow Fig. 3 of the paper: 96 7×7 filters at stride 2 (110×110), 3×3
    stride-2 max pooling (55×55) and contrast normalisation, 256 5×5 filters at stride 2
    (26×26), pooling (13×13), 384, 384 and 256 3×3 filters, pooling (6×6), two 4096-unit
    layers with dropout 0.5 and the classifier. Pools round up (Caffe's convention), which
    reproduces the paper's 55 and 13; convolutions are dense (no two-GPU split).
    """
    return _assemble(input_shape, zfnet_features(), paper_classifier(num_classes), avgpool=None)
