"""VGG-11/13/16/19 (configurations A, B, D, E) with and without batch norm, as torchvision.

The architecture is data: a configuration lists the convolutions per stage. ``features``
is a group of five ``vgg_block`` groups ``block1`` … ``block5`` (each 3×3 convolutions with
ReLU, optionally batch norm, and a 2×2 max pool), then ``avgpool`` (adaptive, 7×7),
``flatten`` and the ``classifier`` group ``0`` … ``6`` as torchvision's.

torchvision's ``features`` is one flat ``nn.Sequential`` (``features.0``, ``features.1``
…), so the stage groups need the documented "sequential" key rule of
:mod:`netbuilder.templates.mapping`: the k-th layer of ``features`` in execution order is
torchvision's ``features.k``.
"""

from __future__ import annotations

from netbuilder.core.builder import chain, group, group_of
from netbuilder.core.graph import Graph, Node
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import Layer, finish, numbered, start

PAPER = ("Simonyan & Zisserman (2015). Very deep convolutional networks for large-scale "
         "image recognition. ICLR")

#: Convolutions per stage of each configuration; stage widths are :data:`WIDTHS`.
CONFIGS: dict[str, tuple[int, ...]] = {
    "vgg11": (1, 1, 2, 2, 2),  # A
    "vgg13": (2, 2, 2, 2, 2),  # B
    "vgg16": (2, 2, 3, 3, 3),  # D
    "vgg19": (2, 2, 4, 4, 4),  # E
}
WIDTHS = (64, 128, 256, 512, 512)
#: The paper's recipe: SGD with momentum, weight decay 5e-4, batches of 256, 74 epochs.
TRAINING = dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=256,
                epochs=74, init="kaiming")
_TITLES = {"vgg11": "VGG-11", "vgg13": "VGG-13", "vgg16": "VGG-16", "vgg19": "VGG-19"}


def classifier(num_classes: int, dropout: float = 0.5) -> tuple[Layer, ...]:
    """torchvision's VGG classifier: two 4096-unit layers with ReLU and dropout."""
    return (
        ("linear", dict(out_features=4096)), ("relu", {}), ("dropout", dict(p=dropout)),
        ("linear", dict(out_features=4096)), ("relu", {}), ("dropout", dict(p=dropout)),
        ("linear", dict(out_features=num_classes)),
    )


def _features(body: Graph, x: Node, convs: tuple[int, ...], batch_norm: bool) -> Node:
    last = x
    for stage, (count, width) in enumerate(zip(convs, WIDTHS), start=1):
        last = body.add("vgg_block", f"block{stage}", after=last, num_convs=count,
                        out_channels=width, batch_norm=batch_norm)
    return last


def vgg(config: str, *, input_shape: Shape, num_classes: int, batch_norm: bool = False,
        dropout: float = 0.5) -> Graph:
    """The VGG network of ``config`` (``vgg11`` … ``vgg19``).

    Args:
        config: Key of :data:`CONFIGS`.
        input_shape: Input C×H×W.
        num_classes: Outputs of the last layer.
        batch_norm: Batch norm after every convolution (torchvision's ``_bn`` models).
        dropout: Dropout probability of the classifier.
    """
    convs = CONFIGS[config]
    graph, x = start(input_shape)
    last = group(graph, x, "features", lambda body, inp: _features(body, inp, convs, batch_norm))
    last = chain(graph, last, [
        ("adaptive_avgpool2d", "avgpool", dict(output_size=7)), ("flatten", "flatten", {})])
    return finish(graph, group_of(graph, last, "classifier",
                                  numbered(classifier(num_classes, dropout))),
                  expanded=("features", "features.block*", "classifier"))


_DOC = """{title}{bn} (configuration {letter} of the paper) as torchvision's ``{name}``.

{count} weight layers: {convs} 3×3 convolutions in five stages of {widths} channels, then
three fully connected layers. Departures from the paper, as torchvision: an adaptive 7×7
average pool before the classifier (so other input sizes work){bn_note}.
"""


def _register(name: str, batch_norm: bool) -> None:
    base = name.removesuffix("_bn")
    convs = CONFIGS[base]
    title = _TITLES[base] + (" BN" if batch_norm else "")

    def build(*, input_shape: Shape, num_classes: int, dropout: float = 0.5) -> Graph:
        return vgg(base, input_shape=input_shape, num_classes=num_classes,
                   batch_norm=batch_norm, dropout=dropout)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = _DOC.format(
        title=_TITLES[base], bn=" with batch norm" if batch_norm else "",
        letter="ABDE"[list(CONFIGS).index(base)], name=name, count=sum(convs) + 3,
        convs=sum(convs), widths="/".join(str(w) for w in WIDTHS),
        bn_note="; batch norm (Ioffe & Szegedy 2015) after every convolution, which keeps "
                "its bias" if batch_norm else "")
    register_template(name=name, title=title, family="VGG", input_shape=(3, 224, 224),
                      num_classes=1000, paper=PAPER, torchvision=name,
                      training=TRAINING)(build)


for _name in CONFIGS:
    _register(_name, batch_norm=False)
    _register(f"{_name}_bn", batch_norm=True)
