"""LeNet-5 (LeCun et al. 1998), in the course's form and in the paper's 32×32 form.

Neither is in torchvision. Both are small enough to stay flat: no groups.

Suggested training: Adam, learning rate 3e-3, batches of 32, 10 epochs, which reaches
96–98 % validation accuracy on scikit-learn's 8×8 digits resized to the input. (d2l's
SGD at 0.9 with batches of 256 suits Fashion-MNIST's 60,000 images, not small sets.)
"""

from __future__ import annotations

from netbuilder.core.builder import Step, chain
from netbuilder.core.graph import Graph
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import finish, start

PAPER = ("LeCun, Bottou, Bengio & Haffner (1998). Gradient-based learning applied to "
         "document recognition. Proc. IEEE 86(11)")


def _conv(name: str, out_channels: int, padding: int = 0) -> Step:
    return ("conv2d", name, dict(out_channels=out_channels, kernel_size=5, padding=padding))


def _pool(name: str) -> Step:
    return ("avgpool2d", name, dict(kernel_size=2, stride=2))


def d2l_layers(num_classes: int) -> list[Step]:
    """The layers of d2l's LeNet (§7.6): sigmoid activations and average pooling."""
    return [
        _conv("conv1", 6, padding=2), ("sigmoid", "sigmoid1", {}), _pool("pool1"),
        _conv("conv2", 16), ("sigmoid", "sigmoid2", {}), _pool("pool2"),
        ("flatten", "flatten", {}),
        ("linear", "fc1", dict(out_features=120)), ("sigmoid", "sigmoid3", {}),
        ("linear", "fc2", dict(out_features=84)), ("sigmoid", "sigmoid4", {}),
        ("linear", "fc3", dict(out_features=num_classes)),
    ]


def classic_layers(num_classes: int) -> list[Step]:
    """The layers of LeNet-5 as in Fig. 2 of the paper, named after it (C1, S2, ... F6)."""
    return [
        _conv("c1", 6), ("tanh", "tanh1", {}), _pool("s2"),
        _conv("c3", 16), ("tanh", "tanh3", {}), _pool("s4"),
        _conv("c5", 120), ("tanh", "tanh5", {}),
        ("flatten", "flatten", {}),
        ("linear", "f6", dict(out_features=84)), ("tanh", "tanh6", {}),
        ("linear", "f7", dict(out_features=num_classes)),
    ]


@register_template(
    name="lenet5", title="LeNet-5 (d2l)", family="LeNet", input_shape=(1, 28, 28),
    num_classes=10, paper=PAPER,
    training=dict(optimizer="adam", lr=3e-3, batch_size=32, epochs=10, init="xavier"))
def lenet5(*, input_shape: Shape, num_classes: int) -> Graph:
    """LeNet-5 as taught in Dive into Deep Learning: 28×28 input, sigmoid, average pooling.

    The first convolution pads by 2 so that a 28×28 image gives the paper's 6×28×28 C1
    maps; the rest has LeNet-5's shapes (6×14×14, 16×10×10, 16×5×5, 120, 84, classes).
    Departures from the paper as in the course: C3 is fully connected to S2, pooling is
    plain averaging, activations are sigmoids and the output is a linear layer.
    """
    graph, x = start(input_shape)
    return finish(graph, chain(graph, x, d2l_layers(num_classes)))


@register_template(
    name="lenet5-classic", title="LeNet-5 (1998, 32×32)", family="LeNet",
    input_shape=(1, 32, 32), num_classes=10, paper=PAPER,
    training=dict(optimizer="adam", lr=3e-3, batch_size=32, epochs=10))
def lenet5_classic(*, input_shape: Shape, num_classes: int) -> Graph:
    """LeNet-5 as in the paper: 32×32 input, C1-S2-C3-S4-C5 convolutions, F6 and output.

    Layer shapes follow Fig. 2: C1 6×28×28, S2 6×14×14, C3 16×10×10, S4 16×5×5,
    C5 120×1×1, F6 84, output 10 (61,706 parameters). Departures from the paper: C3 sees
    all six S2 maps (the paper's connection table leaves 60 of 96 links), S2/S4 average
    without their trainable coefficient and bias, the activation is plain ``tanh`` instead
    of 1.7159·tanh(2a/3), and the output layer is linear instead of Euclidean RBF units.
    """
    graph, x = start(input_shape)
    return finish(graph, chain(graph, x, classic_layers(num_classes)))
